# DualFormer-S (Twins-SVT-B sizes): dims 96-192-384-768, heads 3-6-12-24, depths 2-2-18-2.
_base_ = ['./dualformer_tiny.py']
model = dict(backbone=dict(arch='small', drop_path_rate=0.2), cls_head=dict(in_channels=768))
