# Swin-L, ImageNet-22K init, Kinetics-700, 32x2 frames, 30 epochs, 16 processes.
# Published: K700 top-1/top-5 75.92 / 92.72 at 4 clips x 3 crops, 604 GFLOPs per view (mmaction2)
# Source of the numbers: mmaction2 1.x config configs/recognition/swin/swin-large-p244-w877_in22k-pre_16xb8-amp-32x2x1-30e_kinetics700-rgb.py (github.com/open-mmlab/mmaction2).
# Global batch 128 and lr 2e-3 (twice the 64 / 1e-3 of the K400 recipe).
_base_ = [
    '../../_base_/models/swin_large.py', '../../_base_/datasets/kinetics700_32x2x1.py',
    '../../_base_/schedules/adamw_warmup-cosine_30e.py', '../../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        drop_path_rate=0.4,
        # 2D ImageNet weights, inflated to 3D when the backbone is initialised
        pretrained='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth',
        pretrained2d=True),
    cls_head=dict(num_classes=700, average_clips='prob'),
    # views are run through the backbone 2 at a time (memory bound only; scores unchanged)
    test_cfg=dict(max_testing_views=2))

# batch contract: 16 processes x 8 clips x 1 accumulation step = 128
train_dataloader = dict(batch_size=8)
auto_scale_lr = dict(base_batch_size=128)

# torch AMP (fp16 + loss scaling on GPU, bf16 on CPU), AdamW, 30 epochs
optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(lr=0.002, weight_decay=0.05))
train_cfg = dict(max_epochs=30)
