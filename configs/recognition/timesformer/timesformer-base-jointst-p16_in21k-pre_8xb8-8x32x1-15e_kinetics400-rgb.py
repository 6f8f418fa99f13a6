# TimeSformer-Base with joint space-time attention (one attention over all 1 + 8 x 196
# tokens), otherwise the divided recipe (official TimeSformer_jointST_8x32_224).
# Published: K400 top-1 77.4 (paper Table 1 ablation, 1 clip x 3 crops), 180 GFLOPs per
# view, 85.9M params; mmaction2 re-training: 76.95 / 93.28.
# Source of the numbers: docs/peers.md (arXiv 2102.05095; github.com/facebookresearch/TimeSformer).
_base_ = ['./timesformer-base-divst-p16_in21k-pre_8xb8-8x32x1-15e_kinetics400-rgb.py']

model = dict(backbone=dict(attention_type='joint_space_time'))
