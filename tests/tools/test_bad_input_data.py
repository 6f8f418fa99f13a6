"""Damaged data and wrong data options, through the tools as a user runs them: each row
is (damage, tool, expected exit status, regex of the printed line).

A failing row must end with exactly one ``error: ...`` line on stderr: no traceback,
and no torch "Caught ... in DataLoader worker process" wrapper (the test loaders run
one worker, so errors raised while loading cross the worker boundary). The data are
real: an official Kinetics CSV with class names holding spaces, H.264 videos in the
downloader layout, the lists written by ``tools/data/build_kinetics_list.py``.
"""
import re
import runpy
import shutil
import sys
from pathlib import Path
from typing import Callable, List, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from videoswin.datasets import BadSampleError
from videoswin.datasets.annotations import parse_video_list
from videoswin.testing.sample_data import damage, make_kinetics
from videoswin.registry import MODELS
from videoswin.utils import register_all_modules
from videoswin.utils.errors import one_line

from helpers import REPO_ROOT
from helpers import load_tool

CLASSES = ('air drumming', 'abseiling', 'zumba')
CONFIG = """
_base_ = ['{repo}/configs/demo/swin-micro_synthetic.py']
model = dict(cls_head=dict(num_classes=3))
train_dataloader = dict(
    batch_size=2, num_workers=1, persistent_workers=False,
    dataset=dict(type='VideoDataset', ann_file='{train}', data_prefix=dict(video='{root}')))
test_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False,
    dataset=dict(type='VideoDataset', ann_file='{val}', data_prefix=dict(video='{root}'),
                 test_mode=True))
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
env_cfg = dict(num_threads=1)
"""


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp('bad_input_data')
    kinetics = make_kinetics(root, classes=CLASSES, clips_per_class={'train': 2, 'val': 1})
    assert load_tool('data/build_kinetics_list').main([
        str(kinetics['csv']['train']), str(kinetics['csv']['val']), '--video-root',
        str(kinetics['video_root']), '--out-dir', str(root)]) == 0
    config = root / 'user_config.py'
    config.write_text(CONFIG.format(repo=REPO_ROOT, root=kinetics['video_root'],
                                    train=root / 'kinetics400_train_list_videos.txt',
                                    val=root / 'kinetics400_val_list_videos.txt'))
    register_all_modules()
    torch.manual_seed(0)
    checkpoint = root / 'random_weights.pth'
    model = MODELS.build(Config.fromfile(str(config)).model)
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, checkpoint)
    return dict(kinetics, root=root, config=config, checkpoint=checkpoint)


# -- damages: (data, tmp_path) -> the tool's arguments -------------------------------------
def _videos(data: dict, tmp_path: Path) -> Path:
    """A private copy of the video root, free to damage."""
    return Path(shutil.copytree(data['video_root'], tmp_path / 'videos'))


def _listed(data: dict, split: str) -> List[str]:
    return [s['filename'] for s in parse_video_list(
        data['root'] / f'kinetics400_{split}_list_videos.txt')]


def _damage_first(split: str, kind: str, count: int = 1) -> Callable:
    def apply(data: dict, tmp_path: Path) -> List[str]:
        videos = _videos(data, tmp_path)
        for relative in _listed(data, split)[:count]:
            damage(videos / relative, kind)
        return [f'{"test" if split == "val" else "train"}_dataloader.dataset.data_prefix.video'
                f'={videos}']
    return apply


def _root(split: str, where: Callable) -> Callable:
    def apply(data: dict, tmp_path: Path) -> List[str]:
        return [f'{split}_dataloader.dataset.data_prefix.video={where(data, tmp_path)}']
    return apply


def _empty_folder(data: dict, tmp_path: Path) -> Path:
    (tmp_path / 'empty').mkdir()
    return tmp_path / 'empty'


def _malformed_list(data: dict, tmp_path: Path) -> List[str]:
    lines = (data['root'] / 'kinetics400_train_list_videos.txt').read_text().splitlines()
    lines[1] = lines[1].rsplit(' ', 1)[0] + ' drumming'
    (tmp_path / 'list.txt').write_text('\n'.join(lines) + '\n')
    return [f'train_dataloader.dataset.ann_file={tmp_path / "list.txt"}']


