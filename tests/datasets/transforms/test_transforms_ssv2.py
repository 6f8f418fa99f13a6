"""The SSv2 recipe's transforms: uniform segment sampling, per-clip RandAugment, clip erasing."""
import numpy as np
import pytest
import torch
from mmaction.datasets.transforms import UniformSample
from PIL import Image, ImageEnhance, ImageOps

from videoswin.datasets.transforms import (ClipRandAugment, ClipRandomErasing,
                                           UniformSegmentSample)
from videoswin.datasets.transforms.rand_augment import OPS, make_op, op_strength


# -- sampling -------------------------------------------------------------------------------
def official_test_indices(total, clip_len):
    """The official frame_uniform test sampler, written out: the middle of each segment."""
    seg = (total - 1) / clip_len
    return [(int(np.round(seg * i)) + int(np.round(seg * (i + 1)))) // 2 for i in range(clip_len)]


@pytest.mark.parametrize('total', [45, 32, 20, 200])
def test_training_draws_equal_mmaction2_uniform_sample_under_one_seed(total):
    for seed in range(5):
        np.random.seed(seed)
        ours = UniformSegmentSample(32)(dict(total_frames=total, start_index=0))['frame_inds']
        np.random.seed(seed)
        theirs = UniformSample(32)(dict(total_frames=total, start_index=0))['frame_inds']
        assert np.array_equal(ours, theirs)


@pytest.mark.parametrize('total', [45, 51, 20, 300])
def test_test_mode_takes_each_segments_middle_frame_as_the_official_sampler(total):
    got = UniformSegmentSample(32, test_mode=True)(dict(total_frames=total, start_index=0))
    assert got['frame_inds'].tolist() == official_test_indices(total, 32)
    assert got['num_clips'] == 1 and got['clip_len'] == 32


def test_training_clip_spans_the_whole_video_in_order():
    np.random.seed(0)
    for total in (45, 64, 300):
        inds = UniformSegmentSample(32)(dict(total_frames=total, start_index=1))['frame_inds'] - 1
        assert np.all(np.diff(inds) >= 0) and inds[0] <= (total - 1) / 32 + 1
        assert inds[-1] >= (total - 1) * 31 / 32 - 1 and inds[-1] <= total - 1


# -- RandAugment ------------------------------------------------------------------------------
@pytest.fixture
def clip():
    rng = np.random.default_rng(0)
    frames = []
    base = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    for t in range(6):
        frame = base.copy()
        frame[10:20, 5 + 4 * t:15 + 4 * t] = 255  # a moving square: the frames differ
        frames.append(frame)
    return frames


def test_one_draw_per_clip_every_frame_gets_the_same_operations(clip):
    """Each output frame equals that frame augmented alone with the clip's drawn ops."""
    aug = ClipRandAugment(num_layers=4, magnitude=7)
    for seed in range(20):
        np.random.seed(seed)
        drawn = aug.draw()
        np.random.seed(seed)
        out = aug(dict(imgs=list(clip)))['imgs']
        ops = [make_op(name, 7, sign, (64, 48), centre) for name, sign, centre in drawn]
        for frame, got in zip(clip, out):
            pil = Image.fromarray(frame)
            for op in ops:
                pil = op(pil)
            assert np.array_equal(np.asarray(pil), got)
        assert len({name for name, _, _ in drawn}) == 4  # four distinct operations


def test_identical_frames_stay_identical_through_any_draw(clip):
    frames = [clip[0].copy() for _ in range(4)]
    for seed in range(30):
        np.random.seed(seed)
        out = ClipRandAugment(4, 7, imgaug_prefix=seed % 2 == 1)(dict(imgs=list(frames)))['imgs']
        assert all(np.array_equal(out[0], o) for o in out[1:])
        assert out[0].dtype == np.uint8 and out[0].shape == frames[0].shape


def test_magnitude_7_maps_to_imgaugs_strengths():
    # imgaug: level = m / 30; int() truncation where imgaug discretizes
    assert op_strength('rotate', 7) == pytest.approx(7.0)
    assert op_strength('posterize', 7) == 8 - int(6 * 7 / 30)
    assert op_strength('solarize', 7) == 256 - int(256 * 7 / 30)
    assert op_strength('shear_x', 7) == pytest.approx(np.degrees(0.3) * 7 / 30)
    assert op_strength('translate_y', 7) == pytest.approx(0.33 * 7 / 30)
    assert op_strength('brightness', 7) == pytest.approx(0.9 * 7 / 30)
    assert op_strength('cutout', 7) == pytest.approx(20 / 32 * 7 / 30)


def test_pixel_operations_agree_with_their_numpy_definitions(clip):
    img = Image.fromarray(clip[0])
    x = clip[0].astype(np.int32)
    def apply(name, sign=1.0):
        return np.asarray(make_op(name, 7, sign, (64, 48))(img)).astype(np.int32)

    assert np.array_equal(apply('invert'), 255 - x)
    assert np.array_equal(apply('posterize'), x & 0b11111110)  # 7 bits kept
    assert np.array_equal(apply('solarize'), np.where(x >= 197, 255 - x, x))
    assert np.array_equal(apply('identity'), x)
    assert np.array_equal(apply('brightness', 1.0),
                          np.asarray(ImageEnhance.Brightness(img).enhance(1.21)).astype(np.int32))
    assert np.array_equal(apply('autocontrast'),
                          np.asarray(ImageOps.autocontrast(img)).astype(np.int32))


def test_translation_shifts_by_the_magnitude_and_fills_grey(clip):
    img = Image.fromarray(clip[0])
    shift = int(round(0.33 * 7 / 30 * 64))  # 4.928 px of a 64-px width -> nearest sampling
    moved = np.asarray(make_op('translate_x', 7, 1.0, (64, 48))(img))
    assert np.array_equal(moved[:, :64 - shift], clip[0][:, shift:])
    assert np.all(moved[:, 64 - shift + 1:] == 128)


def test_cutout_fills_one_grey_square_of_the_magnitudes_size(clip):
    cutout = make_op('cutout', 7, 1.0, (64, 48), cutout_centre=(0.5, 0.5))
    out = np.asarray(cutout(Image.fromarray(clip[0])))
    changed = np.any(out != clip[0], axis=-1)
    ys, xs = np.nonzero(changed)
    assert np.all(out[changed] == 128)
    assert xs.max() - xs.min() + 1 == pytest.approx(0.1458 * 64, abs=1)
    assert ys.max() - ys.min() + 1 == pytest.approx(0.1458 * 48, abs=1)


def test_no_flip_unless_the_imgaug_prefix_is_asked_for(clip):
    """imgaug's RandAugment flips half the clips; by default ours never does."""
    frames = [f.copy() for f in clip]
    np.random.seed(0)
    plain = [ClipRandAugment(num_layers=0)(dict(imgs=list(frames)))['imgs'] for _ in range(20)]
    assert all(np.array_equal(a, b) for out in plain for a, b in zip(out, frames))
    flips = 0
    for seed in range(40):
        np.random.seed(seed)
        aug = ClipRandAugment(num_layers=0, magnitude=0, imgaug_prefix=True)
        out = aug(dict(imgs=list(frames)))['imgs']
        is_flipped = [np.array_equal(o, f[:, ::-1]) for o, f in zip(out, frames)]
        assert len(set(is_flipped)) == 1  # the whole clip or none of it
        flips += is_flipped[0]
    assert 10 <= flips <= 30  # p = 0.5 over 40 clips


def test_every_operation_runs_on_odd_sized_and_grey_content():
    frame = np.full((31, 45, 3), 90, np.uint8)
    frame[5:9, 7:20] = 200
    for name in OPS:
        for sign in (-1.0, 1.0):
            out = np.asarray(make_op(name, 7, sign, (45, 31))(Image.fromarray(frame)))
            assert out.shape == frame.shape and out.dtype == np.uint8, name


# -- random erasing -------------------------------------------------------------------------
def test_erasing_uses_one_box_for_the_whole_clip_filled_with_the_mean(clip):
    eraser = ClipRandomErasing(erase_prob=1.0)
    for seed in range(10):
        np.random.seed(seed)
        out = eraser(dict(imgs=list(clip)))
        top, left, h, w = out['erased_box']
        for frame, got in zip(clip, out['imgs']):
            assert np.all(got[top:top + h, left:left + w] == [124, 116, 104])
            outside = np.ones(frame.shape[:2], bool)
            outside[top:top + h, left:left + w] = False
            assert np.array_equal(got[outside], frame[outside])
        assert 0.02 * 48 * 64 * 0.7 <= h * w <= 48 * 64 / 3 * 1.3
        assert h < 48 and w < 64


def test_erasing_probability_is_respected():
    frames = [np.zeros((32, 32, 3), np.uint8)]
    np.random.seed(1)
    erased = sum('erased_box' in ClipRandomErasing(0.25)(dict(imgs=list(frames)))
                 for _ in range(400))
    assert 70 <= erased <= 130  # 100 expected; binomial sd 8.7


def test_erased_pixels_normalise_to_about_zero_like_the_official_zero_fill():
    from mmaction.models import ActionDataPreprocessor

    np.random.seed(3)
    out = ClipRandomErasing(1.0)(dict(imgs=[np.zeros((40, 40, 3), np.uint8)] * 2))
    top, left, h, w = out['erased_box']
    clip = torch.from_numpy(np.stack(out['imgs'])).permute(3, 0, 1, 2)[None]  # N C T H W
    pre = ActionDataPreprocessor(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                                 format_shape='NCTHW')
    normalised = pre(dict(inputs=[clip], data_samples=None))['inputs']
    assert normalised.shape == (1, 1, 3, 2, 40, 40)  # N, views, C, T, H, W
    box = normalised[0, 0, :, :, top:top + h, left:left + w]
    assert box.abs().max() <= 0.5 / 57.12 + 1e-6
