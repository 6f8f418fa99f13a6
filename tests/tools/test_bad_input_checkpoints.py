"""Damaged and mismatched checkpoints through the tools, as a user runs them (issue 13).

One row per case: how the file is damaged, which tool and option get it, the exit status
and a regex for the line the user reads. Every tool runs as a subprocess on the demo
model and a tiny synthetic dataset.
"""
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, NamedTuple

import pytest
import torch
from mmengine.config import Config

from helpers import REPO_ROOT
from helpers.swin_files import write_microsoft_swin_2d
from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.registry import MODELS
from videoswin.testing import randomise_
from videoswin.utils import register_all_modules


DEMO = REPO_ROOT / 'configs/demo/swin-micro_synthetic.py'
NAN_KEY = 'backbone.layers.0.blocks.0.mlp.fc1.weight'
# one short epoch: 4 clips in one batch, no validation, no loader worker processes
SHORT = ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=4',
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def demo_recognizer(**backbone):
    """The demo model (random weights), its backbone config changed by ``backbone``."""
    register_all_modules()
    cfg = Config.fromfile(str(DEMO))
    cfg.model.backbone.update(backbone)
    return randomise_(MODELS.build(cfg.model), seed=3)


def save_recognizer(path: Path, model, **extra) -> None:
    torch.save({'meta': {'epoch': 30}, 'state_dict': model.state_dict(), **extra}, path)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> Path:
    """cwd of every run: data/synthetic, and the checkpoint files of the table."""
    root = tmp_path_factory.mktemp('bad_checkpoints')
    make_synthetic_dataset(root / 'data/synthetic', num_train=4, num_val=2, ssv2_style=False)
    good = root / 'good.pth'
    save_recognizer(good, demo_recognizer())
    (root / 'empty.pth').write_bytes(b'')
    data = good.read_bytes()
    (root / 'truncated.pth').write_bytes(data[:len(data) // 2])
    (root / 'garbage.pth').write_bytes(bytes(range(256)) * 64)
    (root / 'notes.txt').write_text('epoch 1 loss 0.3\nepoch 2 loss 0.2\n')
    save_recognizer(root / 'deeper.pth', demo_recognizer(depths=(1, 1, 2, 1)))
    head = demo_recognizer()
    head.cls_head.fc_cls = torch.nn.Linear(384, 5)
    save_recognizer(root / 'other_head.pth', head)
    nan = demo_recognizer()
    state = nan.state_dict()
    state[NAN_KEY][0, :3] = torch.tensor([math.nan, math.inf, math.nan])
    torch.save({'meta': {'epoch': 30}, 'state_dict': state}, root / 'nan.pth')
    write_microsoft_swin_2d(root / 'swin_2d.pth')
    return root


class Case(NamedTuple):
    damage: str
    argv: List[str]      # after `python`; {demo} is the demo config
    status: int
    line: str            # regex searched in stdout + stderr


def train(*options: str, resume: str = '') -> List[str]:
    argv = ['tools/train.py', '{demo}', '--work-dir', 'work']
    argv += ['--resume', resume] if resume else []
    return argv + ['--cfg-options', *SHORT, *options]


def score(checkpoint: str) -> List[str]:
    return ['tools/test.py', '{demo}', checkpoint, '--work-dir', 'work',
            '--cfg-options', *SHORT]


UNREADABLE = r'error: UnreadableCheckpointError: {}: not a readable checkpoint \({}'
CASES = [
    Case('zero-byte file as pretrained', train('model.backbone.pretrained=empty.pth'), 1,
         UNREADABLE.format(r'empty\.pth', r'empty file\)')),
    Case('truncated file as pretrained', train('model.backbone.pretrained=truncated.pth'), 1,
         UNREADABLE.format(r'truncated\.pth', r'truncated')),
    Case('garbage file as pretrained', train('model.backbone.pretrained=garbage.pth'), 1,
         UNREADABLE.format(r'garbage\.pth', r'not a torch file\)')),
    Case('zero-byte file through init_cfg Pretrained',
         train('model.backbone.init_cfg.type=Pretrained',
               'model.backbone.init_cfg.checkpoint=empty.pth'), 1,
         UNREADABLE.format(r'empty\.pth', r'empty file\)')),
    Case('text file as load_from', train('load_from=notes.txt'), 1,
         UNREADABLE.format(r'notes\.txt',
                           r"not a torch file: text starting 'epoch 1 loss 0\.3'\)")),
    Case('text file to --resume', train(resume='notes.txt'), 1,
         UNREADABLE.format(r'notes\.txt', 'not a torch file')),
    Case('published weights to --resume', train(resume='good.pth'), 1,
         r"error: CheckpointKindError: good\.pth is not a training checkpoint \(it lacks "
         r"meta\.iter, optimizer, message_hub; it holds \['meta', 'state_dict'\]\).*"
         r"load_from='good\.pth'"),
    Case('other architecture as load_from', train('load_from=deeper.pth'), 1,
         r'error: CheckpointMismatchError: deeper\.pth \(3D video recognizer, official layout\) '
         r'does not fit VideoRecognizer: 13 keys the model does not have '
         r'\[backbone\.layers\.2\.blocks\.1\.norm1\.weight.*model\.backbone\.load_what_fits=True'),
    Case('zero-byte file to tools/test.py', score('empty.pth'), 1,
         UNREADABLE.format(r'empty\.pth', r'empty file\)')),
    Case('text file to tools/test.py', score('notes.txt'), 1,
         UNREADABLE.format(r'notes\.txt', 'not a torch file')),
    Case('NaN weights to tools/test.py', score('nan.pth'), 1,
         r'error: NonFiniteScoresError: refusing to score nan\.pth: the model scored .*\[nan.*'
         r'its weights are not finite: ' + re.escape(NAN_KEY) + r' \(3 of 9216 values NaN/inf\)'),
]
TRAINING_CASES = [  # these train one short epoch
    Case('another head as load_from (K400 -> SSv2 style): allowed, reported',
         train('load_from=other_head.pth'), 0,
         r'other_head\.pth \(3D video recognizer, official layout\): loaded \d+, inflated 0, '
         r'ignored 0, missing 0, shape-mismatched 2 \[cls_head\.fc_cls\.weight, '
         r'cls_head\.fc_cls\.bias\]'),
    Case('other architecture as load_from, load_what_fits=True',
         train('load_from=deeper.pth', 'model.backbone.load_what_fits=True'), 0,
         r'deeper\.pth \(3D video recognizer, official layout\): loaded \d+, inflated 0, '
         r'ignored 13 \[backbone\.layers\.2\.blocks\.1\.norm1\.weight'),
    Case('NaN weights as load_from: warned at load', train('load_from=nan.pth'), None,
         r'nan\.pth: the weights are not finite: ' + re.escape(NAN_KEY)),
]


def run(argv: List[str], cwd: Path) -> subprocess.CompletedProcess:
    argv = [str(REPO_ROOT / a) if a.startswith('tools/') else a.replace('{demo}', str(DEMO))
            for a in argv]
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))


def check(case: Case, workspace: Path) -> None:
    result = run(case.argv, workspace)
    output = result.stdout + result.stderr
    if case.status is not None:
        assert result.returncode == case.status, output[-3000:]
    assert re.search(case.line, output), output[-3000:]
    if case.status:
        assert 'Traceback' not in output, output[-3000:]
        assert len([line for line in result.stderr.splitlines() if line.startswith('error:')]) == 1


@pytest.mark.slow  # one tools/*.py process per row (~8 s each)
@pytest.mark.parametrize('case', CASES, ids=[c.damage for c in CASES])
def test_a_bad_checkpoint_gets_one_line(case, workspace):
    check(case, workspace)


@pytest.mark.slow
@pytest.mark.parametrize('case', TRAINING_CASES, ids=[c.damage for c in TRAINING_CASES])
def test_a_partly_fitting_checkpoint_is_reported_and_trains(case, workspace):
    check(case, workspace)
