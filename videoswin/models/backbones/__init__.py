from .swin3d import SwinTransformer3D  # noqa: F401
from .dualformer import DualFormer  # noqa: F401
from .timesformer import TimeSformer  # noqa: F401
from .vivit import ViViT  # noqa: F401
