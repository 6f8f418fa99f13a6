# ViViT-B/16x2 Model 4 (factorised dot-product attention: half of the heads attend over
# time, half over space; no class token, the head averages all tokens), otherwise the
# Model 1 recipe.
# Published: K400 top-1 76.3 at 4 clips (paper Table 2), 277.1 GFLOPs per view, 88.9M params.
# Source of the numbers: docs/peers.md (arXiv 2103.15691; github.com/google-research/scenic, projects/vivit).
_base_ = ['./vivit-base-st-p16x2_in21k-pre_8xb8-32x2x1-30e_kinetics400-rgb.py']

model = dict(backbone=dict(variant='factorised_dot_product'))
