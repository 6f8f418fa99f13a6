"""A Kinetics train pipeline on 32 px clips and a Runner config for a tiny Swin recognizer."""
from mmengine.config import Config

K400_TRAIN = [dict(type='VideoInit'),
              dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
              dict(type='VideoDecode', short_side=40),
              dict(type='RandomResizedCrop'),
              dict(type='Resize', scale=(32, 32), keep_ratio=False),
              dict(type='Flip', flip_ratio=0.5),
              dict(type='FormatShape', input_format='NCTHW'),
              dict(type='PackActionInputs')]


def tiny_swin_config(work_dir, num_classes, train_dataset, label_smooth_eps=0.0, **extra):
    """A Runner config: a tiny SwinTransformer3D recognizer on 8x32x32 clips."""
    return Config(dict(
        default_scope='videoswin',
        work_dir=str(work_dir),
        model=dict(
            type='VideoRecognizer',
            backbone=dict(type='SwinTransformer3D', embed_dim=8, depths=(1, 1, 1, 1),
                          num_heads=(1, 1, 1, 1), patch_size=(2, 4, 4), window_size=(2, 4, 4),
                          drop_path_rate=0.0, pretrained=None, pretrained2d=False),
            cls_head=dict(type='VideoClsHead', in_channels=64, num_classes=num_classes,
                          dropout_ratio=0.0, label_smooth_eps=label_smooth_eps),
            data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                   std=[58.395, 57.12, 57.375], format_shape='NCTHW')),
        train_dataloader=dict(batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              dataset=train_dataset),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=100),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.02)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=100),
                           logger=dict(type='LoggerHook', interval=1)),
        env_cfg=dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork')),
        randomness=dict(seed=0),
        **extra))
