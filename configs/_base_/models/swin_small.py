# Swin-S (paper Table 1): C = 96, depths 2-2-18-2, heads 3-6-12-24; head input 8C = 768.
model = dict(
    type='VideoRecognizer',
    backbone=dict(
        type='SwinTransformer3D',
        embed_dim=96,
        depths=(2, 2, 18, 2),
        num_heads=(3, 6, 12, 24),
        patch_size=(2, 4, 4),
        window_size=(8, 7, 7),
        drop_path_rate=0.2,
        patch_norm=True,
        pretrained=None,
        pretrained2d=True),
    cls_head=dict(
        type='VideoClsHead',
        in_channels=768,
        num_classes=400,
        dropout_ratio=0.5,
        label_smooth_eps=0.0,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'),
    test_cfg=dict(max_testing_views=None, feature_extraction=False))
