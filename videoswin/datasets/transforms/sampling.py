"""Frame sampling of the recipes, where it differs from mmaction2 1.x.

``SampleFrames`` (Kinetics): mmaction2's transform with a switch for where the test
clips go; ``test_clips='official'`` places them as the official Video Swin code did (see
:func:`official_test_offsets`), which is how the released checkpoints were scored.

``UniformSegmentSample`` (SSv2, the official ``frame_uniform``): the video is cut into
``clip_len`` equal segments over its whole length and one frame is taken from each: a
random one in training, the middle one at test time. SSv2 clips are short (~45 frames)
and their label is about the whole action, hence the whole-video coverage instead of a
fixed-stride window.

mmaction2's ``UniformSample`` draws the same training frames (same segments, same
``np.random`` calls, so the same indices under one seed; a test checks it), but at test
time it takes ``start + int(segment / 2)`` instead of the official ``(start + end) // 2``,
which for SSv2-length videos is the segment *start*: a different clip from the one the
published numbers were measured on.
"""
from typing import Dict, Optional

import numpy as np
from mmaction.datasets.transforms import SampleFrames as MMActionSampleFrames
from mmcv.transforms import BaseTransform

from videoswin.registry import TRANSFORMS


TEST_CLIP_RULES = ('mmaction2', 'official')


def official_test_offsets(total_frames: int, clip_len: int, frame_interval: int,
                          num_clips: int) -> np.ndarray:
    """Start frame of each test clip, as the official code (mmaction2 0.x) chose them.

    The room left for a start, ``total - span + 1`` with ``span = clip_len x interval``,
    is cut into ``num_clips`` equal segments and each clip starts at the (floored)
    centre of one. A video shorter than one span gets every clip at frame 0; its
    frames then loop (the caller takes indices modulo the length).
    """
    span = clip_len * frame_interval
    if total_frames < span:
        return np.zeros(num_clips, dtype=np.int64)
    segment = (total_frames - span + 1) / float(num_clips)
    return (np.arange(num_clips) * segment + segment / 2.0).astype(np.int64)


@TRANSFORMS.register_module(name='SampleFrames')
class SampleFrames(MMActionSampleFrames):
    """mmaction2's ``SampleFrames`` plus a choice of test-clip placement.

    Training clips, index looping and every other argument are mmaction2's. Only
    ``test_mode`` clip starts depend on ``test_clips``; for a 300-frame video and
    4 clips of 32 frames at stride 2:

    * ``'official'``: centres of 4 equal segments, starts 29, 88, 148, 207
      (:func:`official_test_offsets`); the Kinetics recipes use it.
    * ``'mmaction2'`` (default, so configs written for mmaction2 1.x keep their
      meaning): first clip at the start, last one ending at the last frame, the rest
      evenly between, starts 0, 79, 158, 237.

    With one clip (the recipes' validation) both give the same start for every length.

    Args:
        clip_len, frame_interval, num_clips, temporal_jitter, twice_sample,
        out_of_bound_opt, test_mode, keep_tail_frames, target_fps: as in mmaction2
            (written out, not taken as ``**kwargs``, so a misspelt argument is an error).
        test_clips: 'official' or 'mmaction2', as above.
    """

    def __init__(self, clip_len: int, frame_interval: int = 1, num_clips: int = 1,
                 temporal_jitter: bool = False, twice_sample: bool = False,
                 out_of_bound_opt: str = 'loop', test_mode: bool = False,
                 keep_tail_frames: bool = False, target_fps: Optional[int] = None,
                 test_clips: str = 'mmaction2') -> None:
        super().__init__(clip_len, frame_interval, num_clips, temporal_jitter, twice_sample,
                         out_of_bound_opt, test_mode, keep_tail_frames, target_fps)
        if test_clips not in TEST_CLIP_RULES:
            raise ValueError(f'SampleFrames: test_clips must be one of {TEST_CLIP_RULES}, '
                             f'got {test_clips!r}')
        if test_clips == 'official' and (self.twice_sample or self.target_fps is not None):
            raise ValueError("SampleFrames: test_clips='official' does not combine with "
                             'twice_sample or target_fps (mmaction2-only options)')
        self.test_clips = test_clips

    def _get_test_clips(self, num_frames: int, ori_clip_len: float) -> np.ndarray:
        if self.test_clips == 'official':
            return official_test_offsets(num_frames, self.clip_len, self.frame_interval,
                                         self.num_clips)
        return super()._get_test_clips(num_frames, ori_clip_len)

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, test_clips={self.test_clips!r})'


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
