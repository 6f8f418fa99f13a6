"""``VideoInit`` / ``VideoDecode``: the drop-in, faster form of DecordInit / DecordDecode.

``VideoInit -> SampleFrames -> VideoDecode(short_side=256)`` yields exactly the frames of
``DecordInit -> SampleFrames -> DecordDecode -> Resize(scale=(-1, 256))`` (the same
indices, the same RGB conversion, the same bilinear resize; tests compare them bit for
bit) while decoding less (see :mod:`.clip_reader`). The resize is the reference's own
``mmcv.imresize`` applied to each frame as it leaves the decoder, so no full-size clip
is ever stored; benchmarks/data.py measures the gain.
"""
from typing import Dict, Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from videoswin.registry import TRANSFORMS

from .clip_reader import ClipReader


def short_side_size(width: int, height: int, short_side: int) -> Tuple[int, int]:
    """(new_w, new_h) with the short side ``short_side``, as ``Resize((-1, s))`` computes it."""
    return mmcv.rescale_size((width, height), (np.inf, short_side))


@TRANSFORMS.register_module()
class VideoInit(BaseTransform):
    """Open ``results['filename']`` and index its frames.

    Added keys: ``video_reader``, ``total_frames``, ``avg_fps``.

    Args:
        num_threads: threads per loader worker (1, as DecordInit's default); with 2,
            frames are converted and resized on a helper thread while the next ones
            decode (see :class:`ClipReader`).
    """

    def __init__(self, num_threads: int = 1) -> None:
        self.num_threads = num_threads

    def transform(self, results: Dict) -> Dict:
        reader = ClipReader(results['filename'], num_threads=self.num_threads)
        results['video_reader'] = reader
        results['total_frames'] = reader.total_frames
        results['avg_fps'] = reader.fps
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_threads={self.num_threads})'


@TRANSFORMS.register_module()
class VideoDecode(BaseTransform):
    """Decode ``results['frame_inds']``, optionally resizing the short side on the way.

    Required keys: ``video_reader``, ``frame_inds``. Added keys: ``imgs`` (list of
    (H, W, 3) uint8 RGB), ``original_shape``, ``img_shape``; with ``short_side`` also
    ``scale_factor`` and ``keep_ratio``, as ``Resize`` sets them.

    Args:
        short_side: if given, resize every frame so that its short side has this length
            (aspect ratio kept) -- the same as a following ``Resize(scale=(-1, short_side))``.
        interpolation: mmcv interpolation of that resize ('bilinear', as Resize's default).
    """

    def __init__(self, short_side: Optional[int] = None, interpolation: str = 'bilinear') -> None:
        self.short_side = short_side
        self.interpolation = interpolation

    def transform(self, results: Dict) -> Dict:
        reader: ClipReader = results['video_reader']
        indices = np.asarray(results['frame_inds']).reshape(-1)
        shape = {}

        def resize(frame: np.ndarray) -> np.ndarray:
            height, width = frame.shape[:2]
            shape.setdefault('original', (height, width))
            if self.short_side is None:
                return frame
            new_size = short_side_size(width, height, self.short_side)
            if new_size == (width, height):  # e.g. 340x256 videos: a resize would copy
                return frame
            return mmcv.imresize(frame, new_size, interpolation=self.interpolation)

        try:
            imgs = reader.read(indices, postprocess=resize)
        finally:
            reader.close()
            results['video_reader'] = None
        results['frame_inds'] = indices
        results['imgs'] = imgs
        results['original_shape'] = shape['original']
        results['img_shape'] = imgs[0].shape[:2]
        if self.short_side is not None:
            height, width = shape['original']
            new_h, new_w = results['img_shape']
            results['scale_factor'] = np.array([new_w / width, new_h / height], dtype=np.float32)
            results['keep_ratio'] = True
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(short_side={self.short_side}, '
                f'interpolation={self.interpolation!r})')
