# Something-Something V2 for Video Swin (official SSv2 config; docs/datasets.md). SSv2 labels depend on
# direction, so there is no flip; clips are 32 frames sampled uniformly over the whole
# video (UniformSegmentSample: one frame per equal segment, random in training, the
# segment middle at test, as the official frame_uniform; mmaction2's UniformSample takes
# the segment start at test time).
#   train: short side 256, RandomResizedCrop -> 224x224, RandAugment (4 ops, magnitude 7,
#          one draw per clip), random erasing (p 0.25, the same box in every frame).
#   val:   1 clip, short side 256, centre crop 224.
#   test:  1 clip x 3 crops = 3 views, short side 224.
dataset_type = 'SthV2Dataset'
num_classes = 174
data_root = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
ann_file_val = 'data/sthv2/sthv2_val_list_videos.txt'
ann_file_test = 'data/sthv2/sthv2_val_list_videos.txt'

clip_len = 32
crop_size = 224

train_pipeline = [
    dict(type='VideoInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len),
    dict(type='VideoDecode', short_side=256),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='ClipRandAugment', num_layers=4, magnitude=7),
    dict(type='ClipRandomErasing', erase_prob=0.25),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='VideoInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len, test_mode=True),
    dict(type='VideoDecode', short_side=256),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='VideoInit'),
    dict(type='UniformSegmentSample', clip_len=clip_len, test_mode=True),
    dict(type='VideoDecode', short_side=crop_size),
    dict(type='ThreeCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    batch_size=8,  # per process; the recipe's global batch is 8 processes x 8 = 64
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=ann_file_train, num_classes=num_classes,
                 data_prefix=dict(video=data_root), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_val, num_classes=num_classes,
                 data_prefix=dict(video=data_root), pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_test, num_classes=num_classes,
                 data_prefix=dict(video=data_root), pipeline=test_pipeline, test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
