"""``UniformSegmentSample``: the SSv2 recipe's frame sampling (the official ``frame_uniform``).

The video is cut into ``clip_len`` equal segments over its whole length and one frame is
taken from each: a random one in training, the middle one at test time. SSv2 clips are
short (~45 frames) and their label is about the whole action, hence the whole-video
coverage instead of a fixed-stride window.

mmaction2's ``UniformSample`` draws the same training frames (same segments, same
``np.random`` calls, so the same indices under one seed; a test checks it), but at test
time it takes ``start + int(segment / 2)`` instead of the official ``(start + end) // 2``,
which for SSv2-length videos is the segment *start*: a different clip from the one the
published numbers were measured on.
"""
from typing import Dict

import numpy as np
from mmcv.transforms import BaseTransform

from videoswin.registry import TRANSFORMS


def segment_bounds(total_frames: int, clip_len: int) -> np.ndarray:
    """(clip_len, 2) inclusive [start, end] of each of the equal segments over the video."""
    seg_size = float(total_frames - 1) / clip_len
    edges = np.round(seg_size * np.arange(clip_len + 1)).astype(np.int64)
    return np.stack([edges[:-1], edges[1:]], axis=1)


@TRANSFORMS.register_module()
class UniformSegmentSample(BaseTransform):
    """One frame per equal segment of the whole video.

    Required keys: ``total_frames``, ``start_index``. Added keys: ``frame_inds``,
    ``clip_len``, ``frame_interval`` (None), ``num_clips`` (1).

    Args:
        clip_len: number of segments = frames in the clip (32 in the SSv2 recipe).
        test_mode: take each segment's middle frame instead of a random one.
    """

    def __init__(self, clip_len: int, test_mode: bool = False) -> None:
        if clip_len < 1:
            raise ValueError(f'clip_len must be >= 1, got {clip_len}')
        self.clip_len = clip_len
        self.test_mode = test_mode

    def transform(self, results: Dict) -> Dict:
        total = int(results['total_frames'])
        if total < 1:
            raise ValueError(f'{results.get("filename", "video")} has no frames')
        bounds = segment_bounds(total, self.clip_len)
        if self.test_mode:
            inds = (bounds[:, 0] + bounds[:, 1]) // 2
        else:  # one draw per segment, in order (the calls mmaction2's UniformSample makes)
            inds = np.array([np.random.randint(start, end + 1) for start, end in bounds])
        results['frame_inds'] = (inds + results.get('start_index', 0)).astype(np.int32)
        results['clip_len'] = self.clip_len
        results['frame_interval'] = None
        results['num_clips'] = 1
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(clip_len={self.clip_len}, '
                f'test_mode={self.test_mode})')
