"""A random 2D HF Swin (the inflation oracle) and a 3D backbone of the same sizes."""
from transformers import SwinConfig, SwinModel

from videoswin.models.backbones.swin3d import SwinTransformer3D
from videoswin.testing import randomise_

EMBED, DEPTHS, HEADS = 16, (2, 2, 2, 2), (1, 2, 2, 4)
IMAGE = 224  # stage maps 56, 28, 14, 7: window 7 tiles every stage, the last is unshifted
# Window 2 in time over T' = 8 / 2 = 4 token frames: no temporal padding, and the
# shifted blocks roll the clip in time too, so the temporal shift mask is exercised.
FRAMES, WINDOW = 8, (2, 7, 7)
TOLERANCE = 1e-4


def randomised_hf_swin(window: int = 7, seed: int = 0) -> SwinModel:
    """A 2D SwinModel whose every tensor (LayerNorms and bias tables included) is random."""
    config = SwinConfig(image_size=IMAGE, patch_size=4, embed_dim=EMBED, depths=list(DEPTHS),
                        num_heads=list(HEADS), window_size=window, drop_path_rate=0.0)
    return randomise_(SwinModel(config).eval(), seed, weight=0.2, gain=0.2, table=1.0)


def video_backbone(window=WINDOW, embed=EMBED) -> SwinTransformer3D:
    backbone = SwinTransformer3D(embed_dim=embed, depths=DEPTHS, num_heads=HEADS,
                                 patch_size=(2, 4, 4), window_size=window, drop_path_rate=0.0)
    return backbone.eval()
