# Kinetics-400 for Video Swin: 32-frame clips at stride 2 (a 64-frame span), as the official
# K400 configs (docs/recipes.md). VideoInit / VideoDecode(short_side=S) give exactly the frames of mmaction2's
# DecordInit / DecordDecode + Resize((-1, S)) while decoding less (docs/datasets.md).
#   train: 1 random clip, short side 256, RandomResizedCrop -> 224x224, horizontal flip.
#   val:   1 centre clip, short side 256, centre crop 224 (the cheap periodic check).
#   test:  4 clips x 3 crops = 12 views, short side 224, three 224 crops along the long
#          side; batch 1 so that model.test_cfg.max_testing_views can chunk the views.
# Lists are "relative/path.mp4 label" lines, as tools/data/build_kinetics_list.py writes
# them (--video-root data/kinetics400/videos --out-dir data/kinetics400).
dataset_type = 'KineticsDataset'
num_classes = 400  # a label outside [0, 400) is an error naming the list file and line
data_root = 'data/kinetics400/videos'  # list paths are relative to it
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'
ann_file_test = 'data/kinetics400/kinetics400_val_list_videos.txt'

clip_len = 32
frame_interval = 2
crop_size = 224

train_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='VideoDecode', short_side=256),
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
    dict(type='VideoDecode', short_side=256),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# test_clips='official': the 4 clips start at the centres of 4 equal segments, as in the
# official code that scored the released checkpoints (300 frames: 29, 88, 148, 207);
# 'mmaction2' restores mmaction2 1.x's placement (0, 79, 158, 237). docs/recipes.md
test_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=4,
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
