# Swin-L, ImageNet-22K init, Kinetics-400, 32x2 frames, 30 epochs.
# Published: K400 top-1/top-5 83.46 / 95.91 (mmaction2 re-training; paper 83.1 / 95.9) at 4 clips x 3 crops, 604 GFLOPs per view, 197.0M params
# Source of the numbers: mmaction2 1.x config configs/recognition/swin/swin-large-p244-w877_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py (github.com/open-mmlab/mmaction2) (the official repo has no Swin-L config and released no Swin-L weights).
_base_ = [
    '../../_base_/models/swin_large.py', '../../_base_/datasets/kinetics400_32x2x1.py',
    '../../_base_/schedules/adamw_warmup-cosine_30e.py', '../../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        drop_path_rate=0.4,
        # 2D ImageNet weights, inflated to 3D when the backbone is initialised
        pretrained='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth',
        pretrained2d=True),
    cls_head=dict(num_classes=400, average_clips='prob'),
    # views are run through the backbone 2 at a time (memory bound only; scores unchanged)
    test_cfg=dict(max_testing_views=2))

# batch contract: 8 processes x 8 clips x 1 accumulation step = 64
train_dataloader = dict(batch_size=8)
auto_scale_lr = dict(base_batch_size=64)

# torch AMP (fp16 + loss scaling on GPU, bf16 on CPU), AdamW, 30 epochs
optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(lr=0.001, weight_decay=0.05))
train_cfg = dict(max_epochs=30)
