"""Optimizer-wrapper constructors and wrappers used by the recipes."""
from .swin_constructor import VideoSwinOptimWrapperConstructor  # noqa: F401
