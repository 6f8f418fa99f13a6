# The SSv2 schedule: adamw_warmup-cosine_30e.py stretched to 60 epochs (same 2.5-epoch
# warm-up, cosine to 0 over all 60 epochs, stepped per iteration).
_base_ = ['./adamw_warmup-cosine_30e.py']

max_epochs = 60
warmup_epochs = 2.5

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True),
]

train_cfg = dict(max_epochs=max_epochs)