def _csv_without_videos(data: dict, tmp_path: Path) -> List[str]:
    (tmp_path / 'empty').mkdir()
    return ['train_dataloader.dataset.type=KineticsDataset',
            f'train_dataloader.dataset.ann_file={data["csv"]["train"]}',
            f'train_dataloader.dataset.data_prefix.video={tmp_path / "empty"}']


def _csv_without_youtube_id(data: dict, tmp_path: Path) -> List[str]:
    text = data['csv']['train'].read_text().replace('youtube_id', 'ytid', 1)
    (tmp_path / 'train.csv').write_text(text)
    return [str(tmp_path / 'train.csv'), '--video-root', str(data['video_root']),
            '--out-dir', str(tmp_path / 'out')]


def _ssv2_folder_without_labels(data: dict, tmp_path: Path) -> List[str]:
    (tmp_path / 'annotations').mkdir()
    return [str(tmp_path / 'annotations'), '--out-dir', str(tmp_path / 'out')]


def _check_damaged_list(data: dict, tmp_path: Path) -> List[str]:
    videos = _videos(data, tmp_path)
    damage(videos / _listed(data, 'val')[0], 'corrupt_tail')
    return [str(data['root'] / 'kinetics400_val_list_videos.txt'), '--video-root', str(videos)]


def _check_missing_list(data: dict, tmp_path: Path) -> List[str]:
    return [str(tmp_path / 'no_list.txt'), '--video-root', str(data['video_root'])]


def _arguments(tool_name: str, data: dict, tmp_path: Path, extra: List[str]) -> List[str]:
    if tool_name == 'train.py':
        return [str(data['config']), '--work-dir', str(tmp_path / 'w'), '--cfg-options', *extra]
    if tool_name == 'test.py':
        return [str(data['config']), str(data['checkpoint']), '--work-dir',
                str(tmp_path / 'w'), '--cfg-options', *extra]
    return extra  # the data tools take their own arguments


LOADED = r"cannot load \S.*/val/\S.*\.mp4: "
SKIP_HINT = r"set on_bad_sample='skip' on the dataset"
ROWS = [
    pytest.param(_damage_first('val', 'zero'), 'test.py', 1,
                 rf'^error: BadSampleError: {LOADED}RuntimeError: Error reading 0 bytes'
                 rf'.*{SKIP_HINT}',
                 id='test video of 0 bytes'),
    pytest.param(_damage_first('val', 'corrupt_tail'), 'test.py', 1,
                 rf'^error: BadSampleError: {LOADED}.*decod.*{SKIP_HINT}',
                 id='test video failing part-way through decoding'),
    pytest.param(_root('test', lambda d, t: d['root']), 'test.py', 1,
                 r'^error: ConfigError: test_dataloader\.dataset\.data_prefix\.video: none of '
                 r'the first 3 videos listed in \S+ is under \S+ \(e\.g\. .*/val/.*\); they are '
                 r"under \S+/videos: set data_prefix=dict\(video='\S+/videos'\)",
                 id='test video root one folder too high'),
    pytest.param(_root('train', lambda d, t: d['video_root'] / 'train'), 'train.py', 1,
                 r'^error: ConfigError: train_dataloader\.dataset\.data_prefix\.video: none of '
                 r'the first 6 videos listed in .* is under \S+/train \(e\.g\. \S+/train/train/'
                 r'air drumming/.*\); they are under \S+/videos',
                 id='train video root one folder too deep'),
    pytest.param(_root('train', _empty_folder), 'train.py', 1,
                 r'^error: ConfigError: train_dataloader\.dataset\.data_prefix\.video: none of '
                 r"the first 6 videos .*; set it to the folder the list's paths are relative to",
                 id='train video root without the videos'),
    pytest.param(_malformed_list, 'train.py', 1,
                 r'^error: AnnotationError: \S+/list\.txt:2: expected "path label", got '
                 r"'train/\S.*drumming'",
                 id='list line whose label is not a number'),
    pytest.param(_csv_without_videos, 'train.py', 1,
                 r'^error: .*train\.csv: none of its 6 clips has a video under \S+/empty',
                 id='Kinetics CSV with a video root without its videos'),
    pytest.param(_damage_first('train', 'garbage', count=6), 'train.py', 1,
                 r'^error: BadSampleError: 51 samples in a row could not be loaded \(last: .*\)\. '
                 r'This is a broken pipeline or data root',
                 id='every training video damaged'),
    pytest.param(_damage_first('train', 'corrupt_tail'), 'train.py', 0,
                 r'bad sample \S.*/train/\S.*\.mp4: .*; replaced by another sample',
                 id='one training video failing part-way: replaced'),
    pytest.param(_check_damaged_list, 'data/check_videos.py', 1,
                 r'^\S.*/val/\S.*\.mp4\tVideoReadError: cannot decode',
                 id='check_videos lists a video failing part-way'),
    pytest.param(_check_missing_list, 'data/check_videos.py', 1,
                 r'^error: FileNotFoundError: annotation file \S+/no_list\.txt does not exist',
                 id='check_videos without its list'),
    pytest.param(_csv_without_youtube_id, 'data/build_kinetics_list.py', 1,
                 r"^error: AnnotationError: \S+/train\.csv:1: not a Kinetics CSV: the header "
                 r"lacks \['youtube_id'\]",
                 id='Kinetics CSV without youtube_id'),
    pytest.param(_ssv2_folder_without_labels, 'data/build_sthv2_list.py', 1,
                 r'^error: FileNotFoundError: annotation file \S+/something-something-v2-'
                 r'labels\.json does not exist',
                 id='SSv2 folder without the labels JSON'),
]


