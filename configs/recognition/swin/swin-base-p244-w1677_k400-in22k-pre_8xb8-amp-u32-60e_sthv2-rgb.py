# Swin-B with a 16x7x7 window, Kinetics-400 (ImageNet-22K) video init, Something-Something V2,
# 32 uniformly sampled frames, 60 epochs.
# Published: SSv2 top-1/top-5 69.6 / 92.7 at 1 clip x 3 crops, 320.6 GFLOPs per view, 88.8M
# params (official checkpoint swin_base_patch244_window1677_sthv2.pth).
# Source of the numbers: the official config configs/recognition/swin/swin_base_patch244_window1677_sthv2.py
# and the README's model zoo, github.com/SwinTransformer/Video-Swin-Transformer (docs/model_zoo.md).
# Init: the whole recognizer is loaded from the official Kinetics-400 Swin-B (ImageNet-22K,
# window 16x7x7) video checkpoint with load_from; its 400-class head does not fit the
# 174 SSv2 classes and is left at its fresh init (reported by the loader).
_base_ = [
    '../../_base_/models/swin_base.py', '../../_base_/datasets/sthv2_uniform32.py',
    '../../_base_/schedules/adamw_warmup-cosine_60e.py', '../../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(window_size=(16, 7, 7), drop_path_rate=0.4, pretrained=None,
                  pretrained2d=False),
    # SSv2 only: label smoothing 0.1 over the 174 classes
    cls_head=dict(num_classes=174, label_smooth_eps=0.1, average_clips='prob'),
    # views are run through the backbone 2 at a time (memory bound only; scores unchanged)
    test_cfg=dict(max_testing_views=2))
load_from = ('https://github.com/SwinTransformer/storage/releases/download/v1.0.4/'
             'swin_base_patch244_window1677_kinetics400_22k.pth')

# batch contract: 8 processes x 8 clips x 1 accumulation step = 64
train_dataloader = dict(batch_size=8)
auto_scale_lr = dict(base_batch_size=64)

# torch AMP (fp16 + loss scaling on GPU, bf16 on CPU), AdamW, 60 epochs
optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(lr=3e-4, weight_decay=0.05))
train_cfg = dict(max_epochs=60)
