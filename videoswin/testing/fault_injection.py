"""Deliberate faults, for fire drills: does a setup survive a NaN, a kill, a kill mid-save?

The reliability tests use it; you can too, before trusting a long run::

    custom_imports = dict(imports=['videoswin.testing.fault_injection'])
    custom_hooks = [dict(type='FaultInjectionHook', nan_loss_at=[50])]

It is registered only when this module is imported, never by ``import videoswin``, so
it cannot slip into a real config unnoticed.
"""
import os
import signal
import time
from pathlib import Path
from typing import Optional, Sequence

import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from videoswin.registry import HOOKS


@HOOKS.register_module()
class FaultInjectionHook(Hook):
    """Inject faults at given iterations (numbered from 1, as the log prints them).

    Args:
        nan_loss_at: iterations whose loss terms are multiplied by NaN (the forward
            pass is otherwise normal, so the NaN also reaches the gradients).
        pause_after: after this iteration (and after its checkpoint, if any),
            create ``pause_marker`` and sleep, waiting to be killed from outside.
        pause_marker: the file announcing the pause.
        pause_seconds: give up waiting (raise) after this long.
        kill_during_save: the n-th checkpoint save (counting from 1) writes half of
            its bytes to disk, then the process kills itself with SIGKILL.
    """

    priority = 'LOWEST'  # after CheckpointHook, so a pause comes after the save

    def __init__(self, nan_loss_at: Sequence[int] = (), pause_after: Optional[int] = None,
                 pause_marker: Optional[str] = None, pause_seconds: float = 300,
                 kill_during_save: Optional[int] = None) -> None:
        if pause_after is not None and not pause_marker:
            raise ValueError('pause_after needs a pause_marker file')
        self.nan_loss_at = set(nan_loss_at)
        self.pause_after = pause_after
        self.pause_marker = pause_marker
        self.pause_seconds = pause_seconds
        self.kill_during_save = kill_during_save
        self._saves = 0
        self._handle = None

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if runner.iter + 1 in self.nan_loss_at:
            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
            self._handle = model.register_forward_hook(_poison_losses)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        if self.pause_after is not None and runner.iter + 1 == self.pause_after:
            Path(self.pause_marker).write_text(str(os.getpid()))
            time.sleep(self.pause_seconds)
            raise RuntimeError(f'FaultInjectionHook: nobody killed the run paused after '
                               f'iteration {self.pause_after}')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._saves += 1
        if self._saves == self.kill_during_save:
            LocalBackend.put = _put_half_then_die


def _poison_losses(module, args, output):
    if isinstance(output, dict):
        return {k: v * float('nan') if 'loss' in k and isinstance(v, torch.Tensor) else v
                for k, v in output.items()}
    return output


def _put_half_then_die(self, obj: bytes, filepath) -> None:
    """LocalBackend.put that stops half way, as a kill during the write would."""
    Path(filepath).parent.mkdir(parents=True, exist_ok=True)
    with open(filepath, 'wb') as f:
        f.write(obj[:len(obj) // 2])
        f.flush()
        os.fsync(f.fileno())
    os.kill(os.getpid(), signal.SIGKILL)
