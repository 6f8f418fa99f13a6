"""tools/train.py runs of the demo model on synthetic clips, paused and killed mid-epoch."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from videoswin.checkpoint import safe_load

from helpers import REPO_ROOT

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
custom_imports = dict(imports=['videoswin.testing.fault_injection'])
custom_hooks = [dict(type='FaultInjectionHook', pause_after=6, pause_marker='{marker}')]
"""



def run_train(config: Path, work_dir: Path, *extra: str, wait: bool = True):
    log = open(work_dir.parent / f'{work_dir.name}.out', 'a')
    process = subprocess.Popen(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(work_dir), *extra],
        cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    if wait:
        status = process.wait(timeout=300)
        assert status == 0, (work_dir.parent / f'{work_dir.name}.out').read_text()
    return process


def weights_of(checkpoint: Path) -> dict:
    return safe_load(str(checkpoint))['state_dict']


def kill_after_iteration_6(config: Path, work_dir: Path) -> None:
    """Train ``config`` in ``work_dir`` until it pauses after iteration 6; SIGKILL it there."""
    marker = work_dir.parent / f'{work_dir.name}.paused'
    paused_config = work_dir.parent / f'{work_dir.name}_paused.py'
    paused_config.write_text(PAUSED.format(config=config, marker=marker))
    process = run_train(paused_config, work_dir, wait=False)
    deadline = time.time() + 300
    while not marker.exists():
        assert process.poll() is None, (work_dir.parent / f'{work_dir.name}.out').read_text()
        assert time.time() < deadline, 'the run never reached iteration 6'
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
