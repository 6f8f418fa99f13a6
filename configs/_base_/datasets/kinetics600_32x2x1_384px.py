# Kinetics-600 at 384 px: the pipelines and loaders of kinetics400_32x2x1_384px.py on the
# Kinetics-600 lists (the same paths as kinetics600_32x2x1.py), written out so that this
# file reads on its own.
dataset_type = 'KineticsDataset'
num_classes = 600  # a label outside [0, 600) is an error naming the list file and line
data_root = 'data/kinetics600/videos'  # list paths are relative to it
ann_file_train = 'data/kinetics600/kinetics600_train_list_videos.txt'
ann_file_val = 'data/kinetics600/kinetics600_val_list_videos.txt'
ann_file_test = 'data/kinetics600/kinetics600_val_list_videos.txt'

clip_len = 32
frame_interval = 2
crop_size = 384
resize_short = 439  # 256 * 384 / 224

train_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='VideoDecode', short_side=resize_short),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1,
         test_mode=True, test_clips='official'),
    dict(type='VideoDecode', short_side=resize_short),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=10,
         test_mode=True, test_clips='official'),
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
                 data_prefix=dict(video=data_root), pipeline=val_pipeline,
                 test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_test, num_classes=num_classes,
                 data_prefix=dict(video=data_root), pipeline=test_pipeline,
                 test_mode=True))

# top-1 / top-5 and mean class accuracy
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
