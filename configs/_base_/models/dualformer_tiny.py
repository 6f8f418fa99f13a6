# DualFormer-T (paper Table 1; Twins-SVT-S sizes): dims 64-128-256-512, heads 2-4-8-16,
# depths 2-2-10-4, LW-MSA windows 8x7x7, GP-MSA fine pyramid 8x7x7 (stage 4: the whole
# 16x7x7 map), coarse pyramid 4x4x4 in stages 1-2, for 32 x 224 x 224 clips. The head is
# mmaction2's I3D head: 3-D average pool, dropout 0.5, Linear (init std 0.01).
model = dict(
    type='VideoRecognizer',
    backbone=dict(
        type='DualFormer',
        arch='tiny',
        num_frames=32,
        img_size=224,
        patch_size=(2, 4, 4),
        window_size=(8, 7, 7),
        drop_path_rate=0.1,
        pretrained=None),
    cls_head=dict(
        type='VideoClsHead',
        in_channels=512,
        num_classes=400,
        dropout_ratio=0.5,
        init_std=0.01,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'),
    test_cfg=dict(max_testing_views=4))
