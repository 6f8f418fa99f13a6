"""Reading checkpoint files without letting them run code.

``torch.load`` unpickles; a pickle can call any importable function, so opening an
untrusted ``.pth`` file is running untrusted code. torch's ``weights_only=True``
restricts unpickling to an allow-list, but mmengine checkpoints hold a few more types
(the message hub's ``HistoryBuffer``, numpy arrays, dtypes and scalars), and mmengine
0.10.7 calls ``torch.load`` without ``weights_only``, so under torch >= 2.6 resuming
fails. ``safe_load`` keeps ``weights_only=True`` and adds exactly those types.

One global needs care. Pickle refers to ``HistoryBuffer.min`` (a function stored in
the buffer's state) as ``getattr(HistoryBuffer, 'min')``. Allowing the real
``getattr`` would let a crafted file read any attribute of any object it can reach
(running property code, reaching functions' globals). Instead the name
``builtins.getattr`` is bound to :func:`_history_buffer_method`, which only hands out
HistoryBuffer's own statistics methods and refuses everything else.
"""
import logging
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log

from .remote import expand_path, fetch, is_url

#: Setting this environment variable to 1 makes every load in the process trusted.
TRUST_ENV_VAR = 'VIDEOSWIN_TRUST_CHECKPOINTS'

_TRUE_VALUES = ('1', 'true', 'yes', 'y')
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
# numpy dtype classes that describe plain fixed-size data. Object, void (structured)
# and variable-width string dtypes are left out: checkpoints do not need them.
_PLAIN_DTYPE_NAMES = tuple(
    name for name in np.dtypes.__all__
    if name not in ('ObjectDType', 'VoidDType', 'StringDType'))


