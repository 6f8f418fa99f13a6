"""Every dataset type a config names in the ``videoswin`` scope reads the list files the
builders write (Kinetics paths with spaces included) and applies the bad-sample policy.

Real data: an official-format Kinetics CSV whose class names hold spaces, H.264 videos
in the downloader layout (``<split>/<class name>/<id>_<start>_<end>.mp4``), SSv2 JSONs
with VP9 videos; the lists are written by ``tools/data/build_*_list.py``.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mmcv
import pytest
from mmengine.config import Config

from videoswin.datasets import BadSampleError
from videoswin.datasets.annotations import (parse_rawframe_list, parse_video_list,
                                            write_rawframe_list, write_video_list)
from videoswin.datasets.list_dataset import ActionListDataset
from videoswin.testing.sample_data import damage, make_kinetics, make_sthv2
from videoswin.datasets.transforms.clip_reader import ClipReader
from videoswin.registry import DATASETS
from videoswin.utils import register_all_modules

from helpers import REPO_ROOT
from helpers import load_tool

register_all_modules()

CLASSES = ('air drumming', 'abseiling', 'passing American football (in game)')
VIDEO_TYPES = ('KineticsDataset', 'SthV2Dataset', 'VideoDataset')
# a dataloader section as a user writes it in a config file
USER_CONFIG = """
default_scope = 'videoswin'
pipeline = [
    dict(type='{init}'),
    dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1),
    dict(type='{decode}'),
    dict(type='Resize', scale=(-1, 32)),
    dict(type='CenterCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=2,
    dataset=dict(type='{type}', ann_file='{ann_file}', data_prefix=dict({kind}='{root}'),
                 pipeline=pipeline{extra}))
"""


@pytest.fixture(scope='module')
def lists(tmp_path_factory) -> dict:
    """The builders' list files: Kinetics (paths with spaces) and SSv2."""
    root = tmp_path_factory.mktemp('list_types')
    kinetics = make_kinetics(root / 'k400', classes=CLASSES,
                             clips_per_class={'train': 2, 'val': 1})
    sthv2 = make_sthv2(root / 'ssv2', videos_per_class={'train': 1})
    assert load_tool('data/build_kinetics_list').main([
        str(kinetics['csv']['train']), '--video-root', str(kinetics['video_root']),
        '--out-dir', str(root / 'k400')]) == 0
    assert load_tool('data/build_sthv2_list').main([
        str(sthv2['labels'].parent), '--out-dir', str(root / 'ssv2'),
        '--video-root', str(sthv2['video_root'])]) == 0
    k_expected = {str(kinetics['video_root'] / rel): kinetics['classes'].index(name)
                  for _, _, rel, name in kinetics['clips']['train']}
    s_expected = {str(sthv2['video_root'] / f'{vid}.webm'): label
                  for vid, label in sthv2['ids']['train']}
    return dict(
        kinetics=(root / 'k400' / 'kinetics400_train_list_videos.txt', kinetics['video_root'],
                  k_expected),
        sthv2=(root / 'ssv2' / 'sthv2_train_list_videos.txt', sthv2['video_root'], s_expected),
        root=root, k400=kinetics)


def build_from_config(tmp_path: Path, dataset_type: str, ann_file: Path, root: Path,
                      kind: str = 'video', **extra):
    """The train dataset of a config file written by hand, built in the videoswin scope."""
    decoders = dict(video=('VideoInit', 'VideoDecode'), img=('', 'RawFrameDecode'))
    init, decode = decoders[kind]
    text = USER_CONFIG.format(type=dataset_type, ann_file=ann_file, root=root, kind=kind,
                              init=init, decode=decode,
                              extra=''.join(f', {k}={v!r}' for k, v in extra.items()))
    if not init:  # rawframes: no container to open
        text = text.replace("    dict(type=''),\n", '')
    path = tmp_path / f'{dataset_type}.py'
    path.write_text(text)
    return DATASETS.build(Config.fromfile(str(path)).train_dataloader.dataset)


