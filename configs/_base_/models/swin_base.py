# Swin-B (paper Table 1): C = 128, depths 2-2-18-2, heads 4-8-16-32; head input 8C = 1024.
# Everything else as Swin-T.
_base_ = ['./swin_tiny.py']
model = dict(
    backbone=dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32),
                  drop_path_rate=0.3),
    cls_head=dict(in_channels=1024))
