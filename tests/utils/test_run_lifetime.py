"""One run per work dir, ranks that die with their launcher, and the temporary files
of dead saves removed at start (never those of a live process).

The runs are real ``tools/train.py`` / ``tools/dist_train.sh`` processes on synthetic
videos, killed with SIGKILL as an out-of-memory killer or a user would.
"""
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import pytest

from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.engine.checkpoint_files import remove_stale_temp_files, temp_name
from videoswin.utils.run_lifetime import LOCK_NAME

from helpers import REPO_ROOT

# long enough that the run is still alive while the test looks at it
CONFIG = """
_base_ = ['{repo}/configs/demo/swin-micro_synthetic.py']
_data = dict(ann_file='{data}/train_list.txt', data_prefix=dict(video='{data}/train'))
train_dataloader = dict(batch_size=1, num_workers={workers}, persistent_workers=False,
                        dataset=_data)
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(max_epochs=200)
default_hooks = dict(checkpoint=dict(interval=1000, save_best=None))
env_cfg = dict(num_threads=1)
"""


def write_config(tmp_path: Path, workers: int) -> Path:
    data = tmp_path / 'data'
    make_synthetic_dataset(data, num_train=1, num_val=1, num_frames=12, ssv2_style=False)
    config = tmp_path / 'long.py'
    config.write_text(CONFIG.format(repo=REPO_ROOT, data=data, workers=workers))
    return config


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.5)


def lock_text(work: Path) -> str:
    path = work / LOCK_NAME
    return path.read_text() if path.exists() else ''


def lock_is_free(work: Path) -> bool:
    """Whether another process could take the run's record lock (lockf) now."""
    with open(work / LOCK_NAME, 'a') as file:
        try:
            fcntl.lockf(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.lockf(file, fcntl.LOCK_UN)
        return True


@pytest.mark.slow
def test_a_second_run_on_a_live_work_dir_is_refused_and_sigkill_frees_it(tmp_path):
    config, work = write_config(tmp_path, workers=0), tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    train = [sys.executable, str(REPO_ROOT / 'tools/train.py'), str(config), '--work-dir',
             str(work)]
    first = subprocess.Popen(train, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: f'pid {first.pid} ' in lock_text(work), 120, 'the first run to lock')
        assert 'tools/train.py' in lock_text(work) and 'started 20' in lock_text(work)
        second = subprocess.run(train + ['--resume'], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        errors = [line for line in second.stderr.splitlines() if line.startswith('error: ')]
        assert second.returncode == 1 and len(errors) == 1, second.stderr[-3000:]
        assert f'{work} is in use by a live run (pid {first.pid} on ' in errors[0], errors[0]
        assert first.poll() is None, 'the refused run must not disturb the live one'
        assert not lock_is_free(work)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert lock_is_free(work), 'a SIGKILLed run must release the work dir'


def test_stale_temp_files_of_dead_processes_go_and_those_of_live_ones_stay(tmp_path):
    finished = subprocess.Popen(['true'])
    finished.wait()
    alive = subprocess.Popen(['sleep', '60'])
    try:
        dead_file = tmp_path / f'.iter_8.pth.{finished.pid}.tmp'
        live_file = tmp_path / f'.iter_8.pth.{alive.pid}.tmp'
        own_file = tmp_path / temp_name('last_checkpoint')  # a pid reused after a restart
        other = tmp_path / '.notes.tmp'  # not named by a save
        for path in (dead_file, live_file, own_file, other):
            path.write_bytes(b'partial')
        removed = remove_stale_temp_files(str(tmp_path))
        assert sorted(removed) == sorted([str(dead_file), str(own_file)])
        assert live_file.exists() and other.exists()
        assert not dead_file.exists() and not own_file.exists()
    finally:
        alive.kill()
        alive.wait()


def children(pid: int) -> List[int]:
    """Direct children of ``pid``, from /proc."""
    found = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text()
            except OSError:
                continue
            fields = stat.rsplit(')', 1)[1].split()
            if int(fields[1]) == pid and fields[0] != 'Z':
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError:
        return False
    return state != 'Z'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_sigkilling_dist_train_stops_its_ranks_and_their_loader_workers(tmp_path):
    config, work = write_config(tmp_path, workers=1), tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()))
    launcher = subprocess.Popen(
        ['bash', str(REPO_ROOT / 'tools/dist_train.sh'), str(config), '2', '--work-dir', str(work)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ranks: Dict[int, List[int]] = {}

        def training_with_workers() -> bool:
            assert launcher.poll() is None, 'the run ended early'
            ranks.clear()
            ranks.update({rank: children(rank) for rank in children(launcher.pid)})
            return len(ranks) == 2 and all(ranks.values())

        wait_for(training_with_workers, 240, 'two ranks with their loader workers')
        assert 'tools/train.py' in lock_text(work)  # rank 0 holds the work dir
        launcher.send_signal(signal.SIGKILL)  # the pid the script started: torchrun
        launcher.wait(timeout=60)
        processes = list(ranks) + [worker for workers in ranks.values() for worker in workers]
        wait_for(lambda: not any(running(pid) for pid in processes), 60,
                 'the ranks and loader workers to stop')
        wait_for(lambda: lock_is_free(work), 30, 'the work dir to be released')
    finally:
        for pid in [launcher.pid, *ranks, *(w for ws in ranks.values() for w in ws)]:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
