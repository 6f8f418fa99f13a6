# ViViT-B/16x2 Model 1 (spatio-temporal attention), ImageNet-21K ViT-B/16 init, Kinetics-400,
# 32 frames at stride 2, 30 epochs (paper Table 7; scenic configs/kinetics400/vivit_base_k400).
# Published: K400 top-1 80.0 at 4 clips (paper Table 2 ablation; scenic zoo 79.9 at 4 clips
# x 3 crops), 455.2 GFLOPs per view, 88.9M params.
# Source of the numbers: docs/peers.md (arXiv 2103.15691; github.com/google-research/scenic, projects/vivit).
# Recipe: synchronous SGD (momentum 0.9), lr 0.1, cosine decay over 30 epochs after a 2.5-epoch
# linear warm-up, no weight decay, gradients clipped at global norm 1, global batch 64.
# Init: central-frame tubelets; the ViT position table tiled over the 16 temporal indices.
# Train: short side 256 then a random scale in [0.9, 1.33] (230-340 px), random 224 crop,
# flip, colour jitter with probability 0.8 (scenic also drops colour with p 0.1; not done
# here). Test: 4 clips x 3 crops at short side 256, mean of logits.
_base_ = [
    '../../_base_/models/vivit_base.py', '../../_base_/datasets/kinetics400_32x2x1.py',
    '../../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        variant='spatio_temporal',
        # timm's port of the original ViT-B/16 ImageNet-21K weights (the JAX release)
        pretrained=('https://github.com/rwightman/pytorch-image-models/releases/download/'
                    'v0.1-vitjx/jx_vit_base_patch16_224_in21k-e5005f0a.pth')),
    cls_head=dict(num_classes=400),
    # views go through the backbone 3 at a time (memory bound only; scores unchanged)
    test_cfg=dict(max_testing_views=3))

clip_len, frame_interval, crop_size = 32, 2, 224
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(230, 340)),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='RandomApply', transforms=[dict(type='ColorJitter')], prob=0.8),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=4,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='ThreeCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

max_epochs, warmup_epochs = 30, 2.5
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    # scenic's factors 'constant * cosine_decay * linear_warmup' (warm-up from ~0)
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
