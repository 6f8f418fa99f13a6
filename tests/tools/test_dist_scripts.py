"""tools/dist_{train,test}.sh and tools/slurm_{train,test}.sh without GPUs or a cluster.

Each script runs with fake ``python``, ``torchrun`` and ``srun`` first on PATH; the fakes
record their argv and environment and exit. The tests assert what would have been
launched (nodes, ranks, ports, the tool, the launcher and the user's extra arguments),
reading the launcher's options whichever spelling (``--a=b``/``--a b``, ``_``/``-``) or
entry point (``python -m torch.distributed.run`` or ``torchrun``) the script uses.
"""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from helpers import REPO_ROOT

ROOT = REPO_ROOT

FAKE = f'''#!{sys.executable}
import json, os, sys
with open(os.environ['LAUNCH_RECORD'], 'a') as f:
    f.write(json.dumps(dict(name=os.path.basename(sys.argv[0]), argv=sys.argv[1:],
                            env={{k: os.environ.get(k) for k in ('PYTHONPATH',)}})) + '\\n')
'''
EXTRA = ['--cfg-options', 'train_cfg.max_epochs=1', 'work_dir=dir with spaces', '--amp']


def run_script(tmp_path: Path, script: str, args: List[str],
               env: Dict[str, str] = None) -> Tuple[subprocess.CompletedProcess, List[dict]]:
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    for name in ('python', 'torchrun', 'srun'):
        fake = bin_dir / name
        fake.write_text(FAKE)
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    record = tmp_path / 'launches.jsonl'
    record.unlink(missing_ok=True)
    clean = {k: v for k, v in os.environ.items()
             if k not in ('NNODES', 'NODE_RANK', 'PORT', 'MASTER_ADDR', 'PYTHON', 'GPUS',
                          'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS')}
    full_env = dict(clean, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
                    LAUNCH_RECORD=str(record), PYTHONPATH='/some/where', **(env or {}))
    result = subprocess.run(['bash', str(ROOT / 'tools' / script), *args], cwd=tmp_path,
                            env=full_env, capture_output=True, text=True, timeout=60)
    launches = [json.loads(line) for line in record.read_text().splitlines()] \
        if record.exists() else []
    return result, launches


def torchrun_call(launches: List[dict]) -> Tuple[Dict[str, str], List[str], dict]:
    """(launcher options, the rest of the command, env) of the single launch recorded."""
    assert len(launches) == 1, launches
    argv = list(launches[0]['argv'])
    if launches[0]['name'] == 'python':
        assert argv[:2] == ['-m', 'torch.distributed.run'], argv
        argv = argv[2:]
    else:
        assert launches[0]['name'] == 'torchrun', launches
    options = {}
    while argv and argv[0].startswith('--'):
        key, _, value = argv.pop(0)[2:].partition('=')
        options[key.replace('-', '_')] = value if _ else argv.pop(0)
    return options, argv, launches[0]['env']


def test_dist_train_single_node_defaults(tmp_path):
    result, launches = run_script(tmp_path, 'dist_train.sh', ['cfg.py', '4'])
    assert result.returncode == 0, result.stderr
    options, command, env = torchrun_call(launches)
    assert options == dict(nnodes='1', node_rank='0', master_addr='127.0.0.1',
                           nproc_per_node='4', master_port='29500')
    assert command == [str(ROOT / 'tools/train.py'), 'cfg.py', '--launcher', 'pytorch']
    # the scripts' own package comes first on the path, the user's is kept
    assert env['PYTHONPATH'].split(os.pathsep) == [str(ROOT), '/some/where']


@pytest.mark.parametrize('node_rank', ['0', '1'])
def test_dist_train_two_nodes_with_port_and_extra_args(tmp_path, node_rank):
    result, launches = run_script(
        tmp_path, 'dist_train.sh', ['cfg.py', '8', *EXTRA],
        dict(NNODES='2', NODE_RANK=node_rank, MASTER_ADDR='10.1.2.3', PORT='29611'))
    assert result.returncode == 0, result.stderr
    options, command, _ = torchrun_call(launches)
    assert options == dict(nnodes='2', node_rank=node_rank, master_addr='10.1.2.3',
                           nproc_per_node='8', master_port='29611')
    # extra arguments arrive unchanged, one argv entry each (spaces included)
    assert command == [str(ROOT / 'tools/train.py'), 'cfg.py', '--launcher', 'pytorch', *EXTRA]


