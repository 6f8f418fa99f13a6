"""Decoding references: mmaction2's decord pipeline and ours, on the same frame indices."""
import numpy as np
from mmcv.transforms import Compose


def reference(video, indices, short_side=None):
    """Frames as mmaction2's DecordInit -> DecordDecode -> Resize((-1, s)) produce them."""
    steps = [dict(type='DecordInit'), dict(type='DecordDecode')]
    if short_side:
        steps.append(dict(type='Resize', scale=(-1, short_side)))
    pipeline = Compose(steps[:1])
    results = pipeline(dict(filename=str(video), start_index=0, modality='RGB'))
    results['frame_inds'] = np.asarray(indices)
    return Compose(steps[1:])(results)


def ours(video, indices, short_side=None):
    results = Compose([dict(type='VideoInit')])(dict(filename=str(video)))
    results['frame_inds'] = np.asarray(indices)
    return Compose([dict(type='VideoDecode', short_side=short_side)])(results)