def infos(dataset) -> dict:
    return {dataset.get_data_info(i)['filename']: dataset.get_data_info(i)['label']
            for i in range(len(dataset))}


def test_the_kinetics_builder_writes_paths_with_spaces_unquoted(lists):
    text = lists['kinetics'][0].read_text()
    assert re.search(r'^train/air drumming/\S+_000003_000013\.mp4 1$', text, re.M)
    assert re.search(r'^train/passing American football \(in game\)/\S+\.mp4 2$', text, re.M)


@pytest.mark.parametrize('list_name', ['kinetics', 'sthv2'])
@pytest.mark.parametrize('dataset_type', VIDEO_TYPES)
def test_every_video_dataset_type_reads_every_builders_list(lists, tmp_path, dataset_type,
                                                            list_name):
    ann_file, root, expected = lists[list_name]
    dataset = build_from_config(tmp_path, dataset_type, ann_file, root)
    assert type(dataset).__name__ == dataset_type and isinstance(dataset, ActionListDataset)
    assert infos(dataset) == expected
    sample = dataset[0]
    assert sample['inputs'].shape == (1, 3, 4, 32, 32)
    assert sample['data_samples'].gt_labels.item.item() == dataset.get_data_info(0)['label']


def test_mmaction2_own_class_stays_reachable_by_its_scoped_name(lists):
    from mmaction.datasets import VideoDataset as MMActionVideoDataset

    assert DATASETS.get('mmaction.VideoDataset') is MMActionVideoDataset
    assert not issubclass(DATASETS.get('VideoDataset'), MMActionVideoDataset)


def write_frames(video: Path, folder: Path) -> int:
    """Extract every frame of ``video`` as img_00001.jpg, ... into ``folder``."""
    with ClipReader(str(video)) as reader:
        frames = reader.read(range(reader.total_frames))
    for t, frame in enumerate(frames, start=1):
        mmcv.imwrite(frame[..., ::-1], str(folder / f'img_{t:05d}.jpg'))  # RGB -> BGR file
    return len(frames)


@pytest.fixture(scope='module')
def rawframes(lists) -> tuple:
    """Frame folders with spaces in their names, and their rawframe list."""
    frames_root = lists['root'] / 'k400' / 'rawframes'
    rows = []
    for sample in parse_video_list(lists['kinetics'][0]):
        rel, label = sample['filename'], sample['label']
        folder = rel[:-len('.mp4')]
        rows.append((folder, write_frames(lists['kinetics'][1] / rel, frames_root / folder),
                     label))
    ann_file = frames_root.parent / 'kinetics400_train_list_rawframes.txt'
    write_rawframe_list(ann_file, rows)
    return ann_file, frames_root, rows


def test_rawframe_dataset_reads_frame_folders_with_spaces(rawframes, tmp_path):
    ann_file, frames_root, rows = rawframes
    assert any(' ' in folder for folder, _, _ in rows)
    dataset = build_from_config(tmp_path, 'RawframeDataset', ann_file, frames_root, kind='img')
    assert type(dataset).__name__ == 'RawframeDataset'
    got = [(dataset.get_data_info(i)['frame_dir'], dataset.get_data_info(i)['total_frames'],
            dataset.get_data_info(i)['label']) for i in range(len(dataset))]
    assert got == [(str(frames_root / folder), n, label) for folder, n, label in rows]
    assert dataset.get_data_info(0)['start_index'] == 1  # mmaction2's default for frames
    assert dataset[0]['inputs'].shape == (1, 3, 4, 32, 32)


def test_mmaction2_options_delimiter_and_offsets_keep_spaces_in_paths(tmp_path):
    (tmp_path / 'v.txt').write_text('train/air drumming/a b.mp4,3\ntrain/x.mp4\n')
    assert parse_video_list(tmp_path / 'v.txt', delimiter=',') == [
        dict(filename='train/air drumming/a b.mp4', label=3),
        dict(filename='train/x.mp4', label=-1)]
    (tmp_path / 'r.txt').write_text('long video/one 30 16 2\nother 0 8\n')
    assert parse_rawframe_list(tmp_path / 'r.txt', with_offset=True) == [
        dict(frame_dir='long video/one', offset=30, total_frames=16, label=2),
        dict(frame_dir='other', offset=0, total_frames=8, label=-1)]


