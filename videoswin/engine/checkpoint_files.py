"""Crash-safe checkpoint files: atomic commits, the ``last_checkpoint`` pointer, and
finding the newest complete checkpoint of a work dir.

A checkpoint is first written under a temporary name in its final folder, flushed to
disk (fsync), then renamed over the final name (``os.replace`` is atomic within a
file system) and the folder entry is flushed too. A kill at any moment therefore
leaves either the previous file or the new complete one under the final name, never
a truncated one. The pointer is replaced the same way, and only after the file it
names is complete.
"""
import glob
import logging
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional

from mmengine.logging import print_log

POINTER = 'last_checkpoint'
_TEMP_SUFFIX = '.tmp'
_TEMP_PID = re.compile(r'^\..+\.(\d+)\.tmp$')  # .NAME.PID.tmp, see temp_name


def temp_name(filename: str) -> str:
    """Hidden, per-process temporary name for ``filename`` (same folder)."""
    return f'.{filename}.{os.getpid()}{_TEMP_SUFFIX}'


def _fsync_path(path: str, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(temp_path: str, final_path: str) -> None:
    """Make the complete file ``temp_path`` durable and atomically name it ``final_path``."""
    _fsync_path(temp_path)
    os.replace(temp_path, final_path)
    _fsync_path(osp.dirname(osp.abspath(final_path)), directory=True)


def write_text_atomic(path: str, text: str) -> None:
    """Replace the text file ``path`` all at once (see :func:`commit`)."""
    temp_path = osp.join(osp.dirname(osp.abspath(path)), temp_name(osp.basename(path)))
    with open(temp_path, 'w', encoding='utf-8') as f:
        f.write(text)
    commit(temp_path, path)


def remove_stale_temp_files(folder: str) -> List[str]:
    """Delete the temporary files that killed saves left in ``folder``; returns them.

    Call it when a run starts, before its first save. A file is stale when the process
    its name records is dead, or is this one (a pid reused after a restart: this run
    has not saved yet). Files of another live process are a save in progress and kept.
    """
    stale = [path for path in glob.glob(osp.join(folder, f'.*{_TEMP_SUFFIX}'))
             if _writer_is_gone(osp.basename(path))]
    for path in stale:
        try:
            os.remove(path)
        except FileNotFoundError:  # removed meanwhile by another run starting here
            pass
    return stale


def _writer_is_gone(name: str) -> bool:
    match = _TEMP_PID.match(name)
    if match is None:
        return False  # not one of ours
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


def is_complete_checkpoint(path: str) -> bool:
    """True if ``path`` is a whole ``torch.save`` file.

    torch writes a zip archive whose central directory comes last, so a file cut
    short anywhere has none; reading it costs a seek, not a pass over the file.
    """
    return osp.isfile(path) and zipfile.is_zipfile(path)


def write_pointer(work_dir: str, checkpoint_path: str) -> None:
    """Point ``work_dir/last_checkpoint`` at ``checkpoint_path`` (absolute, as mmengine)."""
    write_text_atomic(osp.join(work_dir, POINTER), osp.abspath(checkpoint_path))


def _inside(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return osp.commonpath([path, folder]) == folder


def _pointed_checkpoint(work_dir: str) -> Optional[str]:
    """The file the pointer names, read as belonging to ``work_dir``.

    mmengine stores absolute paths, so a copied or moved work dir still points into
    the original one; when the named file lies outside ``work_dir`` and the work dir
    has its own file of that name, the work dir's own file is meant.
    """
    pointer = osp.join(work_dir, POINTER)
    if not osp.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8') as f:
        named = f.read().strip()
    if not named:
        return None
    if not osp.isabs(named):
        return osp.join(work_dir, named)
    own = osp.join(work_dir, osp.basename(named))
    if not _inside(named, work_dir) and osp.isfile(own):
        print_log(f'{pointer} names {named}, outside this work dir; resuming from this '
                  f'work dir\'s own {own}', logger='current')
        return own
    return named


def _candidates(work_dir: str) -> List[str]:
    """Checkpoints a run could resume from, newest first (best_* lack optimizer state)."""
    paths = [p for p in glob.glob(osp.join(work_dir, '*.pth'))
             if not osp.basename(p).startswith('best_')]
    return sorted(paths, key=osp.getmtime, reverse=True)


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume ``work_dir`` from, or None when it has no pointer.

    Normally the pointer's file. If that one is missing or incomplete (written by
    a non-atomic saver, or deleted), the newest complete checkpoint of the work dir.

    Raises:
        FileNotFoundError: there is a pointer but no complete checkpoint at all.
    """
    named = _pointed_checkpoint(work_dir)
    if named is None:
        return None
    if is_complete_checkpoint(named):
        return named
    for path in _candidates(work_dir):
        if is_complete_checkpoint(path):
            print_log(f'{osp.join(work_dir, POINTER)} names {named}, which is missing or '
                      f'incomplete; resuming from the newest complete checkpoint {path}',
                      logger='current', level=logging.WARNING)
            return path
    raise FileNotFoundError(f'cannot resume {work_dir}: {POINTER} names {named}, which is '
                            'missing or incomplete, and no other complete checkpoint is there')
