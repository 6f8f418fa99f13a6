# DualFormer-T, ImageNet-1K init, Kinetics-400, 32 frames at stride 2, 30 epochs (official
# configs/recognition/dualformer/dualformer_tiny_patch244_window877_kinetics400_1k).
# Published: K400 top-1 79.5 at 4 clips x 1 centre crop, 240 GFLOPs for the 4 views
# (59.9 per view), 21.8M params. Source of the numbers: docs/peers.md (arXiv 2112.04674; github.com/sail-sg/dualformer).
# Recipe (the Video Swin recipe): AdamW lr 1e-3, betas (0.9, 0.999), weight decay 0.02,
# backbone lr x0.1, no decay on the PEG convs (pos_block) and norms; linear warm-up for 3
# epochs, cosine to 0 over 30; fp16 AMP; global batch 64. Test: 4 clips x centre crop.
# Init: a 2-D DualFormer-T ImageNet-1K checkpoint (not released by the authors), inflated by
# the backbone; Twins-SVT-S weights carry the same names and load too (coarse pyramid stays
# at its init). Set model.backbone.pretrained to the file.
_base_ = [
    '../../_base_/models/dualformer_tiny.py', '../../_base_/datasets/kinetics400_32x2x1.py',
    '../../_base_/schedules/adamw_warmup-cosine_30e.py', '../../_base_/default_runtime.py'
]

model = dict(backbone=dict(pretrained=None), cls_head=dict(num_classes=400))

test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=4, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(batch_size=8)
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

warmup_epochs = 3
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(lr=1e-3, weight_decay=0.02),
    paramwise_cfg=dict(custom_keys=dict(
        _delete_=True,
        backbone=dict(lr_mult=0.1),
        pos_block=dict(decay_mult=0.),
        norm=dict(decay_mult=0.))))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    # no end / T_max: the runner takes them from train_cfg.max_epochs
    dict(type='CosineAnnealingLR', eta_min=0, by_epoch=True, begin=0, convert_to_iter_based=True),
]

# batch contract: 8 processes x 8 clips x 1 accumulation step = 64
auto_scale_lr = dict(base_batch_size=64)
