"""Damaged data: replaced and counted in training (across loader workers too); at test
time, stop or skip."""
import copy
import logging
import re

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from videoswin.datasets import BadSampleError, KineticsDataset, SthV2Dataset
from videoswin.datasets.annotations import write_video_list
from videoswin.testing.sample_data import make_kinetics, make_sthv2
from videoswin.utils import register_all_modules

from helpers.tiny_swin import K400_TRAIN, tiny_swin_config

register_all_modules()

K400_TEST = [dict(type='VideoInit'),
             dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=2, test_mode=True),
             dict(type='VideoDecode', short_side=32),
             dict(type='CenterCrop', crop_size=32),
             dict(type='FormatShape', input_format='NCTHW'),
             dict(type='PackActionInputs')]
# youtube id -> damage; the ids are those make_kinetics gives (split, class, clip)
TRAIN_DAMAGE = {'tr0x1-air': 'zero', 'tr1x0-abs': 'truncated', 'tr2x2-zum': 'garbage',
                'tr1x2-abs': 'missing'}
VAL_DAMAGE = {'va1x0-abs': 'truncated', 'va2x1-zum': 'zero'}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_kinetics(tmp_path_factory.mktemp('damaged'), clips_per_class={'train': 3, 'val': 2},
                         damaged={**TRAIN_DAMAGE, **VAL_DAMAGE})


def list_file(data, split):
    """The split's list file as it was before the damage (a missing video is still listed)."""
    path = data['video_root'].parent / f'{split}_list.txt'
    write_video_list(path, [(rel, data['classes'].index(cls))
                            for _, _, rel, cls in data['clips'][split]])
    return str(path)


def dataset(data, split='train', pipeline=K400_TRAIN, **kwargs):
    return KineticsDataset(list_file(data, split), pipeline, num_classes=3,
                           data_prefix=dict(video=str(data['video_root'])), **kwargs)


def bad_files(data, split, damage):
    return {str(data['video_root'] / rel)
            for vid, _, rel, _ in data['clips'][split] if vid in damage}


@pytest.fixture
def log_file(tmp_path):
    """Everything mmengine's current logger writes, from this process and forked workers."""
    logger = MMLogger.get_current_instance()
    handler = logging.FileHandler(tmp_path / 'log.txt')
    logger.addHandler(handler)
    yield tmp_path / 'log.txt'
    logger.removeHandler(handler)
    handler.close()


@pytest.mark.parametrize('num_workers', [0, 2])
def test_training_replaces_each_bad_video_logs_it_once_and_counts_it_per_epoch(
        data, num_workers, log_file):
    ds = dataset(data)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=num_workers,
                                         collate_fn=pseudo_collate, shuffle=True,
                                         persistent_workers=num_workers > 0)
    totals = []
    for epoch in range(3):
        seen = 0
        for batch in loader:
            seen += len(batch['inputs'])
            assert all(x.shape == (1, 3, 8, 32, 32) for x in batch['inputs'])
        assert seen == len(ds) == 9  # the epoch is complete: every bad sample was replaced
        totals.append(ds.bad_samples.total)
    # each of the 4 bad videos is requested once per epoch, whichever worker loads it
    assert np.diff([0] + totals).tolist() == [4, 4, 4]
    assert {ds.sample_name(i) for i in ds.bad_samples.known_bad_indices()} == \
        bad_files(data, 'train', TRAIN_DAMAGE)
    logged = re.findall(r'bad sample (.+?\.mp4): ', log_file.read_text())
    assert sorted(logged) == sorted(bad_files(data, 'train', TRAIN_DAMAGE))  # once each


def test_replacements_are_good_samples_with_their_own_labels(data):
    ds = dataset(data, pipeline=[dict(type='VideoInit')])
    good = {ds.get_data_info(i)['filename']: ds.get_data_info(i)['label'] for i in range(len(ds))}
    np.random.seed(0)
    for index in range(len(ds)):
        sample = ds[index]
        assert sample['filename'] not in bad_files(data, 'train', TRAIN_DAMAGE)
        assert sample['label'] == good[sample['filename']]


def test_testing_stops_at_the_first_bad_video_and_names_it(data):
    ds = dataset(data, 'val', K400_TEST, test_mode=True)
    bad_index = next(i for i in range(len(ds)) if ds.sample_name(i) in
                     bad_files(data, 'val', VAL_DAMAGE))
    ds[0 if bad_index else 1]  # a good one loads
    with pytest.raises(BadSampleError, match=re.escape(ds.sample_name(bad_index))) as info:
        ds[bad_index]
    assert "on_bad_sample='skip'" in str(info.value)


