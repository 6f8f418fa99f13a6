# The SSv2 schedule: adamw_warmup-cosine_30e.py run for 60 epochs (the same 2.5-epoch
# warm-up; the cosine follows train_cfg.max_epochs, so it reaches 0 at epoch 60).
_base_ = ['./adamw_warmup-cosine_30e.py']

train_cfg = dict(max_epochs=60)
