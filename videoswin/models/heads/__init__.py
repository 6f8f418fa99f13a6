from .cls_head import VideoClsHead  # noqa: F401
