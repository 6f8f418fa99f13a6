"""``ClipRandomErasing``: timm's random erasing as the SSv2 recipe uses it, on uint8 frames.

The official recipe erases, with probability 0.25, one rectangle of 2-33 % of the frame
(aspect ratio log-uniform in [0.3, 1/0.3], up to 10 tries to fit) on the *normalised*
frames, filled with zeros, and it resets the RNG before each frame, so every frame of
the clip loses the same rectangle. Here normalisation happens later, in the model's
data preprocessor, so the rectangle is filled with the normalisation *mean* colour
(which normalises to zero) rounded to uint8: an erased pixel reaches the model as at
most 0.5/57 away from zero instead of exactly zero.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from videoswin.registry import TRANSFORMS

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # the recipes' data_preprocessor mean (RGB)


def erasing_box(height: int, width: int, area_range: Tuple[float, float],
                min_aspect: float, max_attempts: int = 10
                ) -> Optional[Tuple[int, int, int, int]]:
    """(top, left, h, w) of a random box as timm draws it, or None if no try fits."""
    log_aspect = (np.log(min_aspect), np.log(1 / min_aspect))
    for _ in range(max_attempts):
        area = np.random.uniform(*area_range) * height * width
        aspect = np.exp(np.random.uniform(*log_aspect))
        box_h = int(round(np.sqrt(area * aspect)))
        box_w = int(round(np.sqrt(area / aspect)))
        if box_w < width and box_h < height:
            top = np.random.randint(0, height - box_h + 1)
            left = np.random.randint(0, width - box_w + 1)
            return top, left, box_h, box_w
    return None


@TRANSFORMS.register_module()
class ClipRandomErasing(BaseTransform):
    """Erase one random rectangle, the same in every frame of the clip.

    Required keys: ``imgs`` (list of (H, W, 3) uint8). Modified keys: ``imgs``.

    Args:
        erase_prob: probability that the clip is erased at all (0.25 in the SSv2 recipe).
        area_range: erased area as a fraction of the frame (timm: 0.02 to 1/3).
        min_aspect: aspect ratios are log-uniform in [min_aspect, 1/min_aspect] (timm: 0.3).
        fill_color: RGB fill; keep it equal to the data preprocessor's mean so that erased
            pixels normalise to zero, as in the official recipe.
    """

    def __init__(self, erase_prob: float = 0.25,
                 area_range: Tuple[float, float] = (0.02, 1 / 3),
                 min_aspect: float = 0.3,
                 fill_color: Sequence[float] = IMAGENET_MEAN) -> None:
        if not 0.0 <= erase_prob <= 1.0:
            raise ValueError(f'erase_prob must be in [0, 1], got {erase_prob}')
        if not 0.0 < area_range[0] <= area_range[1] <= 1.0:
            raise ValueError(f'area_range must satisfy 0 < min <= max <= 1, got {area_range}')
        if not 0.0 < min_aspect <= 1.0:
            raise ValueError(f'min_aspect must be in (0, 1], got {min_aspect}')
        if len(fill_color) != 3:
            raise ValueError(f'fill_color must be 3 numbers (RGB), got {fill_color}')
        self.erase_prob = erase_prob
        self.area_range = tuple(area_range)
        self.min_aspect = min_aspect
        self.fill_color = tuple(fill_color)
        fill = np.round(np.asarray(fill_color, dtype=np.float64))
        self._fill = np.clip(fill, 0, 255).astype(np.uint8)

    def transform(self, results: Dict) -> Dict:
        imgs = results['imgs']
        if not len(imgs) or np.random.rand() >= self.erase_prob:
            return results
        height, width = imgs[0].shape[:2]
        box = erasing_box(height, width, self.area_range, self.min_aspect)
        if box is None:
            return results
        top, left, box_h, box_w = box
        erased = []
        for img in imgs:
            img = np.array(img, copy=True)
            img[top:top + box_h, left:left + box_w] = self._fill
            erased.append(img)
        results['imgs'] = erased
        results['erased_box'] = box
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(erase_prob={self.erase_prob}, '
                f'area_range={self.area_range}, min_aspect={self.min_aspect}, '
                f'fill_color={self.fill_color})')
