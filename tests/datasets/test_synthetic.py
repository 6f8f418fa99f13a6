"""The synthetic dataset: the label is the direction of motion and nothing else."""
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import decord
import numpy as np
import pytest

from videoswin.datasets.synthetic import (CLASSES, REVERSED_LABEL, make_clip,
                                          make_synthetic_dataset, render_clip,
                                          sample_clip_spec)

from helpers import REPO_ROOT

SEEDS = range(12)


@pytest.mark.parametrize('seed', SEEDS)
def test_each_class_is_the_time_reverse_of_the_other(seed):
    for label, reversed_label in REVERSED_LABEL.items():
        assert np.array_equal(make_clip(seed, label)[::-1], make_clip(seed, reversed_label))


def test_an_order_blind_view_is_identical_for_both_labels():
    """Any function of the set of frames (here: sorted frame hashes and the temporal
    mean) takes the same value for both labels, so it cannot beat chance."""
    for seed in SEEDS:
        down, up = make_clip(seed, 0), make_clip(seed, 1)
        assert sorted(map(bytes, down)) == sorted(map(bytes, up))
        assert np.array_equal(down.mean(axis=0), up.mean(axis=0))


def vertical_step(previous: np.ndarray, current: np.ndarray, background: np.ndarray) -> int:
    """The vertical shift (frames wrap around) that best maps one frame's moving
    pixels onto the next frame's."""
    moved = [np.any(frame != background, axis=-1) for frame in (previous, current)]
    return max(range(-4, 5), key=lambda dy: np.sum(np.roll(moved[0], dy, axis=0) & moved[1]))


def test_pixels_move_down_or_up_as_the_label_says():
    rng = np.random.default_rng(3)
    for _ in range(5):
        spec = sample_clip_spec(rng)
        spec = replace(spec, sprites=spec.sprites[:1], paths=spec.paths[:1])  # one square
        for label, sign in ((CLASSES.index('moving_down'), 1), (CLASSES.index('moving_up'), -1)):
            frames = render_clip(spec, label)
            steps = [vertical_step(a, b, spec.background) for a, b in zip(frames, frames[1:])]
            assert all(sign * step >= 1 for step in steps), steps


def test_squares_wrap_around_the_frame_edges():
    """Uniform positions at every frame index: no edge tells how far along a path is."""
    spec = sample_clip_spec(np.random.default_rng(0))
    frames = render_clip(spec, 0)
    moving = np.any(frames != spec.background, axis=-1)  # (T, H, W)
    top_and_bottom = moving[:, 0].any(axis=1) & moving[:, -1].any(axis=1)
    assert top_and_bottom.any()  # some frame shows a square cut by the bottom edge


def test_clips_differ_in_appearance_and_path():
    clips = [make_clip(seed, 0) for seed in SEEDS]
    assert len({clip.tobytes() for clip in clips}) == len(clips)
    starts = {tuple(path[0]) for seed in SEEDS
              for path in sample_clip_spec(np.random.default_rng(seed)).paths}
    assert len(starts) > len(SEEDS) // 2


def test_render_refuses_unknown_label():
    with pytest.raises(ValueError, match='label'):
        render_clip(sample_clip_spec(np.random.default_rng(0)), 2)


@pytest.mark.slow
def test_decoded_videos_keep_the_time_reversal_exact(tmp_path):
    """A lossy codec would leak frame order (how well a frame is coded depends on its
    place in the stream); the dataset is written lossless, so decoding keeps the
    two classes exact time-reverses of each other."""
    code = textwrap.dedent(f'''
        from videoswin.datasets.synthetic import LOSSLESS, make_clip
        from videoswin.utils.video_io import write_video
        for label in (0, 1):
            for codec, ext in (('h264', 'mp4'), ('vp9', 'webm')):
                write_video(f'{tmp_path}/{{label}}.{{ext}}', make_clip(5, label), codec=codec,
                            quality=LOSSLESS)
        ''')
    subprocess.run([sys.executable, '-c', code], check=True, capture_output=True)  # no decord
    for ext in ('mp4', 'webm'):
        down, up = (decord.VideoReader(str(tmp_path / f'{label}.{ext}')).get_batch(
            list(range(24))).asnumpy() for label in (0, 1))
        assert np.array_equal(down, up[::-1]), ext


def read_list(path: Path):
    return [line.split() for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_written_dataset_has_both_layouts_with_decodable_videos(tmp_path):
    # A fresh interpreter: once decord is loaded, VP9 can only be encoded out of process.
    subprocess.run([sys.executable, str(REPO_ROOT / 'tools/data/make_synthetic.py'), str(tmp_path),
                    '--seed', '1', '--num-train', '3', '--num-val', '2', '--num-frames', '20'],
                   check=True, capture_output=True)
    assert (tmp_path / 'classes.txt').read_text().split() == list(CLASSES)
    layouts = [(tmp_path, lambda split: tmp_path / split, '.mp4'),
               (tmp_path / 'sthv2', lambda split: tmp_path / 'sthv2' / 'videos', '.webm')]
    names = set()
    for list_dir, video_dir, suffix in layouts:
        for split, per_class in (('train', 3), ('val', 2)):
            entries = read_list(list_dir / f'{split}_list.txt')
            labels = [int(label) for _, label in entries]
            assert sorted(labels) == sorted(list(range(len(CLASSES))) * per_class)
            for name, _ in entries:
                assert name.endswith(suffix)
                reader = decord.VideoReader(str(video_dir(split) / name))
                assert len(reader) == 20 and reader[0].shape == (64, 80, 3)
                names.add((list_dir, name))
    assert len(names) == 2 * 2 * 5  # no file written twice within a layout


def test_the_same_seed_gives_the_same_dataset(tmp_path):
    for run in ('a', 'b'):
        make_synthetic_dataset(tmp_path / run, seed=7, num_train=2, num_val=1, ssv2_style=False)
    assert (tmp_path / 'a/train_list.txt').read_text() == (tmp_path / 'b/train_list.txt').read_text()
    name = read_list(tmp_path / 'a/val_list.txt')[0][0]
    frames = [decord.VideoReader(str(tmp_path / run / 'val' / name)).get_batch([0, 9]).asnumpy()
              for run in ('a', 'b')]
    assert np.array_equal(*frames)
