# TimeSformer-L on Something-Something V2: 64 uniformly sampled frames, 224 x 224 crops
# (official configs/SSv2/TimeSformer_divST_64_224).
# Published: SSv2 top-1 62.4 (ImageNet-1K init) / 62.3 (ImageNet-21K init) at 1 clip x 3
# crops (official zoo: 62.0 / 87.5). Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
_base_ = ['./timesformer-base-divst-p16_in21k-pre_8xb8-u8-15e_sthv2-rgb.py']

model = dict(backbone=dict(num_frames=64))

# the base recipe's pipelines, with only the steps named here changed
clip_len = 64
_changes = dict(UniformSegmentSample=dict(clip_len=clip_len))
train_pipeline = [dict(t, **_changes.get(t['type'], {})) for t in _base_.train_pipeline]
val_pipeline = [dict(t, **_changes.get(t['type'], {})) for t in _base_.val_pipeline]
test_pipeline = [dict(t, **_changes.get(t['type'], {})) for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