@pytest.fixture(scope='module')
def damaged_list(lists) -> tuple:
    """The Kinetics list plus a video that opens and fails part-way, in a folder with spaces."""
    ann_file, root, _ = lists['kinetics']
    first = next(iter(parse_video_list(ann_file)))['filename']
    broken = 'train/air drumming/broken clip_000000_000010.mp4'
    shutil.copy(root / first, root / broken)
    damage(root / broken, 'corrupt_tail')
    listed = [(s['filename'], s['label']) for s in parse_video_list(ann_file)]
    path = ann_file.with_name('with_damage_list.txt')
    write_video_list(path, listed[:3] + [(broken, 1)] + listed[3:])
    return path, root, str(root / broken)


@pytest.mark.parametrize('dataset_type', VIDEO_TYPES)
def test_every_video_dataset_type_has_the_bad_sample_policy(damaged_list, tmp_path,
                                                            dataset_type):
    ann_file, root, broken = damaged_list
    train = build_from_config(tmp_path, dataset_type, ann_file, root)
    for index in range(len(train)):  # training: the damaged video is replaced, not fatal
        assert train[index]['inputs'].shape == (1, 3, 4, 32, 32)
    assert [train.sample_name(i) for i in train.bad_samples.known_bad_indices()] == [broken]
    test = build_from_config(tmp_path, dataset_type, ann_file, root, test_mode=True)
    with pytest.raises(BadSampleError, match=re.escape(f'cannot load {broken}: ')):
        test[3]


def test_rawframe_dataset_has_the_bad_sample_policy(rawframes, tmp_path):
    ann_file, frames_root, rows = rawframes
    broken = frames_root / 'train' / 'air drumming' / 'no frames here'
    broken.mkdir(parents=True)
    path = tmp_path / 'rawframes_with_damage.txt'
    write_rawframe_list(path, rows + [('train/air drumming/no frames here', 20, 1)])
    train = build_from_config(tmp_path, 'RawframeDataset', path, frames_root, kind='img')
    assert train[len(rows)]['inputs'].shape == (1, 3, 4, 32, 32)
    assert train.bad_samples.known_bad_indices() == [len(rows)]
    test = build_from_config(tmp_path, 'RawframeDataset', path, frames_root, kind='img',
                             test_mode=True)
    with pytest.raises(BadSampleError, match=re.escape(f'cannot load {broken}: ')):
        test[len(rows)]


# the demo model, trained through tools/train.py on the Kinetics list (spaces in paths,
# one damaged video) with mmaction2's dataset name, as a user's config names it
TRAIN_CONFIG = """
_base_ = ['{repo}/configs/demo/swin-micro_synthetic.py']
model = dict(cls_head=dict(num_classes=3))
train_dataloader = dict(
    batch_size=2, num_workers=1, persistent_workers=False,
    dataset=dict(type='VideoDataset', ann_file='{ann_file}', data_prefix=dict(video='{root}')))
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
custom_hooks = [dict(type='BadSampleHook')]
env_cfg = dict(num_threads=1)
"""


@pytest.mark.slow
def test_training_through_tools_train_on_a_builders_list_with_video_dataset(damaged_list,
                                                                          tmp_path):
    ann_file, root, broken = damaged_list
    config = tmp_path / 'user_config.py'
    config.write_text(TRAIN_CONFIG.format(repo=REPO_ROOT, ann_file=ann_file, root=root))
    done = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(tmp_path / 'w')],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert re.search(rf'bad sample {re.escape(broken)}: .*replaced by another sample', output)
    assert re.search(r'Epoch 1: 1 bad samples replaced by other samples', output)
    assert (tmp_path / 'w' / 'epoch_1.pth').is_file()
