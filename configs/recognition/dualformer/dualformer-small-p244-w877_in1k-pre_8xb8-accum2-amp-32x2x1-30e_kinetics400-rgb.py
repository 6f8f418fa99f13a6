# DualFormer-S, ImageNet-1K init, Kinetics-400, 32 frames at stride 2, 30 epochs (official
# configs/recognition/dualformer/dualformer_small_patch244_window877_kinetics400_1k).
# Published: K400 top-1 80.6 at 4 clips x 1 centre crop, 636 GFLOPs for the 4 views
# (158.3 per view), 48.9M params. Source of the numbers: docs/peers.md (arXiv 2112.04674; github.com/sail-sg/dualformer).
# Recipe (the Video Swin recipe): AdamW lr 1e-3, betas (0.9, 0.999), weight decay 0.02,
# backbone lr x0.1, no decay on the PEG convs (pos_block) and norms; drop path 0.2; linear
# warm-up for 2.5 epochs, cosine to 0 over 30; fp16 AMP; 8 processes x 8 clips with
# gradients accumulated over 2 steps (global batch 128). Test: 4 clips x centre crop.
# Init: a 2-D DualFormer-S ImageNet-1K checkpoint (not released by the authors), inflated
# by the backbone; Twins-SVT-B weights carry the same names and load too (the coarse
# pyramid stays at its init). Set model.backbone.pretrained to the file.
_base_ = ['./dualformer-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py']

# the sizes of ../../_base_/models/dualformer_small.py
model = dict(backbone=dict(arch='small', drop_path_rate=0.2), cls_head=dict(in_channels=768))

warmup_epochs = 2.5
optim_wrapper = dict(accumulative_counts=2)
# linear warm-up by iteration, then a cosine to 0 at train_cfg.max_epochs
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0, by_epoch=True, begin=0, convert_to_iter_based=True)
]

# batch contract: 8 processes x 8 clips x 2 accumulation steps = 128
auto_scale_lr = dict(base_batch_size=128)
