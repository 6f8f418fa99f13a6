# Ablation: Swin-T on Kinetics-400 with a shorter temporal window (4 instead of 8 frames)
# and a shallower third stage (2 blocks instead of 6); everything else is the Swin-T recipe,
# including its start from the ImageNet-1K Swin-T weights (the URL, downloaded once).
#   bash tools/dist_train.sh configs/ablation/swin-tiny-p244-w477-d2222_k400.py 8
# The 2D file has 6 blocks in stage 3 and this model 2, so the strict load would stop:
# load_what_fits takes every tensor both have (the 4x7x7 window's relative-position tables
# are tiled from the 2D ones, as in any inflation) and its summary line names the skipped
# blocks, layers.2.blocks.2-5.
_base_ = [
    '../recognition/swin/swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py'
]

model = dict(backbone=dict(window_size=(4, 7, 7), depths=(2, 2, 2, 2), load_what_fits=True))
work_dir = 'work_dirs/ablation/swin-tiny-p244-w477-d2222_k400'
