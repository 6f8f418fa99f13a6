# Swin-S (paper Table 1): C = 96, depths 2-2-18-2, heads 3-6-12-24; head input 8C = 768.
# Everything else as Swin-T.
_base_ = ['./swin_tiny.py']
model = dict(backbone=dict(depths=(2, 2, 18, 2), drop_path_rate=0.2))
