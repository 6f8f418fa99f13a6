"""End to end: ``tools/train.py`` killed with SIGKILL in the middle of an epoch, then
restarted with ``--resume``, ends with bitwise the weights of an uninterrupted run."""
from pathlib import Path

import pytest
import torch

from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.engine.checkpoint_files import POINTER

from helpers import REPO_ROOT
from helpers.train_runs import CONFIG, kill_after_iteration_6, run_train, weights_of


@pytest.fixture(scope='module')
def config(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('resume_tools')
    make_synthetic_dataset(root / 'data', num_train=4, num_val=1, num_frames=20,
                           ssv2_style=False)
    path = root / 'micro.py'
    path.write_text(CONFIG.format(repo=REPO_ROOT, data=root / 'data'))
    return path


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(config, tmp_path):
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    run_train(config, straight)

    kill_after_iteration_6(config, killed)  # batch 2 of epoch 2
    assert (killed / POINTER).read_text() == str(killed / 'iter_6.pth')
    assert not (killed / 'epoch_2.pth').exists()

    run_train(config, killed, '--resume')
    assert 'resuming epoch 2 at batch 3 of 4' in (tmp_path / 'killed.out').read_text()
    reference, resumed = weights_of(straight / 'epoch_2.pth'), weights_of(killed / 'epoch_2.pth')
    assert reference.keys() == resumed.keys()
    assert [k for k in reference if not torch.equal(reference[k], resumed[k])] == []
