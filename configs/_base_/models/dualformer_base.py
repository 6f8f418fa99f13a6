# DualFormer-B (Twins-SVT-L sizes): dims 128-256-512-1024, heads 4-8-16-32, depths 2-2-18-2.
_base_ = ['./dualformer_tiny.py']
model = dict(backbone=dict(arch='base', drop_path_rate=0.3), cls_head=dict(in_channels=1024))
