"""videoswin: a config-driven training framework for the Video Swin Transformer.

Importing the package is cheap; modules register themselves lazily the first time
a registry is asked for them (see ``videoswin.registry``), or eagerly through
``videoswin.utils.register_all_modules()``.
"""
from .registry import MODELS  # noqa: F401
from .version import __version__  # noqa: F401

__all__ = ['__version__', 'MODELS']
