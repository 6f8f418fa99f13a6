# A CPU-sized Video Swin on the synthetic motion-direction dataset: the quickstart model.
#   python tools/data/make_synthetic.py data/synthetic
#   python tools/train.py configs/demo/swin-micro_synthetic.py
# Same architecture as Swin-T, only smaller: C = 48, one block per stage, 8-frame clips
# at 56x56, window (4, 7, 7). Trained from scratch; the labels are not flip-sensitive (the
# motion is vertical), so the usual horizontal flip stays on. At C = 24 the model learns
# too, but some seeds sat at chance for hundreds of iterations before taking off; at
# C = 48 every seed tried learned within about 100 iterations.
_base_ = ['../_base_/models/swin_tiny.py', '../_base_/default_runtime.py']

model = dict(
    backbone=dict(embed_dim=48, depths=(1, 1, 1, 1), num_heads=(2, 4, 8, 16),
                  window_size=(4, 7, 7), drop_path_rate=0.0),
    cls_head=dict(in_channels=384, num_classes=2, dropout_ratio=0.0),
    test_cfg=dict(max_testing_views=6))

data_root = 'data/synthetic'
clip_len, frame_interval, crop_size = 8, 2, 56

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
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
# 2 clips x 3 crops = 6 views per video, fused by mean softmax (cls_head.average_clips)
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=2,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, crop_size)),
    dict(type='ThreeCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoDataset', ann_file=f'{data_root}/train_list.txt',
                 data_prefix=dict(video=f'{data_root}/train'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file=f'{data_root}/val_list.txt',
                 data_prefix=dict(video=f'{data_root}/val'), pipeline=val_pipeline,
                 test_mode=True))
test_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file=f'{data_root}/val_list.txt',
                 data_prefix=dict(video=f'{data_root}/val'), pipeline=test_pipeline,
                 test_mode=True))
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

max_epochs = 10
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    # no end / T_max: the runner takes them from train_cfg.max_epochs
    dict(type='CosineAnnealingLR', eta_min=0, by_epoch=True, begin=0, convert_to_iter_based=True),
]

# the lr above is tuned for 1 process x 8 clips; --auto-scale-lr scales it from there
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)
