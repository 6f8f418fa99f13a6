"""The random initialisation shared by every transformer backbone here."""
from torch import nn


def init_linear_and_norm(module: nn.Module) -> None:
    """Every Linear: truncated normal (std .02), bias 0; every LayerNorm: weight 1, bias 0.

    This is the init of the official Video Swin, TimeSformer, ViViT and DualFormer code
    (timm's ViT init); convolutions keep PyTorch's default.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