def test_testing_can_skip_unreadable_videos_and_says_how_many(data):
    ds = dataset(data, 'val', K400_TEST, test_mode=True, on_bad_sample='skip', probe_workers=2)
    assert len(ds) == 4
    assert {name for name, _ in ds.skipped_samples} == bad_files(data, 'val', VAL_DAMAGE)
    assert all(ds[i]['inputs'].shape == (2, 3, 8, 32, 32) for i in range(len(ds)))


@pytest.mark.slow
def test_skip_mode_probes_with_the_pipelines_decoder(tmp_path_factory):
    sthv2 = make_sthv2(tmp_path_factory.mktemp('bad_ssv2'),
                       videos_per_class={'validation': 2}, damaged={'1001': 'garbage'})
    decord_pipeline = [dict(type='DecordInit'), dict(type='UniformSegmentSample', clip_len=8,
                                                     test_mode=True), dict(type='DecordDecode')]
    ds = SthV2Dataset(str(sthv2['validation']), decord_pipeline, test_mode=True,
                      on_bad_sample='skip', data_prefix=dict(video=str(sthv2['video_root'])))
    assert ds._probe_backend() == 'decord'
    assert [name.split('/')[-1] for name, _ in ds.skipped_samples] == ['1001.webm']
    assert len(ds) == 7 and len(ds[0]['imgs']) == 8


def test_a_broken_data_root_is_not_mistaken_for_a_few_damaged_videos(data, tmp_path):
    rows = [(rel, 0) for _, _, rel, _ in data['clips']['train']]
    write_video_list(tmp_path / 'train.txt', rows)
    ds = KineticsDataset(str(tmp_path / 'train.txt'), K400_TRAIN, max_bad_in_a_row=5,
                         data_prefix=dict(video=str(tmp_path / 'wrong_root')))
    with pytest.raises(BadSampleError, match='6 samples in a row could not be loaded .*broken '
                                             'pipeline or data root'):
        ds[0]


def test_policies_that_would_mislead_are_refused(data):
    with pytest.raises(ValueError, match="'replace' is for training"):
        dataset(data, 'val', K400_TEST, test_mode=True, on_bad_sample='replace')
    with pytest.raises(ValueError, match="'skip' is for testing"):
        dataset(data, on_bad_sample='skip')


def test_the_ledger_stays_shared_when_mmengine_copies_the_dataset(data):
    ds = dataset(data)
    assert copy.deepcopy(ds).bad_samples is ds.bad_samples


@pytest.mark.slow
def test_short_training_on_damaged_kinetics_reports_bad_samples_per_epoch(data, tmp_path):
    train = dict(type='KineticsDataset', ann_file=list_file(data, 'train'), num_classes=3,
                 data_prefix=dict(video=str(data['video_root'])), pipeline=K400_TRAIN)
    test = dict(type='KineticsDataset', ann_file=str(data['csv']['val']), num_classes=3,
                data_prefix=dict(video=str(data['video_root'])), pipeline=K400_TEST,
                test_mode=True, on_bad_sample='skip')
    cfg = tiny_swin_config(
        tmp_path, 3, train, custom_hooks=[dict(type='BadSampleHook')],
        test_dataloader=dict(batch_size=1, num_workers=0, dataset=test,
                             sampler=dict(type='DefaultSampler', shuffle=False)),
        test_evaluator=dict(type='AccMetric'), test_cfg=dict(type='TestLoop'))
    cfg.train_dataloader.num_workers = 2
    cfg.train_dataloader.persistent_workers = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    log = (tmp_path / runner.timestamp / f'{runner.timestamp}.log').read_text()
    assert re.search(r'Epoch 1: 4 bad samples replaced by other samples; newly found bad '
                     r'files: ', log)
    assert re.search(r'Epoch 2: 4 bad samples replaced by other samples \(4 bad files so '
                     r'far\)', log)
    for name in bad_files(data, 'train', TRAIN_DAMAGE):  # each named in one warning line
        assert len(re.findall(rf'bad sample {re.escape(name)}: ', log)) == 1
    assert 'test: 2 unreadable samples were skipped; the metrics are over the other 4' in log
    assert 0.0 <= metrics['acc/top1'] <= 1.0
