# TimeSformer-L: 96 frames at stride 4, 224 x 224 crops (official
# TimeSformer_divST_96x4_224).
# Published: K400 top-1/top-5 80.7 / 94.7 at 1 clip x 3 crops, 2380 GFLOPs per view
# (official zoo: 80.6 / 94.7). Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
_base_ = ['./timesformer-base-divst-p16_in21k-pre_8xb8-8x32x1-15e_kinetics400-rgb.py']

model = dict(backbone=dict(num_frames=96))

# the base recipe's pipelines at 96 frames x stride 4
clip_len, frame_interval = 96, 4
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(256, 320)),
    dict(type='RandomCrop', size=224),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
