"""ResumableEpochBasedTrainLoop: a run interrupted mid-epoch and resumed from its last
checkpoint ends with bitwise the same weights as a run that was never interrupted."""
import pytest
import torch
from mmengine.runner import EpochBasedTrainLoop

from videoswin.engine.checkpoint_files import find_resumable_checkpoint
from videoswin.engine.resumable_data import ResumableSampler, SampleKey, SeededDataset

from helpers.toy_runner import (CrashAfter, NoisyDataset, assert_same_weights, clone_state,
                                make_runner)


def _train(work_dir, **kwargs):
    runner = make_runner(work_dir, **kwargs)
    runner.train()
    return clone_state(runner.model.state_dict())


def _crash_then_resume(work_dir, crash_after, **kwargs):
    with pytest.raises(KeyboardInterrupt):
        make_runner(work_dir, hooks=[CrashAfter(crash_after)], **kwargs).train()
    checkpoint = find_resumable_checkpoint(str(work_dir))
    resumed = make_runner(work_dir, resume=True, **kwargs)
    resumed.train()
    return checkpoint, clone_state(resumed.model.state_dict())


@pytest.mark.parametrize('num_workers', [0, pytest.param(2, marks=pytest.mark.slow)])
def test_resume_from_mid_epoch_checkpoint_matches_uninterrupted_run(tmp_path, num_workers):
    # 6 iterations an epoch; checkpoints every 4 iterations: the crash after
    # iteration 10 leaves iter_8.pth, 2 batches into epoch 2
    reference = _train(tmp_path / 'straight', num_workers=num_workers, mid_epoch_interval=4)
    checkpoint, resumed = _crash_then_resume(tmp_path / 'crashed', 10,
                                             num_workers=num_workers, mid_epoch_interval=4)
    assert checkpoint.endswith('iter_8.pth')
    assert_same_weights(reference, resumed)


def test_resume_from_epoch_checkpoint_matches_uninterrupted_run(tmp_path):
    reference = _train(tmp_path / 'straight')
    checkpoint, resumed = _crash_then_resume(tmp_path / 'crashed', 9)
    assert checkpoint.endswith('epoch_1.pth')
    assert_same_weights(reference, resumed)


def test_training_result_does_not_depend_on_the_number_of_workers(tmp_path):
    # augmentation randomness is keyed by (seed, epoch, sample), not by worker
    assert_same_weights(_train(tmp_path / 'w0', num_workers=0, max_epochs=2),
                        _train(tmp_path / 'w2', num_workers=2, max_epochs=2))


def test_stock_loop_replays_the_interrupted_epoch(tmp_path):
    # the reason for the loop: mmengine's loop restarts the epoch from its first
    # batch, so the resumed run trains on 2 batches twice and ends elsewhere
    reference = _train(tmp_path / 'straight', loop='EpochBasedTrainLoop', max_epochs=2)
    crashed = tmp_path / 'crashed'
    with pytest.raises(KeyboardInterrupt):
        make_runner(crashed, loop='EpochBasedTrainLoop', max_epochs=2,
                    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
                    hooks=[CrashAfter(9)]).train()
    resumed = make_runner(crashed, loop='EpochBasedTrainLoop', max_epochs=2, resume=True,
                          checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2))
    assert isinstance(resumed.train_loop, EpochBasedTrainLoop)
    resumed.train()
    assert resumed.iter > 12  # 8 done before the crash + 6 of a replayed epoch 2
    assert not all(torch.equal(a, b) for a, b in
                   zip(reference.values(), resumed.model.state_dict().values()))


def test_sampler_skips_the_trained_part_once_and_tags_the_epoch():
    sampler = ResumableSampler(list(range(10)), dict(type='DefaultSampler', shuffle=True),
                               seed=3)
    sampler.set_epoch(1)
    full = list(sampler)
    sampler.skip_next(4)
    assert list(sampler) == full[4:]
    assert list(sampler) == full  # only the next pass is shortened
    assert all(key.epoch == 1 for key in full) and len(sampler) == 10
    assert sorted(key.index for key in full) == list(range(10))


def test_seeded_dataset_draws_depend_only_on_seed_epoch_and_index():
    import numpy as np

    class Draw:
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.random.rand()

    dataset = SeededDataset(Draw(), seed=7)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = dataset[SampleKey(0, 2)]
    assert dataset[SampleKey(0, 2)] == first            # same key, same draw
    assert dataset[SampleKey(1, 2)] != first            # next epoch, new draw
    assert dataset[SampleKey(0, 3)] != first            # other sample, new draw
    assert (np.random.get_state()[1] == before).all()   # caller's stream untouched
    # like mmengine's wrappers it shows metainfo/get_data_info/full_init, and only
    # when the wrapped dataset has them; the rest is under .dataset
    assert not hasattr(dataset, 'get_data_info') and not hasattr(dataset, 'metainfo')
    assert SeededDataset(NoisyDataset()).metainfo == NoisyDataset.metainfo


def test_resume_refuses_a_checkpoint_from_a_different_epoch_length(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        make_runner(tmp_path, mid_epoch_interval=4, hooks=[CrashAfter(5)]).train()
    # a bigger batch: the checkpoint's iteration 4 lies beyond epoch 1's 3 batches
    runner = make_runner(tmp_path, resume=True, batch_size=8)
    with pytest.raises(RuntimeError, match='an epoch now has 3 iterations'):
        runner.train()
