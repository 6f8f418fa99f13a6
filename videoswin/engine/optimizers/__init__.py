"""Optimizer-wrapper constructors and wrappers used by the recipes."""
from .swin_constructor import VideoSwinOptimWrapperConstructor  # noqa: F401
from .cpu_bf16_wrapper import CPUBF16OptimWrapper  # noqa: F401
