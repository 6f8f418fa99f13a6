# DualFormer-B, ImageNet-1K init, Kinetics-400, 32 frames at stride 2, 30 epochs (official
# configs/recognition/dualformer/dualformer_base_patch244_window877_kinetics400_1k).
# Published: K400 top-1 81.1 at 4 clips x 1 centre crop, 1072 GFLOPs for the 4 views
# (267.4 per view), 86.8M params. Source of the numbers: docs/peers.md (arXiv 2112.04674; github.com/sail-sg/dualformer).
# Recipe (the Video Swin recipe): AdamW lr 1e-3, betas (0.9, 0.999), weight decay 0.05,
# backbone lr x0.1, no decay on the PEG convs (pos_block) and norms; drop path 0.3; linear
# warm-up for 2.5 epochs, cosine to 0 over 30; fp16 AMP; 8 processes x 8 clips with
# gradients accumulated over 2 steps (global batch 128). Test: 4 clips x centre crop.
# Init: a 2-D DualFormer-B ImageNet-1K checkpoint (not released by the authors), inflated
# by the backbone; Twins-SVT-L weights carry the same names and load too (the coarse
# pyramid stays at its init). Set model.backbone.pretrained to the file.
_base_ = ['./dualformer-small-p244-w877_in1k-pre_8xb8-accum2-amp-32x2x1-30e_kinetics400-rgb.py']

# the sizes of ../../_base_/models/dualformer_base.py
model = dict(backbone=dict(arch='base', drop_path_rate=0.3), cls_head=dict(in_channels=1024))

optim_wrapper = dict(optimizer=dict(weight_decay=0.05))
