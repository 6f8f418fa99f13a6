# TimeSformer-HR on Something-Something V2: 16 uniformly sampled frames, 448 x 448 crops
# (official configs/SSv2/TimeSformer_divST_16_448).
# Published: SSv2 top-1 62.2 (ImageNet-1K init) / 62.5 (ImageNet-21K init) at 1 clip x 3
# crops (official zoo: 61.8 / 86.9). Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
_base_ = ['./timesformer-base-divst-p16_in21k-pre_8xb8-u8-15e_sthv2-rgb.py']

model = dict(backbone=dict(num_frames=16, img_size=448))

# the base recipe's pipelines, with only the steps named here changed
clip_len, crop_size = 16, 448
_changes = dict(
    UniformSegmentSample=dict(clip_len=clip_len),
    RandomRescale=dict(scale_range=(448, 512)),
    RandomCrop=dict(size=crop_size),
    Resize=dict(scale=(-1, crop_size)),
    CenterCrop=dict(crop_size=crop_size),
    ThreeCrop=dict(crop_size=crop_size))
train_pipeline = [dict(t, **_changes.get(t['type'], {})) for t in _base_.train_pipeline]
val_pipeline = [dict(t, **_changes.get(t['type'], {})) for t in _base_.val_pipeline]
test_pipeline = [dict(t, **_changes.get(t['type'], {})) for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
