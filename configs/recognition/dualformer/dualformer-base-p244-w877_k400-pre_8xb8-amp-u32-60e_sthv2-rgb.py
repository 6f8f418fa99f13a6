# DualFormer-B on Something-Something V2 -- NOT a published recipe: the DualFormer paper and
# repository report no SSv2 result. DualFormer's Kinetics recipe is the Video Swin recipe, so
# this applies Video Swin-B's SSv2 recipe (configs/recognition/swin/
# swin-base-p244-w1677_k400-in22k-pre_8xb8-amp-u32-60e_sthv2-rgb.py): 32 uniformly sampled
# frames, RandAugment + random erasing, no flip, label smoothing 0.1, AdamW lr 3e-4, weight
# decay 0.05, backbone lr x0.1, 2.5 warm-up epochs, cosine over 60 epochs, drop path 0.4,
# 1 clip x 3 crops at test. Start from a DualFormer-B Kinetics-400 recognizer with
# load_from (its 400-class head is left at its fresh init).
# Published: none.
_base_ = [
    '../../_base_/models/dualformer_base.py', '../../_base_/datasets/sthv2_uniform32.py',
    '../../_base_/schedules/adamw_warmup-cosine_60e.py', '../../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(drop_path_rate=0.4, pretrained=None),
    cls_head=dict(num_classes=174, label_smooth_eps=0.1),
    test_cfg=dict(max_testing_views=3))
load_from = None  # a DualFormer-B Kinetics-400 checkpoint

train_dataloader = dict(batch_size=8)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(lr=3e-4, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys=dict(
        _delete_=True,
        backbone=dict(lr_mult=0.1),
        pos_block=dict(decay_mult=0.),
        norm=dict(decay_mult=0.))))

# batch contract: 8 processes x 8 clips x 1 accumulation step = 64
auto_scale_lr = dict(base_batch_size=64)
