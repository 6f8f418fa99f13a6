# Swin-T, ImageNet-1K init, Kinetics-400, 32x2 frames, 30 epochs.
# Published: K400 top-1/top-5 78.8 / 93.6 at 4 clips x 3 crops, 87.9 GFLOPs per view, 28.2M params (official checkpoint)
# Source of the numbers: the official config configs/recognition/swin/swin_tiny_patch244_window877_kinetics400_1k.py and the README's model zoo, github.com/SwinTransformer/Video-Swin-Transformer (docs/model_zoo.md).
_base_ = [
    '../../_base_/models/swin_tiny.py', '../../_base_/datasets/kinetics400_32x2x1.py',
    '../../_base_/schedules/adamw_warmup-cosine_30e.py', '../../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        drop_path_rate=0.1,
        # 2D ImageNet weights, inflated to 3D when the backbone is initialised
        pretrained='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth',
        pretrained2d=True),
    cls_head=dict(num_classes=400, average_clips='prob'),
    # views are run through the backbone 4 at a time (memory bound only; scores unchanged)
    test_cfg=dict(max_testing_views=4))

# batch contract: 8 processes x 8 clips x 1 accumulation step = 64
train_dataloader = dict(batch_size=8)
auto_scale_lr = dict(base_batch_size=64)

# torch AMP (fp16 + loss scaling on GPU, bf16 on CPU), AdamW, 30 epochs
optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(lr=0.001, weight_decay=0.02))
train_cfg = dict(max_epochs=30)
