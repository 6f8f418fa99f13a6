"""A training run owns its work dir while it lives, and dies with its launcher.

* **One run per work dir.** Two runs writing one work dir (a ``--resume`` started
  while the first run still trains) overwrite each other's checkpoints and pointer.
  :func:`lock_work_dir` takes an exclusive POSIX record lock (``lockf``) on
  ``WORK_DIR/.lock`` and keeps it for the life of the process: the kernel drops it when
  the process ends, however it ends (SIGKILL, out of memory), so a dead run never
  blocks the next one. Unlike ``flock``, a record lock belongs to the process alone:
  the loader workers it forks do not hold it, so a ``--resume`` right after a kill is
  not refused while orphaned workers wind down. The file holds the owner's pid, host,
  command and start time, which a refused run prints.
* **Ranks die with their launcher.** torchrun stops its ranks when it is interrupted
  or terminated, but cannot when it is SIGKILLed: the ranks (and their loader
  workers) would train on to the end, unseen. :func:`die_with_launcher` asks the
  kernel to kill a rank when its parent, the launcher, dies.
"""
import ctypes
import datetime
import errno
import fcntl
import os
import os.path as osp
import shlex
import signal
import socket
import sys
from typing import Optional, TextIO

from .errors import ConfigError

LOCK_NAME = '.lock'
#: set by tools/dist_*.sh to the pid of the torchrun they exec (see die_with_launcher)
LAUNCHER_PID_ENV = 'VIDEOSWIN_LAUNCHER_PID'
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

_held: Optional[TextIO] = None  # the open lock file: the lock lives as long as it does


class WorkDirInUseError(ConfigError):
    """Another live run holds the work dir."""


def is_first_process(launcher: str) -> bool:
    """Global rank 0 of the run, known before the process group exists."""
    if launcher == 'pytorch':
        return os.environ.get('RANK', '0') == '0'
    if launcher == 'slurm':
        return os.environ.get('SLURM_PROCID', '0') == '0'
    return True


def lock_work_dir(work_dir: str) -> None:
    """Hold ``work_dir`` for this process until it ends.

    Raises:
        WorkDirInUseError: another live process holds it; the message names it.
    """
    global _held
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_NAME)
    if _held is not None:  # a tool run again in this process (tests, notebooks)
        if osp.realpath(_held.name) == osp.realpath(path):
            return
        _held.close()  # one run per process: the earlier run's work dir is free again
        _held = None
    file = open(path, 'a+', encoding='utf-8')  # not 'w': the owner's note must survive
    try:
        fcntl.lockf(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:  # EAGAIN or EACCES, as the platform reports a held lock
        if error.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        file.seek(0)
        owner = ' '.join(file.read().split()) or 'its details are not written yet'
        file.close()
        raise WorkDirInUseError(
            f'{work_dir} is in use by a live run ({owner}); wait for it to end or stop it, '
            'or choose another --work-dir') from None
    file.seek(0)
    file.truncate()
    file.write(owner_note())
    file.flush()
    _held = file


def owner_note() -> str:
    """What the lock file says about the run holding it."""
    started = datetime.datetime.now().astimezone().isoformat(timespec='seconds')
    command = ' '.join(shlex.quote(arg) for arg in [sys.executable, *sys.argv])
    return f'pid {os.getpid()} on {socket.gethostname()}, started {started}: {command}\n'


def die_with_launcher() -> None:
    """Have the kernel SIGKILL this process when its parent (torchrun) dies.

    If the launcher died before this call, the parent is no longer the pid that
    ``tools/dist_*.sh`` exported, and the process exits at once.
    """
    if not sys.platform.startswith('linux'):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    launcher = os.environ.get(LAUNCHER_PID_ENV, '')
    if launcher.isdigit() and os.getppid() != int(launcher):
        print(f'error: the launcher (pid {launcher}) is gone; this rank stops',
              file=sys.stderr, flush=True)
        os._exit(1)
