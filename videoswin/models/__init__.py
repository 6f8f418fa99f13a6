"""Models: Video Swin and its peer backbones, the classification head, the recognizer and
the layers they share."""
from . import backbones, data_preprocessors, heads, layers, losses, recognizers  # noqa: F401