def test_dist_test_passes_checkpoint_and_extra_args(tmp_path):
    result, launches = run_script(
        tmp_path, 'dist_test.sh', ['cfg.py', 'ckpt.pth', '2', '--dump', 'out.pkl'],
        dict(NNODES='2', NODE_RANK='1', MASTER_ADDR='node0', PORT='29700'))
    assert result.returncode == 0, result.stderr
    options, command, _ = torchrun_call(launches)
    assert options == dict(nnodes='2', node_rank='1', master_addr='node0', nproc_per_node='2',
                           master_port='29700')
    assert command == [str(ROOT / 'tools/test.py'), 'cfg.py', 'ckpt.pth', '--launcher',
                       'pytorch', '--dump', 'out.pkl']


@pytest.mark.parametrize('script,args', [
    ('dist_train.sh', ['cfg.py']), ('dist_test.sh', ['cfg.py', 'ckpt.pth']),
    ('slurm_train.sh', ['part', 'job']), ('slurm_test.sh', ['part', 'job', 'cfg.py'])])
def test_too_few_arguments_print_usage_and_launch_nothing(tmp_path, script, args):
    result, launches = run_script(tmp_path, script, args)
    assert result.returncode == 2 and launches == []
    assert result.stderr.startswith('usage: ') and script in result.stderr


def srun_call(launches: List[dict]) -> Tuple[Dict[str, str], List[str], List[str]]:
    """(srun options, bare srun flags, the command srun runs) of the single launch."""
    assert len(launches) == 1 and launches[0]['name'] == 'srun', launches
    argv = list(launches[0]['argv'])
    options, flags = {}, []
    while argv and argv[0].startswith('-'):
        arg = argv.pop(0)
        if arg == '-p':
            options['partition'] = argv.pop(0)
        elif '=' in arg:
            key, value = arg.lstrip('-').split('=', 1)
            options[key] = value
        else:
            flags.append(arg)
    return options, flags, argv


def test_slurm_train_two_nodes_of_eight(tmp_path):
    result, launches = run_script(
        tmp_path, 'slurm_train.sh', ['gpu', 'k400', 'cfg.py', *EXTRA],
        dict(GPUS='16', SRUN_ARGS='--exclusive --time=2-00:00:00'))
    assert result.returncode == 0, result.stderr
    options, flags, command = srun_call(launches)
    assert options == {'partition': 'gpu', 'job-name': 'k400', 'gres': 'gpu:8', 'ntasks': '16',
                       'ntasks-per-node': '8', 'cpus-per-task': '5', 'kill-on-bad-exit': '1',
                       'time': '2-00:00:00'}
    assert flags == ['--exclusive']  # SRUN_ARGS split into words
    assert command == ['python', '-u', str(ROOT / 'tools/train.py'), 'cfg.py', '--launcher',
                       'slurm', *EXTRA]


def test_slurm_test_small_job_and_overrides(tmp_path):
    result, launches = run_script(
        tmp_path, 'slurm_test.sh', ['debug', 'eval', 'cfg.py', 'ckpt.pth', '--dump', 'o.pkl'],
        dict(GPUS='4', CPUS_PER_TASK='10', PYTHON='python'))
    assert result.returncode == 0, result.stderr
    options, flags, command = srun_call(launches)
    # fewer than 8 GPUs: all on one node
    assert (options['gres'], options['ntasks'], options['ntasks-per-node'],
            options['cpus-per-task']) == ('gpu:4', '4', '4', '10')
    assert flags == []
    assert command == ['python', '-u', str(ROOT / 'tools/test.py'), 'cfg.py', 'ckpt.pth',
                       '--launcher', 'slurm', '--dump', 'o.pkl']
