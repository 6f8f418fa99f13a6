"""Exact resume over a video that opens but fails part-way through decoding.

The uninterrupted run meets the video in epoch 1 (the pipeline has drawn its frame
offsets when the decoder fails) and knows it is bad in epoch 2; the resumed run starts
with an empty ledger and decodes it again in epoch 2. Both must replace it by the same
sample with the same augmentations, so the weights end bitwise equal.
"""
from pathlib import Path

import pytest
import torch
from mmengine.dataset import DefaultSampler

from videoswin.datasets.annotations import parse_video_list
from videoswin.testing.sample_data import damage
from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.datasets.transforms.clip_reader import ClipReader
from videoswin.datasets.video_probe import probe_video

from helpers import REPO_ROOT
from helpers.train_runs import CONFIG, kill_after_iteration_6, run_train, weights_of

BATCH, PER_EPOCH = 2, 4  # CONFIG: 8 clips, batch 2; the run is paused after iteration 6


def damaged_after_the_kill(data: Path) -> Path:
    """Damage the first video that epoch 2 loads after the kill (batch 3) and return it."""
    samples = parse_video_list(data / 'train_list.txt')
    sampler = DefaultSampler(samples, shuffle=True, seed=0)  # CONFIG's seed
    sampler.set_epoch(1)
    index = list(sampler)[(6 - PER_EPOCH) * BATCH]
    video = data / 'train' / samples[index]['filename']
    damage(video, 'corrupt_tail')
    return video


@pytest.fixture(scope='module')
def config(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('resume_bad_video')
    make_synthetic_dataset(root / 'data', num_train=4, num_val=1, num_frames=20,
                           ssv2_style=False)
    video = damaged_after_the_kill(root / 'data')
    # the damage is part-way: the file opens and its first frames decode
    with ClipReader(str(video)) as reader:
        assert reader.total_frames == 20
        reader.read([0, 1])
        with pytest.raises(Exception, match='cannot decode'):
            reader.read([18, 19])
    assert probe_video(video, backend='decord', full=False) is not None
    path = root / 'micro.py'
    path.write_text(CONFIG.format(repo=REPO_ROOT, data=root / 'data'))
    return path


@pytest.mark.slow
def test_sigkill_then_resume_over_a_video_failing_mid_decode_is_bitwise_exact(config, tmp_path):
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    run_train(config, straight)
    assert 'bad sample' in (tmp_path / 'straight.out').read_text()

    kill_after_iteration_6(config, killed)
    log_before = (tmp_path / 'killed.out').read_text()

    run_train(config, killed, '--resume')
    resumed_log = (tmp_path / 'killed.out').read_text()[len(log_before):]
    assert 'resuming epoch 2 at batch 3 of 4' in resumed_log
    assert 'bad sample' in resumed_log  # decoded again after the resume, failed again
    reference, resumed = weights_of(straight / 'epoch_2.pth'), weights_of(killed / 'epoch_2.pth')
    assert reference.keys() == resumed.keys()
    assert [k for k in reference if not torch.equal(reference[k], resumed[k])] == []
