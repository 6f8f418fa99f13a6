"""End to end: ``tools/train.py`` killed with SIGKILL in the middle of an epoch, then
restarted with ``--resume``, ends with bitwise the weights of an uninterrupted run."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from videoswin.checkpoint import safe_load
from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.engine.hooks.checkpoint_files import POINTER

REPO = Path(__file__).resolve().parents[1]
# the demo model on 8 synthetic clips, batch 2: 4 iterations an epoch, 2 epochs;
# checkpoints every 3 iterations inside an epoch (iter_3, iter_6) and every epoch
CONFIG = """
_base_ = ['{repo}/configs/demo/swin-micro_synthetic.py']
train_dataloader = dict(
    batch_size=2, num_workers=1, persistent_workers=True,
    dataset=dict(ann_file='{data}/train_list.txt', data_prefix=dict(video='{data}/train')))
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(_delete_=True, type='ResumableEpochBasedTrainLoop', max_epochs=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                                     mid_epoch_interval=3))
env_cfg = dict(num_threads=1)
randomness = dict(seed=0, deterministic=True)
"""
PAUSED = """
_base_ = ['{config}']
custom_hooks = [dict(type='FaultInjectionHook', pause_after=6, pause_marker='{marker}')]
"""


@pytest.fixture(scope='module')
def config(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('resume_tools')
    make_synthetic_dataset(root / 'data', num_train=4, num_val=1, num_frames=20,
                           ssv2_style=False)
    path = root / 'micro.py'
    path.write_text(CONFIG.format(repo=REPO, data=root / 'data'))
    return path


def _train(config: Path, work_dir: Path, *extra: str, wait: bool = True):
    log = open(work_dir.parent / f'{work_dir.name}.out', 'a')
    process = subprocess.Popen(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(work_dir), *extra],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS='1'))
    if wait:
        status = process.wait(timeout=300)
        assert status == 0, (work_dir.parent / f'{work_dir.name}.out').read_text()
    return process


def _weights(checkpoint: Path) -> dict:
    return safe_load(str(checkpoint))['state_dict']


def _kill_after_iteration_6(config: Path, work_dir: Path) -> None:
    """Train ``config`` in ``work_dir`` until it pauses after iteration 6; SIGKILL it there."""
    marker = work_dir.parent / f'{work_dir.name}.paused'
    paused_config = work_dir.parent / f'{work_dir.name}_paused.py'
    paused_config.write_text(PAUSED.format(config=config, marker=marker))
    process = _train(paused_config, work_dir, wait=False)
    deadline = time.time() + 300
    while not marker.exists():
        assert process.poll() is None, (work_dir.parent / f'{work_dir.name}.out').read_text()
        assert time.time() < deadline, 'the run never reached iteration 6'
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(config, tmp_path):
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    _train(config, straight)

    _kill_after_iteration_6(config, killed)  # batch 2 of epoch 2
    assert (killed / POINTER).read_text() == str(killed / 'iter_6.pth')
    assert not (killed / 'epoch_2.pth').exists()

    _train(config, killed, '--resume')
    assert 'resuming epoch 2 at batch 3 of 4' in (tmp_path / 'killed.out').read_text()
    reference, resumed = _weights(straight / 'epoch_2.pth'), _weights(killed / 'epoch_2.pth')
    assert reference.keys() == resumed.keys()
    assert [k for k in reference if not torch.equal(reference[k], resumed[k])] == []
