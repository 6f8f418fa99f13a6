# ViViT-L/16x2 Model 2 (factorised encoder, 24 spatial + 4 temporal layers) on
# Something-Something V2: 32 consecutive frames, 256 x 256 crops, 35 epochs (paper Table 7;
# scenic configs/something_something_v2/vivit_large_factorised_encoder).
# Published: SSv2 top-1/top-5 65.9 / 89.9 (paper Table 6, with all of Table 4's regularisers).
# Source of the numbers: docs/peers.md (arXiv 2103.15691; github.com/google-research/scenic, projects/vivit).
# Recipe: SGD (momentum 0.9), lr 0.4 (scenic; the paper says 0.5), cosine over 35 epochs
# after 2.5 warm-up epochs, no weight decay, gradient clip 1, global batch 64; stochastic
# depth 0.3, label smoothing 0.3, mixup alpha 0.3, RandAugment with 2 ops at scenic's
# magnitude 20 (one draw per clip), no flip, no colour jitter.
# Train: short side 288, scale jitter [0.9, 1.33] (259-383 px), random 256 crop.
# Test: 4 clips x 3 crops, short side 288.
# Init: ImageNet-21K ViT-L/16 (scenic also allows a Kinetics checkpoint); the 14 x 14
# position table is resampled to the 16 x 16 grid of 256 px crops.
_base_ = [
    '../../_base_/models/vivit_base.py', '../../_base_/datasets/sthv2_uniform32.py',
    '../../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        variant='factorised_encoder',
        arch='large',
        img_size=256,
        drop_path_rate=0.3,
        pretrained=('https://github.com/rwightman/pytorch-image-models/releases/download/'
                    'v0.1-vitjx/jx_vit_large_patch16_224_in21k-606da67d.pth')),
    cls_head=dict(in_channels=1024, num_classes=174, label_smooth_eps=0.3),
    data_preprocessor=dict(blending=dict(type='MixupBlending', num_classes=174, alpha=0.3)),
    test_cfg=dict(max_testing_views=3))

clip_len, crop_size = 32, 256
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 288)),
    dict(type='RandomRescale', scale_range=(259, 383)),
    dict(type='RandomCrop', size=crop_size),
    dict(type='ClipRandAugment', num_layers=2, magnitude=20),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 288)),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=4, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 288)),
    dict(type='ThreeCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

max_epochs, warmup_epochs = 35, 2.5
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    # no end / T_max: the runner takes them from train_cfg.max_epochs
    dict(type='CosineAnnealingLR', eta_min=0, by_epoch=True, begin=0, convert_to_iter_based=True),
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1,
                 val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# batch contract: 8 processes x 8 clips x 1 accumulation step = 64
auto_scale_lr = dict(enable=False, base_batch_size=64)
