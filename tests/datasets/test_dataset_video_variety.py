"""Real-world video shapes through the whole pipeline: short, grey, portrait, odd-sized, VFR.

Each video goes through our pipeline (VideoInit -> SampleFrames -> VideoDecode) and
through mmaction2's (DecordInit -> SampleFrames -> DecordDecode -> Resize) under the
same seed; the frames must be identical, and each case's own property is checked.
"""
import numpy as np
import pytest
from mmcv.transforms import Compose

from videoswin.testing.sample_data import encode_h264, moving_square
from videoswin.utils import register_all_modules
from videoswin.utils.video_io import write_video

register_all_modules()
CLIP = dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1)
TRAIN_TAIL = [dict(type='RandomResizedCrop'), dict(type='Resize', scale=(32, 32), keep_ratio=False),
              dict(type='Flip', flip_ratio=0.5), dict(type='FormatShape', input_format='NCTHW'),
              dict(type='PackActionInputs')]


def numbered(num_frames, height, width):
    """Frame t has a top band of brightness 8 * t, so its index can be read back."""
    frames = moving_square(num_frames, height, width, (1, 1), seed=1)
    for t in range(num_frames):
        frames[t, :4] = 8 * t  # a band whose value is the frame number
    return frames


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp('variety')
    return {
        'short': write_video(root / 'short.mp4', numbered(5, 48, 64), codec='h264'),
        'grey': write_video(root / 'grey.mp4', numbered(20, 48, 64).mean(-1).astype(np.uint8),
                            codec='mpeg4'),
        'portrait': write_video(root / 'portrait.mp4', numbered(20, 96, 56), codec='h264'),
        'odd': encode_h264(root / 'odd.mp4', numbered(20, 45, 61), pix_fmt='yuv444p'),
        # 10 frames at 40 ms, 10 at 120 ms, 10 at 40 ms: the frame rate changes twice
        'vfr': encode_h264(root / 'vfr.mp4', numbered(30, 48, 64),
                           timestamps_ms=np.cumsum([0] + [40] * 9 + [120] * 10 + [40] * 10)),
    }


def run_both(video, short_side=32, seed=0, clip=CLIP):
    np.random.seed(seed)
    ours = Compose([dict(type='VideoInit'), clip, dict(type='VideoDecode', short_side=short_side)])(
        dict(filename=str(video), start_index=0, modality='RGB'))
    np.random.seed(seed)
    theirs = Compose([dict(type='DecordInit'), clip, dict(type='DecordDecode'),
                      dict(type='Resize', scale=(-1, short_side))])(
        dict(filename=str(video), start_index=0, modality='RGB'))
    assert np.array_equal(ours['frame_inds'], theirs['frame_inds'])
    assert np.array_equal(np.stack(ours['imgs']), np.stack(theirs['imgs']))
    return ours


def band_values(imgs):
    return [int(round(img[:1, :, 0].mean() / 8)) for img in imgs]


def test_a_video_shorter_than_the_clip_loops_its_frames(videos):
    for seed in range(4):
        out = run_both(videos['short'], seed=seed)
        start = out['frame_inds'][0]
        assert out['frame_inds'].tolist() == [(start + 2 * k) % 5 for k in range(8)]
        assert band_values(out['imgs']) == out['frame_inds'].tolist()


def test_grey_video_decodes_to_three_equal_channels(videos):
    img = run_both(videos['grey'])['imgs'][0]
    assert img.shape == (32, 43, 3)
    assert np.abs(img[..., 0].astype(int) - img[..., 1]).max() <= 2
    assert np.abs(img[..., 0].astype(int) - img[..., 2]).max() <= 2


def test_portrait_video_scales_its_width_to_the_short_side(videos):
    out = run_both(videos['portrait'], short_side=32)
    assert out['img_shape'] == (55, 32) and out['original_shape'] == (96, 56)


def test_odd_sized_frames_keep_their_odd_size(videos):
    out = run_both(videos['odd'], short_side=33)
    assert out['original_shape'] == (45, 61) and out['img_shape'] == (33, 45)


def test_variable_frame_rate_indexes_every_frame_in_presentation_order(videos):
    clip = dict(type='SampleFrames', clip_len=30, frame_interval=1, num_clips=1, test_mode=True)
    out = run_both(videos['vfr'], clip=clip)
    assert out['total_frames'] == 30
    assert band_values(out['imgs']) == list(range(30))


@pytest.mark.parametrize('name', ['short', 'grey', 'portrait', 'odd', 'vfr'])
def test_every_kind_goes_through_the_training_pipeline(videos, name):
    pipeline = Compose([dict(type='VideoInit'), CLIP, dict(type='VideoDecode', short_side=40)]
                       + TRAIN_TAIL)
    np.random.seed(0)
    sample = pipeline(dict(filename=str(videos[name]), start_index=0, modality='RGB', label=0))
    assert sample['inputs'].shape == (1, 3, 8, 32, 32)
