# TimeSformer-HR: 16 frames at stride 16, 448 x 448 crops (official
# TimeSformer_divST_16x16_448). The 224-px ViT position table is resampled to the 28 x 28
# grid when the backbone is initialised.
# Published: K400 top-1/top-5 79.7 / 94.4 at 1 clip x 3 crops, 1703 GFLOPs per view
# (official zoo: 79.6 / 94.0). Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
_base_ = ['./timesformer-base-divst-p16_in21k-pre_8xb8-8x32x1-15e_kinetics400-rgb.py']

model = dict(backbone=dict(num_frames=16, img_size=448))

# the base recipe's pipelines at 16 frames x stride 16 and 448 px crops
clip_len, frame_interval, crop_size = 16, 16, 448
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(448, 512)),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, crop_size)),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, crop_size)),
    dict(type='ThreeCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
