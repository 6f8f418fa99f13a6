"""KineticsDataset and SthV2Dataset from the official files (and list files), through pipelines."""

import mmcv
import numpy as np
import pytest
import torch
from mmengine.runner import Runner

from videoswin.datasets import AnnotationError, KineticsDataset, SthV2Dataset
from videoswin.datasets.annotations import write_class_names, write_rawframe_list, write_video_list
from videoswin.testing.sample_data import make_kinetics, make_sthv2
from videoswin.utils import register_all_modules

from helpers.tiny_swin import K400_TRAIN, tiny_swin_config

register_all_modules()

SSV2_TRAIN = [dict(type='VideoInit'),
              dict(type='UniformSegmentSample', clip_len=8),
              dict(type='VideoDecode', short_side=40),
              dict(type='RandomResizedCrop'),
              dict(type='Resize', scale=(32, 32), keep_ratio=False),
              dict(type='ClipRandAugment', num_layers=4, magnitude=7),
              dict(type='ClipRandomErasing', erase_prob=0.25),
              dict(type='FormatShape', input_format='NCTHW'),
              dict(type='PackActionInputs')]
SSV2_TEST = [dict(type='VideoInit'),
             dict(type='UniformSegmentSample', clip_len=8, test_mode=True),
             dict(type='VideoDecode', short_side=32),
             dict(type='ThreeCrop', crop_size=32),
             dict(type='FormatShape', input_format='NCTHW'),
             dict(type='PackActionInputs')]


@pytest.fixture(scope='module')
def kinetics(tmp_path_factory):
    return make_kinetics(tmp_path_factory.mktemp('k400'), not_downloaded=2)


@pytest.fixture(scope='module')
def kinetics_flat(tmp_path_factory):
    return make_kinetics(tmp_path_factory.mktemp('k600'), classes=('b', 'a'), layout='flat',
                         codec='mpeg4', clips_per_class={'train': 2})


@pytest.fixture(scope='module')
def sthv2(tmp_path_factory):
    return make_sthv2(tmp_path_factory.mktemp('ssv2'))


@pytest.mark.slow
def test_kinetics_from_the_official_csv_labels_by_sorted_class_name(kinetics):
    ds = KineticsDataset(str(kinetics['csv']['train']), K400_TRAIN, num_classes=3,
                         data_prefix=dict(video=str(kinetics['video_root'])))
    assert ds.metainfo['classes'] == ('abseiling', 'air drumming', 'zumba')
    expected = {str(kinetics['video_root'] / rel): kinetics['classes'].index(cls)
                for _, _, rel, cls in kinetics['clips']['train']}
    got = {ds.get_data_info(i)['filename']: ds.get_data_info(i)['label'] for i in range(len(ds))}
    assert got == expected  # the two rows without a video are left out
    assert len(ds.missing_videos) == 2
    sample = ds[0]
    assert sample['inputs'].shape == (1, 3, 8, 32, 32) and sample['inputs'].dtype == torch.uint8
    assert sample['data_samples'].gt_labels.item.item() == ds.get_data_info(0)['label']


@pytest.mark.slow
def test_kinetics_flat_layout_mpeg4_and_an_explicit_class_index(kinetics_flat, tmp_path):
    write_class_names(tmp_path / 'classes.txt', ['b', 'a'])  # a non-alphabetical index
    ds = KineticsDataset(str(kinetics_flat['csv']['train']), K400_TRAIN,
                         class_index=str(tmp_path / 'classes.txt'),
                         data_prefix=dict(video=str(kinetics_flat['video_root'])))
    labels = {ds.get_data_info(i)['filename'].split('/')[-1][:3]: ds.get_data_info(i)['label']
              for i in range(len(ds))}
    assert labels == {'tr0': 0, 'tr1': 1}  # class 'b' (written first) is label 0 here
    assert ds[1]['inputs'].shape == (1, 3, 8, 32, 32)


def test_kinetics_list_file_gives_the_same_samples_as_the_csv(kinetics, tmp_path):
    root = str(kinetics['video_root'])
    from_csv = KineticsDataset(str(kinetics['csv']['train']), K400_TRAIN,
                               data_prefix=dict(video=root))
    rows = [(rel, kinetics['classes'].index(cls)) for _, _, rel, cls in kinetics['clips']['train']]
    write_video_list(tmp_path / 'train_list.txt', rows)
    from_list = KineticsDataset(str(tmp_path / 'train_list.txt'), K400_TRAIN,
                                data_prefix=dict(video=root))
    key = lambda ds: sorted((ds.get_data_info(i)['filename'], ds.get_data_info(i)['label'])
                            for i in range(len(ds)))
    assert key(from_csv) == key(from_list)


def test_csv_whose_classes_do_not_match_num_classes_asks_for_the_class_index(kinetics):
    with pytest.raises(AnnotationError, match='make 3 classes but num_classes is 400'):
        KineticsDataset(str(kinetics['csv']['val']), K400_TRAIN, num_classes=400,
                        data_prefix=dict(video=str(kinetics['video_root'])))


