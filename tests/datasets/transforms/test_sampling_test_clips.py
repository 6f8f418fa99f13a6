"""Where the Kinetics test clips go (issue 12 item 3).

The official Video Swin code (mmaction2 0.x) starts each test clip at the centre of one
of ``num_clips`` equal segments; mmaction2 1.x spreads the clips from the first frame to
the last. ``SampleFrames(test_clips=...)`` offers both and the Kinetics recipes use the
official one. Each rule is checked against a plain re-statement written here, on videos
shorter than one clip, exactly one clip long, the issue's 300 frames and odd lengths,
and end to end on real encoded videos through the recipe's own test pipeline.
"""
import math
import os.path as osp

import numpy as np
import pytest
from mmaction.datasets.transforms import SampleFrames as UpstreamSampleFrames
from mmengine import Config

from videoswin.datasets.transforms import SampleFrames
from videoswin.registry import TRANSFORMS
from videoswin.utils import register_all_modules
from videoswin.utils.config_check import check_config
from videoswin.utils.errors import ConfigError
from videoswin.utils.video_io import write_video

register_all_modules()

K400 = 'configs/_base_/datasets/kinetics400_32x2x1.py'
RECIPE = ('configs/recognition/swin/'
          'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
LENGTHS = [1, 20, 40, 62, 63, 64, 65, 97, 127, 128, 300, 301, 1001]


def official_rule(total: int, clip_len: int, interval: int, num_clips: int) -> list:
    """Official test clips, restated: span = clip_len * interval; if the video holds a
    span, clip i starts at floor(seg * i + seg / 2) with seg = (total - span + 1) / n,
    else at 0; frame k of a clip is (start + k * interval) mod total."""
    span = clip_len * interval
    starts = [0] * num_clips
    if total >= span:
        seg = (total - span + 1) / num_clips
        starts = [math.floor(seg * i + seg / 2) for i in range(num_clips)]
    return [[(s + k * interval) % total for k in range(clip_len)] for s in starts]


def mmaction2_rule(total: int, clip_len: int, interval: int, num_clips: int) -> list:
    """mmaction2 1.x test clips (multi-frame clips), restated: the clip covers
    (clip_len - 1) * interval + 1 frames; the free room is max(total - that, 0); one clip
    starts at half of it (floored), several at round(i * room / (n - 1))."""
    room = max(total - ((clip_len - 1) * interval + 1), 0)
    if num_clips == 1:
        starts = [room // 2]
    else:
        starts = [round(i * (room / (num_clips - 1))) for i in range(num_clips)]
    return [[(s + k * interval) % total for k in range(clip_len)] for s in starts]


def sample(rule: str, total: int, clip_len: int = 32, interval: int = 2,
           num_clips: int = 4, start_index: int = 0) -> np.ndarray:
    transform = SampleFrames(clip_len=clip_len, frame_interval=interval, num_clips=num_clips,
                             test_mode=True, test_clips=rule)
    inds = transform(dict(total_frames=total, start_index=start_index))['frame_inds']
    return inds.reshape(num_clips, clip_len) - start_index


def test_issue_example_300_frames_32x2_four_clips():
    assert sample('official', 300)[:, 0].tolist() == [29, 88, 148, 207]
    assert sample('mmaction2', 300)[:, 0].tolist() == [0, 79, 158, 237]


@pytest.mark.parametrize('total', LENGTHS)
@pytest.mark.parametrize('clip_len, interval, num_clips', [(32, 2, 4), (32, 2, 10),
                                                           (32, 2, 1), (8, 4, 3), (16, 1, 5)])
def test_official_rule_matches_its_restatement(total, clip_len, interval, num_clips):
    got = sample('official', total, clip_len, interval, num_clips, start_index=1)
    assert got.tolist() == official_rule(total, clip_len, interval, num_clips)
    assert got.min() >= 0 and got.max() < total  # looped into the video


@pytest.mark.parametrize('total', LENGTHS)
@pytest.mark.parametrize('clip_len, interval, num_clips', [(32, 2, 4), (32, 2, 10),
                                                           (32, 2, 1), (8, 4, 3), (16, 1, 5)])
def test_mmaction2_rule_matches_its_restatement_and_upstream(total, clip_len, interval,
                                                              num_clips):
    got = sample('mmaction2', total, clip_len, interval, num_clips)
    assert got.tolist() == mmaction2_rule(total, clip_len, interval, num_clips)
    upstream = UpstreamSampleFrames(clip_len=clip_len, frame_interval=interval,
                                    num_clips=num_clips, test_mode=True)
    assert got.ravel().tolist() == upstream(dict(total_frames=total,
                                                 start_index=0))['frame_inds'].tolist()


def test_short_videos_start_every_clip_at_frame_zero_and_loop():
    # 40 frames < one 64-frame span: all clips identical, indices wrap past the end
    clips = sample('official', 40)
    assert (clips == clips[0]).all()
    assert clips[0].tolist() == [(2 * k) % 40 for k in range(32)]
    # exactly one span: a single possible start
    assert (sample('official', 64)[:, 0] == 0).all()


def test_one_clip_validation_is_the_same_under_both_rules():
    for total in range(1, 400):
        assert np.array_equal(sample('official', total, num_clips=1),
                              sample('mmaction2', total, num_clips=1)), total


def test_training_draws_are_mmaction2s_under_one_seed():
    for total in (40, 64, 300):
        for seed in range(3):
            np.random.seed(seed)
            ours = SampleFrames(32, 2, 1, test_clips='official')(
                dict(total_frames=total, start_index=0))['frame_inds']
            np.random.seed(seed)
            theirs = UpstreamSampleFrames(32, 2, 1)(dict(total_frames=total,
                                                          start_index=0))['frame_inds']
            assert np.array_equal(ours, theirs)


@pytest.mark.parametrize('kwargs, message', [
    (dict(test_clips='centre'), "test_clips must be one of \\('mmaction2', 'official'\\)"),
    (dict(test_clips='official', twice_sample=True), 'does not combine with twice_sample'),
])
def test_bad_switch_fails_naming_it(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TRANSFORMS.build(dict(type='SampleFrames', clip_len=32, **kwargs))


def test_misspelt_switch_is_named_before_anything_is_built(tmp_path):
    # mmaction2's SampleFrames swallows unknown arguments; ours names them
    child = tmp_path / 'typo.py'
    child.write_text(f"_base_ = ['{osp.abspath(RECIPE)}']\n"
                     "test_dataloader = dict(dataset=dict(pipeline=[dict(type='VideoInit'), "
                     "dict(type='SampleFrames', clip_len=32, test_clip='official')]))\n")
    cfg = Config.fromfile(str(child))
    with pytest.raises(ConfigError, match="test_clip.*test_clips"):
        check_config(cfg, 'test', check_paths=False)


def test_kinetics_recipes_test_and_validate_with_the_official_rule():
    cfg = Config.fromfile(K400)
    for loader in ('val_dataloader', 'test_dataloader'):
        step = next(t for t in cfg[loader].dataset.pipeline if t['type'] == 'SampleFrames')
        assert step['test_clips'] == 'official', loader
        assert isinstance(TRANSFORMS.build(dict(step)), SampleFrames)


def numbered_frames(total: int) -> np.ndarray:
    """Frame t shows t in two flat halves: left (t // 20) * 12 + 6, right (t % 20) * 12 + 6."""
    frames = np.empty((total, 32, 48, 3), np.uint8)
    for t in range(total):
        frames[t, :, :24] = (t // 20) * 12 + 6
        frames[t, :, 24:] = (t % 20) * 12 + 6
    return frames


def read_numbers(imgs: list) -> list:
    """Invert numbered_frames on decoded (resized, lossy) frames."""
    h, w = imgs[0].shape[:2]
    numbers = []
    for img in imgs:
        left = img[h // 4:3 * h // 4, w // 8:3 * w // 8].mean()
        right = img[h // 4:3 * h // 4, 5 * w // 8:7 * w // 8].mean()
        numbers.append(int(left // 12) * 20 + int(right // 12))
    return numbers


@pytest.mark.parametrize('total', [300, 97, 40])
def test_recipe_test_pipeline_decodes_the_official_frames_of_a_real_video(tmp_path, total):
    path = write_video(tmp_path / f'v{total}.mp4', numbered_frames(total), codec='h264')
    cfg = Config.fromfile(K400)
    steps = [TRANSFORMS.build(dict(t)) for t in cfg.test_pipeline[:3]]  # init, sample, decode
    assert [type(s).__name__ for s in steps] == ['VideoInit', 'SampleFrames', 'VideoDecode']
    results = dict(filename=str(path), start_index=0, modality='RGB')
    for step in steps:
        results = step(results)
    assert results['total_frames'] == total
    expected = [i for clip in official_rule(total, 32, 2, 4) for i in clip]
    assert results['frame_inds'].tolist() == expected
    assert read_numbers(results['imgs']) == expected
