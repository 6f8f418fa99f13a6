# ViViT-B/16x2 Model 3 (factorised self-attention: spatial then temporal attention in every
# block; no class token, the head averages all tokens), otherwise the Model 1 recipe (the
# paper trains its Table 2 ablation models alike).
# Published: K400 top-1 77.4 at 4 clips (paper Table 2), 372.3 GFLOPs per view, 117.3M params.
# Source of the numbers: docs/peers.md (arXiv 2103.15691; github.com/google-research/scenic, projects/vivit).
# Init: the ViT attention is the spatial attention; the temporal attention starts at zero
# (paper Sec. 3.4), so the model starts as the image model applied frame by frame.
_base_ = ['./vivit-base-st-p16x2_in21k-pre_8xb8-32x2x1-30e_kinetics400-rgb.py']

model = dict(backbone=dict(variant='factorised_self_attention'))