def test_list_label_outside_num_classes_is_an_error_at_build_time(tmp_path):
    write_video_list(tmp_path / 'l.txt', [('a.mp4', 1), ('b.mp4', 3)])
    with pytest.raises(AnnotationError, match=r'l.txt:2: label 3 is outside the 3 classes'):
        KineticsDataset(str(tmp_path / 'l.txt'), K400_TRAIN, num_classes=3)


def test_rawframe_lists_load_through_rawframe_decode(tmp_path):
    for clip in ('v one', 'v2'):
        for t in range(1, 7):
            frame = np.full((24, 32, 3), t * 30, np.uint8)
            mmcv.imwrite(frame, str(tmp_path / 'frames' / clip / f'img_{t:05d}.jpg'))
    write_rawframe_list(tmp_path / 'r.txt', [('v one', 6, 1), ('v2', 6, 0)])
    pipeline = [dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1,
                     test_mode=True),
                dict(type='RawFrameDecode'), dict(type='FormatShape', input_format='NCTHW'),
                dict(type='PackActionInputs')]
    ds = KineticsDataset(str(tmp_path / 'r.txt'), pipeline, test_mode=True,
                         data_prefix=dict(img=str(tmp_path / 'frames')))
    sample = ds[0]
    assert ds.get_data_info(0)['start_index'] == 1
    assert sample['inputs'].shape == (1, 3, 4, 24, 32)
    # frames 2..5 (1-based files, centred clip) hold brightness 60..150
    means = sample['inputs'].float().mean(dim=(0, 1, 3, 4))
    np.testing.assert_allclose(means.numpy(), [60, 90, 120, 150], atol=2)


def test_sthv2_from_the_official_json_labels_by_template(sthv2):
    ds = SthV2Dataset(str(sthv2['train']), SSV2_TRAIN, num_classes=4,
                      data_prefix=dict(video=str(sthv2['video_root'])))
    assert ds.metainfo['classes'] == tuple(sthv2['classes'])
    got = [(ds.get_data_info(i)['filename'].split('/')[-1], ds.get_data_info(i)['label'])
           for i in range(len(ds))]
    assert got == [(f'{vid}.webm', label) for vid, label in sthv2['ids']['train']]
    sample = ds[3]
    assert sample['inputs'].shape == (1, 3, 8, 32, 32)


def test_sthv2_test_json_is_unlabelled_and_list_files_match_the_json(sthv2, tmp_path):
    root = dict(video=str(sthv2['video_root']))
    test = SthV2Dataset(str(sthv2['test']), SSV2_TEST, test_mode=True, data_prefix=root)
    assert [test.get_data_info(i)['label'] for i in range(len(test))] == [-1] * 4
    assert test[0]['inputs'].shape == (3, 3, 8, 32, 32)  # 1 clip x 3 crops
    write_video_list(tmp_path / 'val.txt', [(f'{v}.webm', label) for v, label in
                                             sthv2['ids']['validation']])
    from_list = SthV2Dataset(str(tmp_path / 'val.txt'), SSV2_TEST, test_mode=True,
                             labels_file=str(sthv2['labels']), data_prefix=root)
    from_json = SthV2Dataset(str(sthv2['validation']), SSV2_TEST, test_mode=True, data_prefix=root)
    assert from_list.metainfo['classes'] == from_json.metainfo['classes']
    assert [from_list.get_data_info(i) for i in range(4)] == [from_json.get_data_info(i)
                                                              for i in range(4)]


def test_sthv2_json_without_its_labels_file_says_which_file_is_needed(sthv2, tmp_path):
    alone = tmp_path / 'something-something-v2-train.json'
    alone.write_text(sthv2['train'].read_text())
    with pytest.raises(FileNotFoundError, match='something-something-v2-labels.json'):
        SthV2Dataset(str(alone), SSV2_TRAIN)


def test_short_training_on_the_official_sthv2_json_with_the_ssv2_recipe_pipeline(sthv2, tmp_path):
    dataset = dict(type='SthV2Dataset', ann_file=str(sthv2['train']), num_classes=4,
                   data_prefix=dict(video=str(sthv2['video_root'])), pipeline=SSV2_TRAIN)
    runner = Runner.from_cfg(tiny_swin_config(tmp_path, 4, dataset, label_smooth_eps=0.1))
    before = [p.detach().clone() for p in runner.model.parameters()]
    runner.train()
    losses = [v for k, v in runner.message_hub.log_scalars.items() if k == 'train/loss']
    assert losses and np.isfinite(losses[0].current())
    changed = sum(not torch.equal(a, b) for a, b in zip(before, runner.model.parameters()))
    assert changed > len(before) // 2
    assert runner.epoch == 2 and runner.iter == 8  # 8 videos, batch 2, 2 epochs
