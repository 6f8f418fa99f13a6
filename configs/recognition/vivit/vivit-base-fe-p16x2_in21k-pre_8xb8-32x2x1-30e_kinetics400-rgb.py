# ViViT-B/16x2 Model 2 (factorised encoder: 12 spatial + 4 temporal layers), otherwise the
# Model 1 recipe with scenic's lr 0.05 (configs/kinetics400/vivit_base_factorised_encoder).
# Published: K400 top-1 78.8 at 4 clips (paper Table 2; scenic zoo 78.4 at 4 clips x 3
# crops), 284.4 GFLOPs per view, 115.1M params.
# Source of the numbers: docs/peers.md (arXiv 2103.15691; github.com/google-research/scenic, projects/vivit).
# Init: the spatial encoder is the ViT; the temporal encoder starts at random.
_base_ = ['./vivit-base-st-p16x2_in21k-pre_8xb8-32x2x1-30e_kinetics400-rgb.py']

model = dict(backbone=dict(variant='factorised_encoder', temporal_num_layers=4))
optim_wrapper = dict(optimizer=dict(lr=0.05))