# torch.save's two formats: a zip archive (torch >= 1.6), or the legacy pickle stream
# that starts with a protocol opcode and torch's magic number.
ZIP_MAGIC = b'PK\x03\x04'
LEGACY_MAGIC = (0x1950a86a20f9469cfc6c).to_bytes(10, 'little')
# torch's RuntimeErrors that mean the bytes are damaged (not, e.g., a bad map_location)
_DAMAGE = re.compile(r'PytorchStreamReader|miniz|unexpected EOF|corrupt', re.IGNORECASE)


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs a type or call outside the allow-list; nothing of it ran."""


class UnreadableCheckpointError(ValueError):
    """The file is not a checkpoint torch can read: empty, truncated or another format."""


def _unreadable(path: str, what: str) -> UnreadableCheckpointError:
    return UnreadableCheckpointError(f'{path}: not a readable checkpoint ({what})')


def _not_torch_file(head: bytes) -> str:
    """What a file that is no torch checkpoint looks like, for the error line."""
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError:
        return 'not a torch file'
    if any(not char.isprintable() and char not in '\t\r\n' for char in text):
        return 'not a torch file'
    first = text.strip().splitlines()[0][:40] if text.strip() else ''
    return f'not a torch file: text starting {first!r}'


def check_readable(path: str) -> None:
    """Refuse an empty file, a truncated zip archive and a file of another format before
    ``torch.load`` answers them with EOFError, a miniz message or a pickle opcode."""
    with open(path, 'rb') as stream:
        head = stream.read(64)
    if not head:
        raise _unreadable(path, 'empty file')
    if head.startswith(ZIP_MAGIC):
        if not zipfile.is_zipfile(path):
            raise _unreadable(path, 'truncated: the zip archive has no end')
    elif not (head[:1] == b'\x80' and LEGACY_MAGIC in head):
        raise _unreadable(path, _not_torch_file(head))


def _history_buffer_method(owner: Any, name: str) -> Callable:
    """Stands in for ``getattr`` while unpickling; see the module docstring."""
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refused call getattr({getattr(owner, "__qualname__", type(owner).__name__)}, '
        f'{name!r}): only HistoryBuffer statistics methods may be looked up')


def _allowed_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """What mmengine / mmaction2 / official Video Swin checkpoints hold beyond torch's list."""
    multiarray = np._core.multiarray
    allowed: List[Union[Callable, Tuple[Callable, str]]] = [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        (multiarray._reconstruct, 'numpy._core.multiarray._reconstruct'),
        (multiarray.scalar, 'numpy._core.multiarray.scalar'),
        # files written under numpy 1.x name the same functions under numpy.core
        (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
        (multiarray.scalar, 'numpy.core.multiarray.scalar'),
        (_history_buffer_method, 'builtins.getattr'),
        (torch.torch_version.TorchVersion, 'torch.torch_version.TorchVersion'),
    ]
    allowed += [getattr(np.dtypes, name) for name in _PLAIN_DTYPE_NAMES]
    return allowed


def trust_from_env() -> bool:
    """True when the user opted in to unrestricted loading for this process."""
    return os.environ.get(TRUST_ENV_VAR, '0').strip().lower() in _TRUE_VALUES


def _refusal(path: str, error: Exception) -> UnsafeCheckpointError:
    """Turn torch's long weights-only message into one line naming the culprit."""
    text = str(error)
    found = re.search(r'GLOBAL (\S+) was not an allowed global', text)
    if found:
        name = found.group(1)
        # torch drops the 'builtins.' prefix from the names it reports
        culprit = f'the global {name if "." in name else "builtins." + name}'
    else:
        found = re.search(r'whose module (\S+) is blocked', text) or re.search(
            r'(refused call [^\n]*?)(?: *\n|$)', text) or re.search(
            r'(Trying to call reduce for unrecognized function [^\n]*)', text) or re.search(
            r'((?:Can only|Unsupported operand)[^\n]*)', text)
        culprit = found.group(1) if found else text.strip().splitlines()[-1]
    return UnsafeCheckpointError(
        f'refusing to load {path}: it needs {culprit}, which is not on videoswin\'s '
        f'allow-list of checkpoint types (unpickling it could run code). If you trust '
        f'this file, load it with safe_load(..., trusted=True) or set {TRUST_ENV_VAR}=1.')


def safe_load(path: str,
              map_location: Union[str, torch.device, None] = 'cpu',
              trusted: bool = False) -> Any:
    """Load a checkpoint file with ``weights_only=True`` and videoswin's allow-list.

    Args:
        path: a ``torch.save`` file (``.pth``/``.bin``/...) or a ``.safetensors`` file, or
            an http(s) URL of one (downloaded once, see :mod:`videoswin.checkpoint.remote`).
        map_location: where tensors go, as in :func:`torch.load`.
        trusted: unrestricted unpickling, for files whose author you trust (equivalently
            ``VIDEOSWIN_TRUST_CHECKPOINTS=1``). Never the default, never a fallback.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CheckpointDownloadError: a URL could not be downloaded.
        UnreadableCheckpointError: the file is empty, truncated or not a torch file.
        UnsafeCheckpointError: the file needs a type or call outside the allow-list.
    """
    path = fetch(path) if is_url(path) else expand_path(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if path.endswith('.safetensors'):
        return _load_safetensors(path, map_location)
    check_readable(path)
    try:
        if trusted or trust_from_env():
            print_log(f'loading {path} with unrestricted unpickling (trusted file)',
                      logger='current', level=logging.WARNING)
            return torch.load(path, map_location=map_location, weights_only=False)
        with torch.serialization.safe_globals(_allowed_globals()):
            try:
                return torch.load(path, map_location=map_location, weights_only=True)
            except pickle.UnpicklingError as error:
                raise _refusal(path, error) from None
    except (EOFError, RuntimeError) as error:  # a damaged archive or a cut legacy stream
        if isinstance(error, RuntimeError) and not _DAMAGE.search(str(error)):
            raise
        raise _unreadable(path, f'truncated or damaged: {str(error).splitlines()[0][:120]}'
                          ) from None


def _load_safetensors(path: str, map_location: Union[str, torch.device, None]) -> Any:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    device = 'cpu' if map_location is None else str(map_location)
    try:
        return load_file(path, device=device)
    except SafetensorError as error:
        raise _unreadable(path, f'damaged safetensors file: {error}') from None


def load_from_safe_local(filename: str, map_location: Optional[str] = None) -> Any:
    """mmengine CheckpointLoader backend for local paths (its log line says 'safe_local')."""
    return safe_load(filename, map_location=map_location)


def load_from_safe_http(filename: str, map_location: Optional[str] = None) -> Any:
    """mmengine CheckpointLoader backend for http(s): download to torch's hub cache once."""
    return safe_load(filename, map_location=map_location)


_SCHEMES: Dict[Union[str, Tuple[str, ...]], Callable] = {
    '': load_from_safe_local,
    ('http://', 'https://'): load_from_safe_http,
}


def install_safe_loader() -> None:
    """Route mmengine's ``load_checkpoint``, ``load_from`` and ``resume`` through ``safe_load``.

    mmengine picks a loader by path prefix; this replaces the local-file and http(s)
    loaders. Calling it again changes nothing.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefixes, loader in _SCHEMES.items():
        CheckpointLoader.register_scheme(prefixes=prefixes, loader=loader, force=True)
