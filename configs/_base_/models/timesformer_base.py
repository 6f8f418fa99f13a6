# TimeSformer-Base (paper Sec. 4): ViT-B/16 on 8 frames of 224 x 224, divided space-time
# attention, drop path 0.1. The head is a single Linear on the class token (the official
# config's dropout 0.5 is never applied by the official model, so it is 0 here), init
# std 0.02. Pixels are normalised with the official repo's mean 0.45 / std 0.225.
model = dict(
    type='VideoRecognizer',
    backbone=dict(
        type='TimeSformer',
        num_frames=8,
        img_size=224,
        patch_size=16,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        attention_type='divided_space_time',
        drop_path_rate=0.1,
        pretrained=None),
    cls_head=dict(
        type='VideoClsHead',
        in_channels=768,
        num_classes=400,
        dropout_ratio=0.0,
        init_std=0.02,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[114.75, 114.75, 114.75],
        std=[57.375, 57.375, 57.375],
        format_shape='NCTHW'),
    test_cfg=dict(max_testing_views=None))
