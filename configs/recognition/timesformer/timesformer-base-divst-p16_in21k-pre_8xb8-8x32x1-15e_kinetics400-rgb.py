# TimeSformer-Base, divided space-time attention, ImageNet-21K ViT init, Kinetics-400,
# 8 frames at stride 32, 15 epochs (official configs/Kinetics/TimeSformer_divST_8x32_224).
# Published: K400 top-1/top-5 78.0 / 93.7 at 1 clip x 3 crops, 196 GFLOPs per view,
# 121.4M params (paper Table 7; the official re-trained zoo model: 77.9 / 93.2).
# Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
# Recipe: SGD (momentum 0.9, Nesterov), lr 0.005, weight decay 1e-4 on every parameter,
# lr x0.1 at epochs 11 and 14, no warm-up, no gradient clipping; global batch 64.
# Train: short side random in [256, 320], random 224 crop, flip. Test: 1 centre clip,
# short side 224, three 224 crops, mean of softmax.
_base_ = [
    '../../_base_/models/timesformer_base.py', '../../_base_/datasets/kinetics400_32x2x1.py',
    '../../_base_/schedules/sgd-nesterov_multistep_15e.py', '../../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        attention_type='divided_space_time',
        # the official init: timm's port of the JAX ViT-B/16 (ImageNet-21K pre-trained,
        # ImageNet-1K fine-tuned); temporal attention starts as a copy of the spatial one
        pretrained=('https://github.com/rwightman/pytorch-image-models/releases/download/'
                    'v0.1-vitjx/jx_vit_base_p16_224-80ecf9dd.pth')),
    cls_head=dict(num_classes=400))

clip_len, frame_interval, crop_size = 8, 32, 224
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(256, 320)),
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
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

# schedule: _base_/schedules/sgd-nesterov_multistep_15e.py; batch contract: 8 processes x 8
# clips x 1 accumulation step = 64
