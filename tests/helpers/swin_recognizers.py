"""A tiny Swin recognizer in mmaction2's layout (the independent key-name source) and in ours."""
import torch
from mmaction.models.backbones.swin import SwinTransformer3D as MMAction2Swin
from mmaction.models.heads import I3DHead
from mmengine.registry import DefaultScope
from torch import nn

from videoswin.registry import MODELS

EMBED, DEPTHS, HEADS, WINDOW, CLASSES = 16, (2, 2, 2, 2), (1, 2, 2, 4), (2, 7, 7), 5
# 224 px keeps every spatial window whole, where our bias lookup and the official one agree.
CLIP = (1, 3, 4, 224, 224)


def mmaction2_recognizer() -> nn.Module:
    """mmaction2's backbone and head under the names its Recognizer3D gives them, randomised."""
    model = nn.Module()
    with DefaultScope.overwrite_default_scope('mmaction'):  # I3DHead builds its loss by name
        model.backbone = MMAction2Swin(
            arch=dict(embed_dims=EMBED, depths=DEPTHS, num_heads=HEADS), patch_size=(2, 4, 4),
            window_size=WINDOW, drop_path_rate=0., pretrained2d=False)
        model.cls_head = I3DHead(num_classes=CLASSES, in_channels=8 * EMBED)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(0.2 * torch.randn(param.shape, generator=generator))
    return model.eval()


def our_recognizer(num_classes: int = CLASSES) -> nn.Module:
    return MODELS.build(
        dict(type='VideoRecognizer',
             backbone=dict(type='SwinTransformer3D', embed_dim=EMBED, depths=DEPTHS,
                           num_heads=HEADS, patch_size=(2, 4, 4), window_size=WINDOW,
                           drop_path_rate=0.),
             cls_head=dict(type='VideoClsHead', in_channels=8 * EMBED,
                           num_classes=num_classes))).eval()
