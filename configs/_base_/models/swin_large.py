# Swin-L (paper Table 1): C = 192, depths 2-2-18-2, heads 6-12-24-48; head input 8C = 1536.
# Everything else as Swin-T.
_base_ = ['./swin_tiny.py']
model = dict(
    backbone=dict(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48),
                  drop_path_rate=0.4),
    cls_head=dict(in_channels=1536))
