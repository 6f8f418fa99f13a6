# TimeSformer-Base, divided space-time attention, ImageNet-21K ViT init, Something-Something
# V2, 8 frames sampled uniformly over the whole video, 15 epochs (official
# configs/SSv2/TimeSformer_divST_8_224).
# Published: SSv2 top-1 59.5 at 1 clip x 3 crops (paper Table 7; official zoo: 59.1 / 85.6).
# Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
# Recipe: as Kinetics (SGD Nesterov, lr 0.005, wd 1e-4, lr x0.1 at epochs 11 and 14, global
# batch 64), 174 classes, and no flip (SSv2 labels name directions). Frames: one per equal
# segment of the video, random in training, the segment middle at test (as the official
# loader). The official loader draws the short side with an inverse-uniform law in
# [256, 320]; RandomRescale draws it uniformly in the same range.
_base_ = [
    '../../_base_/models/timesformer_base.py', '../../_base_/datasets/sthv2_uniform32.py',
    '../../_base_/schedules/sgd-nesterov_multistep_15e.py', '../../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        attention_type='divided_space_time',
        pretrained=('https://github.com/rwightman/pytorch-image-models/releases/download/'
                    'v0.1-vitjx/jx_vit_base_p16_224-80ecf9dd.pth')),
    cls_head=dict(num_classes=174))

clip_len, crop_size = 8, 224
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(256, 320)),
    dict(type='RandomCrop', size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, crop_size)),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, crop_size)),
    dict(type='ThreeCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

# schedule: _base_/schedules/sgd-nesterov_multistep_15e.py; batch contract: 8 processes x 8
# clips x 1 accumulation step = 64
