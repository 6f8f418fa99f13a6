"""Watch a long run's memory and open files, main process and loader workers together.

A leak in a long run shows as memory or file descriptors that grow with the
iteration count; this hook samples both every ``interval`` iterations, puts them in
the training log line (``rss_mb``, ``pss_mb``, ``open_files``) and keeps the samples
for programs (``benchmarks/long_run.py``, ``tests/engine/hooks/test_long_run.py``). Linux only
(it reads ``/proc``); elsewhere it does nothing.

Memory is counted two ways. ``rss_mb`` is the main process's resident set. ``pss_mb``
adds the loader workers' proportional set size: pages a worker shares with the main
process since the fork are split between them instead of being counted twice.
"""
import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

from mmengine.hooks import Hook

from videoswin.registry import HOOKS

PROC = '/proc'


def memory_kb(pid: int) -> Tuple[int, int]:
    """(RSS, PSS) of process ``pid`` in kB, from ``/proc/pid/smaps_rollup``."""
    values = {}
    with open(f'{PROC}/{pid}/smaps_rollup') as f:
        for line in f:
            name, _, rest = line.partition(':')
            if name in ('Rss', 'Pss'):
                values[name] = int(rest.split()[0])
    return values['Rss'], values['Pss']


def child_pids(pid: int) -> List[int]:
    """Live direct children of ``pid`` (loader workers are children of the trainer)."""
    children = []
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        try:
            with open(f'{PROC}/{entry}/stat') as f:
                # "pid (comm) state ppid ...": comm may hold spaces, so split after ')'
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[1]) == pid and fields[0] != 'Z':
            children.append(int(entry))
    return children


def open_files(pid: int) -> List[str]:
    """What each open descriptor of ``pid`` points at (paths, 'pipe:[..]', ...)."""
    folder = f'{PROC}/{pid}/fd'
    targets = []
    for fd in os.listdir(folder):
        try:
            targets.append(os.readlink(f'{folder}/{fd}'))
        except OSError:  # closed meanwhile
            continue
    return targets


@dataclass(frozen=True)
class ResourceSample:
    """One measurement: main-process RSS, PSS of main + workers, and their open fds."""
    iteration: int
    rss_mb: float
    pss_mb: float
    open_files: int
    workers: int


def measure(iteration: int, pid: Optional[int] = None,
            not_workers: Iterable[int] = ()) -> ResourceSample:
    """Sample ``pid`` (default: this process) and its children except ``not_workers``."""
    pid = os.getpid() if pid is None else pid
    workers = [child for child in child_pids(pid) if child not in set(not_workers)]
    rss, pss = memory_kb(pid)
    files = len(open_files(pid))
    for worker in workers:
        try:
            pss += memory_kb(worker)[1]
            files += len(open_files(worker))
        except (OSError, KeyError):  # the worker exited between listing and reading
            continue
    return ResourceSample(iteration, rss / 1024, pss / 1024, files, len(workers))


@HOOKS.register_module()
class ResourceMonitorHook(Hook):
    """Sample memory and open files every ``interval`` iterations (see module doc).

    Args:
        interval: iterations between samples.
    """

    priority = 'NORMAL'  # before LoggerHook, so the sample is in this iteration's line

    def __init__(self, interval: int = 50) -> None:
        self.interval = interval
        self.samples: List[ResourceSample] = []
        self._not_workers: set = set()
        self.enabled = os.path.exists(f'{PROC}/self/smaps_rollup')

    def before_train(self, runner) -> None:
        # children that exist before the loaders start are not loader workers
        self._not_workers = set(child_pids(os.getpid())) if self.enabled else set()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not (self.enabled and self.every_n_train_iters(runner, self.interval)):
            return
        sample = measure(runner.iter + 1, not_workers=self._not_workers)
        self.samples.append(sample)
        for name in ('rss_mb', 'pss_mb', 'open_files'):
            runner.message_hub.update_scalar(f'train/{name}', getattr(sample, name))
