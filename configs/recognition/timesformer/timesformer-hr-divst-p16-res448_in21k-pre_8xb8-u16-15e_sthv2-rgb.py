# TimeSformer-HR on Something-Something V2: 16 uniformly sampled frames, 448 x 448 crops
# (official configs/SSv2/TimeSformer_divST_16_448).
# Published: SSv2 top-1 62.2 (ImageNet-1K init) / 62.5 (ImageNet-21K init) at 1 clip x 3
# crops (official zoo: 61.8 / 86.9). Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
_base_ = ['./timesformer-base-divst-p16_in21k-pre_8xb8-u8-15e_sthv2-rgb.py']

model = dict(backbone=dict(num_frames=16, img_size=448))

# the base recipe's pipelines at 16 uniformly sampled frames and 448 px crops
clip_len, crop_size = 16, 448
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(448, 512)),
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
