# ViViT-B/16x2 (paper Sec. 4.1): ViT-Base on 2 x 16 x 16 tubelets of 32 x 224 x 224 clips,
# Model 1 (spatio-temporal) unless a recipe sets backbone.variant. The head is scenic's
# zero-initialised Linear on the class token (Models 1, 2) or on the average of all
# tokens (Models 3, 4: the backbone returns the token map, the head pools it).
# Pixels are zero-centred to [-1, 1] as in scenic.
model = dict(
    type='VideoRecognizer',
    backbone=dict(
        type='ViViT',
        variant='spatio_temporal',
        arch='base',
        num_frames=32,
        img_size=224,
        tubelet_size=(2, 16, 16),
        temporal_num_layers=4,
        drop_path_rate=0.0,
        tubelet_init='central_frame',
        pretrained=None),
    cls_head=dict(
        type='VideoClsHead',
        in_channels=768,
        num_classes=400,
        dropout_ratio=0.0,
        init_std=0.0,
        average_clips='score'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        format_shape='NCTHW'),
    test_cfg=dict(max_testing_views=None))
