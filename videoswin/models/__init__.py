"""Models: Video Swin and its peer backbones, the classification head, the recognizer and
the layers they share."""
from . import backbones, heads, layers, recognizers  # noqa: F401
