"""Command lines of tools/train.py, tools/test.py and the launcher scripts."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO_ROOT, load_tool

DEMO = REPO_ROOT / 'configs/demo/swin-micro_synthetic.py'


def train_config(monkeypatch, *argv):
    train = load_tool('train')
    monkeypatch.setattr(sys, 'argv', ['train.py', str(DEMO), *argv])
    return train.build_config(train.parse_args())


def test_train_defaults_follow_mmengine_conventions(monkeypatch):
    cfg = train_config(monkeypatch)
    assert cfg.work_dir == os.path.join('work_dirs', 'swin-micro_synthetic')
    assert cfg.launcher == 'none' and cfg.resume is False and cfg.load_from is None
    assert cfg.default_scope == 'videoswin'


def test_train_flags_edit_the_config(monkeypatch):
    cfg = train_config(monkeypatch, '--work-dir', 'out', '--amp', '--auto-scale-lr',
                       '--launcher', 'pytorch', '--cfg-options', 'train_cfg.max_epochs=3',
                       'model.backbone.window_size=(2,7,7)')
    assert cfg.work_dir == 'out' and cfg.launcher == 'pytorch'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.auto_scale_lr.enable is True
    assert cfg.train_cfg.max_epochs == 3
    assert tuple(cfg.model.backbone.window_size) == (2, 7, 7)


@pytest.mark.parametrize('argv,resume,load_from', [
    (['--resume'], True, None),  # latest checkpoint of the work dir
    (['--resume', 'w/epoch_3.pth'], True, 'w/epoch_3.pth'),
])
def test_train_resume_forms(monkeypatch, argv, resume, load_from):
    cfg = train_config(monkeypatch, *argv)
    assert cfg.resume is resume and cfg.load_from == load_from


def test_amp_refuses_a_custom_optim_wrapper(monkeypatch):
    with pytest.raises(ValueError, match='--amp'):
        train_config(monkeypatch, '--amp', '--cfg-options', 'optim_wrapper.type=MyWrapper')


def test_test_dump_appends_a_dump_metric_and_checks_the_name(monkeypatch):
    test = load_tool('test')
    monkeypatch.setattr(sys, 'argv', ['test.py', str(DEMO), 'ckpt.pth', '--dump', 'p.pkl'])
    cfg = test.build_config(test.parse_args())
    assert [e['type'] for e in cfg.test_evaluator] == ['AccMetric', 'DumpResults']
    assert cfg.load_from is None  # the checkpoint goes through load_model_checkpoint
    monkeypatch.setattr(sys, 'argv', ['test.py', str(DEMO), 'ckpt.pth', '--dump', 'p.json'])
    with pytest.raises(ValueError, match='.pkl'):
        test.build_config(test.parse_args())


def test_test_prints_accuracy_metrics_first_under_readable_names():
    text = load_tool('test').format_metrics(
        {'acc/mean1': 0.5, 'extra': 3, 'acc/top1': 0.75, 'acc/top5': 1.0})
    assert text.splitlines() == ['top-1 accuracy: 0.7500', 'top-5 accuracy: 1.0000',
                                 'mean class accuracy: 0.5000', 'extra: 3']


def fake_command(bin_dir: Path, name: str, log: Path) -> None:
    """An executable that records its arguments, one per line."""
    script = bin_dir / name
    script.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize('script,args,tool_args', [
    ('slurm_train.sh', ['gpu', 'job1', 'cfg.py', '--amp'], ['cfg.py', '--launcher', 'slurm', '--amp']),
    ('slurm_test.sh', ['gpu', 'job1', 'cfg.py', 'ck.pth', '--dump', 'p.pkl'],
     ['cfg.py', 'ck.pth', '--launcher', 'slurm', '--dump', 'p.pkl']),
])
def test_slurm_scripts_launch_one_task_per_gpu_through_srun(tmp_path, script, args, tool_args):
    log = tmp_path / 'srun.args'
    fake_command(tmp_path, 'srun', log)
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}', GPUS='16', SRUN_ARGS='--qos x')
    subprocess.run(['bash', str(REPO_ROOT / 'tools' / script), *args], env=env, check=True)
    srun_args = log.read_text().splitlines()
    assert srun_args[:2] == ['-p', 'gpu'] and '--job-name=job1' in srun_args
    assert '--ntasks=16' in srun_args and '--ntasks-per-node=8' in srun_args
    assert '--gres=gpu:8' in srun_args and srun_args[srun_args.index('--qos') + 1] == 'x'
    tool = srun_args.index(
        str(REPO_ROOT / 'tools' / script.replace('slurm_', '').replace('.sh', '.py')))
    assert srun_args[tool + 1:] == tool_args


@pytest.mark.parametrize('script,args,tool_args', [
    ('dist_train.sh', ['cfg.py', '2', '--amp'], ['cfg.py', '--launcher', 'pytorch', '--amp']),
    ('dist_test.sh', ['cfg.py', 'ck.pth', '4'], ['cfg.py', 'ck.pth', '--launcher', 'pytorch']),
])
def test_dist_scripts_call_torchrun_with_the_node_settings(tmp_path, script, args, tool_args):
    log = tmp_path / 'python.args'
    fake_command(tmp_path, 'fakepython', log)
    env = dict(os.environ, PYTHON=str(tmp_path / 'fakepython'), NNODES='2', NODE_RANK='1',
               MASTER_ADDR='10.1.2.3', PORT='29999')
    subprocess.run(['bash', str(REPO_ROOT / 'tools' / script), *args], env=env, check=True)
    argv = log.read_text().splitlines()
    nproc = args[1] if script == 'dist_train.sh' else args[2]
    assert argv[:2] == ['-m', 'torch.distributed.run']
    assert {'--nnodes=2', '--node_rank=1', '--master_addr=10.1.2.3', '--master_port=29999',
            f'--nproc_per_node={nproc}'} <= set(argv)
    tool = argv.index(str(REPO_ROOT / 'tools' / script.replace('dist_', '').replace('.sh', '.py')))
    assert argv[tool + 1:] == tool_args


@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh', 'slurm_train.sh',
                                    'slurm_test.sh'])
def test_launchers_print_usage_when_arguments_are_missing(script):
    result = subprocess.run(['bash', str(REPO_ROOT / 'tools' / script)], capture_output=True,
                            text=True)
    assert result.returncode == 2 and 'usage:' in result.stderr
