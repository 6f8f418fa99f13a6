"""Models: backbones, heads, recognizers, data preprocessors, losses and shared layers."""
from . import backbones, data_preprocessors, heads, layers, losses, recognizers  # noqa: F401
