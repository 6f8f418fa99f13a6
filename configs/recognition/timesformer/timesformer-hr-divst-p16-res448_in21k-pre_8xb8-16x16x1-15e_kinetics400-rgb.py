# TimeSformer-HR: 16 frames at stride 16, 448 x 448 crops (official
# TimeSformer_divST_16x16_448). The 224-px ViT position table is resampled to the 28 x 28
# grid when the backbone is initialised.
# Published: K400 top-1/top-5 79.7 / 94.4 at 1 clip x 3 crops, 1703 GFLOPs per view
# (official zoo: 79.6 / 94.0). Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
_base_ = ['./timesformer-base-divst-p16_in21k-pre_8xb8-8x32x1-15e_kinetics400-rgb.py']

model = dict(backbone=dict(num_frames=16, img_size=448))

# the base recipe's pipelines, with only the steps named here changed
clip_len, frame_interval, crop_size = 16, 16, 448
_changes = dict(
    SampleFrames=dict(clip_len=clip_len, frame_interval=frame_interval),
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
