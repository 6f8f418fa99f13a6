# The TimeSformer schedule (official configs, Kinetics and SSv2 alike): SGD with Nesterov
# momentum 0.9, lr 0.005, weight decay 1e-4 on every parameter (no per-group rules),
# lr x0.1 at epochs 11 and 14 of 15, no warm-up and no gradient clipping.
max_epochs = 15

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.005, momentum=0.9, nesterov=True, weight_decay=1e-4),
    clip_grad=None)

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, milestones=[11, 14], gamma=0.1)
]

train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1,
                 val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# Batch contract (videoswin/engine/batch_contract.py): lr 0.005 is for a global batch of
# 64 (the official code accumulates gradients up to GLOBAL_BATCH_SIZE 64).
auto_scale_lr = dict(enable=False, base_batch_size=64)
