# Kinetics-600 at 384 px: the pipelines of kinetics400_32x2x1_384px.py on the
# Kinetics-600 lists (the same paths as kinetics600_32x2x1.py).
_base_ = ['./kinetics400_32x2x1_384px.py']

data_root = 'data/kinetics600/videos'  # list paths are relative to it
ann_file_train = 'data/kinetics600/kinetics600_train_list_videos.txt'
ann_file_val = 'data/kinetics600/kinetics600_val_list_videos.txt'
ann_file_test = 'data/kinetics600/kinetics600_val_list_videos.txt'
num_classes = 600

train_dataloader = dict(dataset=dict(ann_file=ann_file_train, num_classes=num_classes,
                                     data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val, num_classes=num_classes,
                                   data_prefix=dict(video=data_root)))
test_dataloader = dict(dataset=dict(ann_file=ann_file_test, num_classes=num_classes,
                                    data_prefix=dict(video=data_root)))
