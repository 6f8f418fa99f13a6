"""``ClipRandAugment``: imgaug's RandAugment for video, drawn once per clip, without imgaug.

The official SSv2 recipe runs ``Imgaug(transforms=[dict(type='RandAugment', n=4, m=7)])``:
mmaction2's wrapper freezes the augmenter once per clip (``to_deterministic``), so every
frame gets the same operations with the same parameters. imgaug does not install with
numpy 2, so this module re-implements imgaug 0.4's RandAugment on uint8 RGB frames with
Pillow (whose operations imgaug's ``pillike`` module copies):

* ``num_layers`` distinct operations, in random order, out of the 18 below;
* one magnitude ``m`` on imgaug's 0..30 scale, mapped per operation as imgaug does
  (at m=7: rotate +-7 deg, shear +-4.0 deg, translate +-7.7 %, posterize to 7 bits,
  solarize above 197, colour/contrast/brightness/sharpness factor 1 +- 0.21, a cutout
  square of 14.6 % of the side); the sign of each signed operation is random;
* filled pixels take imgaug's ``cval`` 128; affine warps sample nearest neighbours
  (Pillow's default), about the image centre for rotation and the top-left corner for
  shear and translation (imgaug's choices).

imgaug's RandAugment also *always* starts with a horizontal flip (p=0.5) and a crop of
up to m/224 of each side (resized back). The official SSv2 recipe therefore flipped half
of its clips even though its ``Flip`` ratio is 0. Here that prefix is off by default, as
flips change SSv2 labels ("left to right"); ``imgaug_prefix=True`` restores it for an
exact reproduction of the official recipe.
"""
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from videoswin.registry import TRANSFORMS

M_MAX = 30.0  # imgaug's magnitude scale
FILL = 128  # imgaug's cval
OPS: Tuple[str, ...] = (
    'identity', 'autocontrast', 'equalize', 'invert', 'rotate', 'posterize', 'solarize',
    'color', 'contrast', 'brightness', 'sharpness', 'shear_x', 'shear_y', 'translate_x',
    'translate_y', 'cutout', 'blur', 'smooth')


def op_strength(op: str, magnitude: float) -> float:
    """The unsigned strength of ``op`` at ``magnitude`` (imgaug's mapping of m)."""
    level = magnitude / M_MAX
    if op == 'rotate':
        return 30.0 * level  # degrees
    if op == 'posterize':
        return 8 - int(np.clip(int(6 * level), 0, 6))  # bits kept
    if op == 'solarize':
        return int(np.clip(256 - int(256 * level), 0, 256))  # threshold
    if op in ('color', 'contrast', 'brightness', 'sharpness'):
        return 0.9 * level  # enhancement factor is 1 +- this
    if op in ('shear_x', 'shear_y'):
        return float(np.rad2deg(0.3)) * level  # degrees
    if op in ('translate_x', 'translate_y'):
        return 0.33 * level  # fraction of the image side
    if op == 'cutout':
        return float(np.clip(20 / 32 * level, 0, 20 / 32))  # fraction of each side
    return 0.0


def _affine(img: Image.Image, matrix: Sequence[float]) -> Image.Image:
    """Pillow's inverse-mapped affine warp, nearest neighbour, filled with FILL."""
    return img.transform(img.size, Image.AFFINE, tuple(matrix), resample=Image.NEAREST,
                         fillcolor=(FILL,) * 3)


FrameOp = Callable[[Image.Image], Image.Image]


