"""Child configs written the OpenMMLab way behave (issue 12 item 5, first two points).

* ``default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=N))``, as
  mmaction2 configs write it, merges with the runtime base's project-only keys
  (``mid_epoch_interval``); in the videoswin scope the name builds our atomic hook,
  which takes them, so training saves, and a resume from the saved file ends with
  bitwise the weights of an uninterrupted run.
* ``train_cfg = dict(max_epochs=N)`` in a child moves the end of the cosine with it.

Both through ``tools/train.py`` on real encoded videos.
"""
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine import Config
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner

from videoswin.checkpoint import safe_load
from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.engine.hooks import AtomicCheckpointHook
from videoswin.utils import register_all_modules

from helpers import REPO_ROOT

# the demo model on 4 synthetic clips, batch 2: 2 iterations an epoch, 4 epochs
CHILD = """
_base_ = ['{repo}/configs/demo/swin-micro_synthetic.py']
train_dataloader = dict(
    batch_size=2, num_workers=1,
    dataset=dict(ann_file='{data}/train_list.txt', data_prefix=dict(video='{data}/train')))
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(max_epochs=4)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=2),
                     logger=dict(type='LoggerHook', interval=1))
env_cfg = dict(num_threads=1)
randomness = dict(seed=0, deterministic=True)
"""
EPOCHS, ITERS_PER_EPOCH = 4, 2


@pytest.fixture(scope='module')
def child(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('child_configs')
    make_synthetic_dataset(root / 'data', num_train=2, num_val=1, num_frames=20,
                           ssv2_style=False)
    path = root / 'child.py'
    path.write_text(CHILD.format(repo=REPO_ROOT, data=root / 'data'))
    return path


def _train(config: Path, work_dir: Path, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(work_dir), *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def _logged_lrs(work_dir: Path) -> list:
    """The lr of every logged iteration, from the run's scalars.json."""
    scalars = next(work_dir.glob('*/vis_data/scalars.json'))
    return [json.loads(line)['lr'] for line in scalars.read_text().splitlines()
            if 'lr' in json.loads(line)]


def test_mmengine_hook_name_builds_the_atomic_hook_with_the_base_keys(child, tmp_path):
    register_all_modules()
    cfg = Config.fromfile(str(child))
    assert cfg.default_hooks.checkpoint.type == 'CheckpointHook'
    assert cfg.default_hooks.checkpoint.mid_epoch_interval == 500  # merged from the base
    cfg.work_dir = str(tmp_path)
    hooks = [h for h in Runner.from_cfg(cfg).hooks if isinstance(h, CheckpointHook)]
    assert [type(h) for h in hooks] == [AtomicCheckpointHook]
    hook = hooks[0]
    assert (hook.interval, hook.mid_epoch_interval) == (2, 500)


@pytest.mark.slow
def test_child_config_saves_resumes_exactly_and_its_schedule_follows_max_epochs(child,
                                                                                tmp_path):
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    _train(child, straight)
    assert sorted(p.name for p in straight.glob('*.pth')) == ['epoch_2.pth', 'epoch_4.pth']
    assert not list(straight.glob('.*.tmp'))

    # resume from the epoch-2 file in a fresh work dir: epochs 3 and 4 again
    resumed.mkdir()
    shutil.copy(straight / 'epoch_2.pth', resumed / 'epoch_2.pth')
    output = _train(child, resumed, '--resume', str(resumed / 'epoch_2.pth'))
    logs = output + ''.join(p.read_text() for p in resumed.glob('*/*.log'))
    assert 'resumed epoch: 2, iter: 4' in logs
    reference = safe_load(str(straight / 'epoch_4.pth'))['state_dict']
    again = safe_load(str(resumed / 'epoch_4.pth'))['state_dict']
    assert reference.keys() == again.keys()
    assert [k for k in reference if not torch.equal(reference[k], again[k])] == []

    # the demo's per-iteration cosine ends at the child's 4 epochs, not the demo's 10:
    # iteration i of 8 trains at lr (1 + cos(pi * i / 8)) / 2 after the 1-epoch warm-up
    lrs = _logged_lrs(straight)
    assert len(lrs) == EPOCHS * ITERS_PER_EPOCH
    base_lr = Config.fromfile(str(child)).optim_wrapper.optimizer.lr
    total = EPOCHS * ITERS_PER_EPOCH
    last = base_lr * 0.5 * (1 + math.cos(math.pi * (total - 1) / total))
    assert lrs[-1] == pytest.approx(last, rel=1e-4)
    assert lrs[-1] < 0.04 * base_lr  # ~0; with the demo's 10 epochs it would be 0.65 x lr
