# Runtime shared by every recipe: scope, hooks, logging, environment.
default_scope = 'videoswin'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # global batch = processes x batch x accumulation: logged, and with auto_scale_lr
    # the lr scales by global / recipe batch once (videoswin/engine/hooks/batch_contract_hook.py)
    batch_contract=dict(type='BatchContractHook'),
    # one checkpoint per epoch; the 3 newest and the best (by the val metric) are kept;
    # written atomically, plus a rolling mid-epoch one every 500 iterations (exact
    # resume with ResumableEpochBasedTrainLoop; docs/reliability.md)
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='auto', mid_epoch_interval=500),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
    # a NaN/inf loss or gradient stops the run before the step ('skip' to drop it)
    nonfinite_loss=dict(type='NonFiniteLossHook', action='stop'),
    label_check=dict(type='LabelCheckHook'),
    # damaged videos replaced during training are counted and logged once per epoch
    bad_samples=dict(type='BadSampleHook'),
    # load_from / resume: mmaction2 (norm3) files renamed, 2D image files refused
    checkpoint_layout=dict(type='CheckpointLayoutHook'),
    release_workers=dict(type='ReleaseWorkersHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; tools switch to gloo by themselves when there is no GPU
    dist_cfg=dict(backend='nccl'),
    # torch intra-op threads per process; None = the node's CPUs divided among its
    # processes and their loader workers (videoswin/utils/setup_env.py)
    num_threads=None)

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'

load_from = None  # a whole-recognizer checkpoint to start from (e.g. K400 -> SSv2)
resume = False
