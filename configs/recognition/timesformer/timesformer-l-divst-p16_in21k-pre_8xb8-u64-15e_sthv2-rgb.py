# TimeSformer-L on Something-Something V2: 64 uniformly sampled frames, 224 x 224 crops
# (official configs/SSv2/TimeSformer_divST_64_224).
# Published: SSv2 top-1 62.4 (ImageNet-1K init) / 62.3 (ImageNet-21K init) at 1 clip x 3
# crops (official zoo: 62.0 / 87.5). Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
_base_ = ['./timesformer-base-divst-p16_in21k-pre_8xb8-u8-15e_sthv2-rgb.py']

model = dict(backbone=dict(num_frames=64))

# the base recipe's pipelines at 64 uniformly sampled frames
clip_len = 64
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(256, 320)),
    dict(type='RandomCrop', size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
