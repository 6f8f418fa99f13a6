# TimeSformer-L: 96 frames at stride 4, 224 x 224 crops (official
# TimeSformer_divST_96x4_224).
# Published: K400 top-1/top-5 80.7 / 94.7 at 1 clip x 3 crops, 2380 GFLOPs per view
# (official zoo: 80.6 / 94.7). Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
_base_ = ['./timesformer-base-divst-p16_in21k-pre_8xb8-8x32x1-15e_kinetics400-rgb.py']

model = dict(backbone=dict(num_frames=96))

# the base recipe's pipelines, with only the steps named here changed
clip_len, frame_interval = 96, 4
_changes = dict(SampleFrames=dict(clip_len=clip_len, frame_interval=frame_interval))
train_pipeline = [dict(t, **_changes.get(t['type'], {})) for t in _base_.train_pipeline]
val_pipeline = [dict(t, **_changes.get(t['type'], {})) for t in _base_.val_pipeline]
test_pipeline = [dict(t, **_changes.get(t['type'], {})) for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