def make_op(op: str, magnitude: float, sign: float, size: Tuple[int, int],
            cutout_centre: Tuple[float, float] = (0.5, 0.5)) -> FrameOp:
    """The frame function of one drawn operation (all its randomness already fixed).

    Args:
        op: one of ``OPS``.
        magnitude: m on the 0..30 scale.
        sign: +1 or -1 for signed operations.
        size: (width, height) of the frames.
        cutout_centre: (x, y) of the cutout square's centre, as fractions of the size.
    """
    strength = op_strength(op, magnitude)
    width, height = size
    if op == 'identity':
        return lambda img: img
    if op == 'autocontrast':
        return lambda img: ImageOps.autocontrast(img, cutoff=0)
    if op == 'equalize':
        return ImageOps.equalize
    if op == 'invert':
        return ImageOps.invert
    if op == 'rotate':
        return lambda img: img.rotate(sign * strength, resample=Image.NEAREST,
                                      fillcolor=(FILL,) * 3)
    if op == 'posterize':
        return lambda img: ImageOps.posterize(img, int(strength))
    if op == 'solarize':
        return lambda img: ImageOps.solarize(img, threshold=int(strength))
    if op in ('color', 'contrast', 'brightness', 'sharpness'):
        enhancer = {'color': ImageEnhance.Color, 'contrast': ImageEnhance.Contrast,
                    'brightness': ImageEnhance.Brightness,
                    'sharpness': ImageEnhance.Sharpness}[op]
        factor = float(np.clip(1.0 + sign * strength, 0.1, 1.9))
        return lambda img: enhancer(img).enhance(factor)
    if op == 'shear_x':
        shear = np.tan(np.deg2rad(sign * strength))
        return lambda img: _affine(img, (1, shear, 0, 0, 1, 0))
    if op == 'shear_y':
        shear = np.tan(np.deg2rad(sign * strength))
        return lambda img: _affine(img, (1, 0, 0, shear, 1, 0))
    if op == 'translate_x':
        shift = sign * strength * width
        return lambda img: _affine(img, (1, 0, shift, 0, 1, 0))
    if op == 'translate_y':
        shift = sign * strength * height
        return lambda img: _affine(img, (1, 0, 0, 0, 1, shift))
    if op == 'cutout':
        box_w, box_h = strength * width, strength * height
        left = int(round(cutout_centre[0] * width - box_w / 2))
        top = int(round(cutout_centre[1] * height - box_h / 2))
        box = (max(left, 0), max(top, 0), min(int(round(left + box_w)), width),
               min(int(round(top + box_h)), height))

        def cutout(img: Image.Image) -> Image.Image:
            img = img.copy()
            if box[2] > box[0] and box[3] > box[1]:
                img.paste((FILL,) * 3, box)
            return img
        return cutout
    if op == 'blur':
        return lambda img: img.filter(ImageFilter.BLUR)
    if op == 'smooth':
        return lambda img: img.filter(ImageFilter.SMOOTH)
    raise ValueError(f'unknown RandAugment operation {op!r}; choose from {OPS}')


def crop_and_resize_back(frame: np.ndarray, crop: Sequence[float]) -> np.ndarray:
    """Crop fractions (top, right, bottom, left) off ``frame``, resize back (bilinear)."""
    height, width = frame.shape[:2]
    top, right, bottom, left = (int(round(f * s)) for f, s in
                                zip(crop, (height, width, height, width)))
    cropped = frame[top:height - bottom or None, left:width - right or None]
    if cropped.shape[:2] == (height, width):
        return frame
    return cv2.resize(np.ascontiguousarray(cropped), (width, height),
                      interpolation=cv2.INTER_LINEAR)


@TRANSFORMS.register_module()
class ClipRandAugment(BaseTransform):
    """RandAugment with one random draw per clip (see the module docstring).

    Required keys: ``imgs`` (list of (H, W, 3) uint8 RGB). Modified keys: ``imgs``.

    Args:
        num_layers: operations applied to each clip (imgaug's n; 4 in the SSv2 recipe).
        magnitude: strength on imgaug's 0..30 scale (m; 7 in the SSv2 recipe).
        imgaug_prefix: also apply imgaug's fixed prefix, a horizontal flip with p=0.5
            and a random crop of up to magnitude/224 per side (off: see above).
    """

    def __init__(self, num_layers: int = 4, magnitude: float = 7,
                 imgaug_prefix: bool = False) -> None:
        if not 0 <= num_layers <= len(OPS):
            raise ValueError(f'num_layers must be in [0, {len(OPS)}], got {num_layers}')
        if magnitude < 0:
            raise ValueError(f'magnitude must be >= 0, got {magnitude}')
        self.num_layers = num_layers
        self.magnitude = magnitude
        self.imgaug_prefix = imgaug_prefix

    def draw(self) -> List[Tuple[str, float, Tuple[float, float]]]:
        """The clip's operations: (name, sign, cutout centre) each, in order of application."""
        chosen = np.random.permutation(len(OPS))[:self.num_layers]
        return [(OPS[i], float(np.random.choice([-1.0, 1.0])),
                 (float(np.random.uniform()), float(np.random.uniform()))) for i in chosen]

    def transform(self, results: Dict) -> Dict:
        imgs = results['imgs']
        if not len(imgs):
            return results
        height, width = imgs[0].shape[:2]
        if self.imgaug_prefix:
            flip = np.random.rand() < 0.5
            crop = np.random.uniform(0, self.magnitude, size=4) / 224.0
            imgs = [crop_and_resize_back(img[:, ::-1] if flip else img, crop) for img in imgs]
        ops = [make_op(name, self.magnitude, sign, (width, height), centre)
               for name, sign, centre in self.draw()]
        out = []
        for img in imgs:
            pil = Image.fromarray(np.ascontiguousarray(img))
            for op in ops:
                pil = op(pil)
            out.append(np.asarray(pil, dtype=np.uint8).copy())
        results['imgs'] = out
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_layers={self.num_layers}, '
                f'magnitude={self.magnitude}, imgaug_prefix={self.imgaug_prefix})')