def run(tool_name: str, argv: List[str], capfd) -> Tuple[int, List[str], List[str]]:
    """Run ``tools/<tool_name>`` as ``__main__`` in this process: (exit status, stdout
    lines, stderr lines), loader workers' output included (captured at the descriptors)."""
    MMLogger._instance_dict.clear()  # earlier runs' loggers write to closed streams
    saved, sys.argv = sys.argv, [tool_name, *argv]
    try:
        runpy.run_path(str(REPO_ROOT / 'tools' / tool_name), run_name='__main__')
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    finally:
        sys.argv = saved
    out, err = capfd.readouterr()
    return status, out.splitlines(), err.splitlines()


@pytest.mark.parametrize('damage_fn, tool_name, status, line', ROWS)
def test_bad_data_input_gives_its_line(data, tmp_path, capfd, damage_fn, tool_name, status,
                                       line):
    argv = _arguments(tool_name, data, tmp_path, damage_fn(data, tmp_path))
    got_status, stdout_lines, stderr_lines = run(tool_name, argv, capfd)
    assert got_status == status, stderr_lines[-20:]
    assert any(re.search(line, printed) for printed in stdout_lines + stderr_lines), \
        (stdout_lines + stderr_lines)[-20:]
    errors = [printed for printed in stderr_lines if printed.startswith('error: ')]
    assert len(errors) == (1 if line.startswith('^error: ') else 0), errors
    assert not any(printed.startswith('Traceback') or 'DataLoader worker process' in printed
                   for printed in stderr_lines), stderr_lines[-20:]


class TwoArgumentError(Exception):
    """torch cannot rebuild it from one message: it re-raises a RuntimeError instead."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'{path}: {reason}\nsecond line')


class FailingDataset(torch.utils.data.Dataset):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int):
        try:
            raise OSError('decoder said no')
        except OSError as cause:
            raise self.error from cause


@pytest.mark.parametrize('error, expected', [
    (BadSampleError("cannot load /v/air drumming/x.mp4: VideoReadError: cannot decode. "
                    "set on_bad_sample='skip' on the dataset."),
     "BadSampleError: cannot load /v/air drumming/x.mp4: VideoReadError: cannot decode. "
     "set on_bad_sample='skip' on the dataset."),
    (KeyError('filename'), "KeyError: 'filename'"),
    (TwoArgumentError('/v/x.mp4', 'bad'), 'TwoArgumentError: /v/x.mp4: bad; second line'),
])
def test_an_error_in_a_loader_worker_becomes_the_workers_own_line(error, expected):
    loader = torch.utils.data.DataLoader(FailingDataset(error), num_workers=1)
    with pytest.raises(Exception) as raised:
        next(iter(loader))
    assert 'DataLoader worker process 0' in str(raised.value)  # torch's wrapper
    assert one_line(raised.value) == expected
