"""mmengine's ``CheckpointHook``, made safe against kills, plus mid-epoch checkpoints."""
import os
import os.path as osp
from typing import Any, List, Optional

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from videoswin.engine.loops import ResumableEpochBasedTrainLoop
from videoswin.registry import HOOKS

from ..checkpoint_files import (commit, find_resumable_checkpoint, remove_stale_temp_files,
                               temp_name, write_pointer)

MID_EPOCH_KEY = 'mid_epoch_ckpt'  # message-hub entry: file name of the current one


class _DeferredRemoval:
    """A file backend whose removals wait until :meth:`apply` (after a save succeeded)."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._pending: List[str] = []

    def remove(self, path: str) -> None:
        self._pending.append(path)

    def rmtree(self, path: str) -> None:
        self._pending.append(path)

    def apply(self) -> None:
        for path in self._pending:
            if self._backend.isfile(path):
                self._backend.remove(path)
            elif self._backend.isdir(path):
                self._backend.rmtree(path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


# Also under mmengine's name: in the videoswin scope ``type='CheckpointHook'`` (as
# mmaction2 configs write it) builds this hook, which takes every argument mmengine's
# does, plus the keys the runtime base adds (mid_epoch_interval). mmengine's own hook
# stays reachable as 'mmengine.CheckpointHook'.
@HOOKS.register_module(name=['AtomicCheckpointHook', 'CheckpointHook'])
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose files survive a kill at any moment; same arguments, plus:

    Args:
        mid_epoch_interval: with ``by_epoch=True``, also save ``iter_{n}.pth`` every
            this many iterations inside an epoch (0 = never). Only the newest such
            file is kept, and the next epoch checkpoint replaces it. Resuming from one
            continues the epoch exactly with ``ResumableEpochBasedTrainLoop``; with
            another loop these saves are switched off (with a warning).

    Differences from mmengine's hook:

    * Every file is written under a temporary name, flushed to disk and renamed over
      the final name; ``last_checkpoint`` is replaced the same way, after the file it
      names. A kill leaves the last good checkpoint and a pointer to it.
    * Outdated checkpoints (``max_keep_ckpts``, the previous best) are deleted only
      after the new file is complete; mmengine deletes them first.
    * ``resume=True`` (``tools/train.py --resume``) reads ``last_checkpoint`` as
      belonging to this work dir, so a copied work dir resumes from its own files,
      and falls back to the newest complete checkpoint if the named one is broken.
    * Temporary files left by a killed save are removed when training starts.
    """

    def __init__(self, *args, mid_epoch_interval: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if mid_epoch_interval < 0:
            raise ValueError(f'mid_epoch_interval must be >= 0, got {mid_epoch_interval}')
        self.mid_epoch_interval = mid_epoch_interval
        self._mid_epoch_on = False
        self._mid_epoch_name: Optional[str] = None
        self._atomic = True

    # -- run stages ------------------------------------------------------------------
    def before_run(self, runner) -> None:
        # runs before Runner.load_or_resume: hand it the checkpoint we resolved
        if runner._resume and runner._load_from is None:
            path = find_resumable_checkpoint(runner.work_dir)
            if path is not None:
                runner._load_from = path

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._atomic = isinstance(self.file_backend, LocalBackend)
        if not self._atomic:
            runner.logger.warning(f'checkpoints go to {self.out_dir}, not a local disk: they '
                                  'are written as mmengine writes them, not atomically')
        elif is_main_process():
            for path in remove_stale_temp_files(self.out_dir):
                runner.logger.info(f'removed {path}, left by an interrupted save')
        self._mid_epoch_name = runner.message_hub.get_info(MID_EPOCH_KEY)
        self._mid_epoch_on = bool(self.mid_epoch_interval) and self.by_epoch
        if self._mid_epoch_on and not isinstance(runner.train_loop, ResumableEpochBasedTrainLoop):
            self._mid_epoch_on = False
            if len(runner.train_dataloader) > self.mid_epoch_interval:  # a save was due
                runner.logger.warning(
                    'mid_epoch_interval is ignored: resuming a mid-epoch checkpoint needs '
                    f"train_cfg.type='ResumableEpochBasedTrainLoop', not "
                    f'{type(runner.train_loop).__name__}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        if (self._mid_epoch_on and self.every_n_train_iters(runner, self.mid_epoch_interval)
                and not self.end_of_epoch(runner.train_dataloader, batch_idx)):
            runner.logger.info(f'Saving mid-epoch checkpoint at {runner.iter + 1} iterations')
            self._save_mid_epoch_checkpoint(runner)

    # -- saving ----------------------------------------------------------------------
    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        stale = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.filename_tmpl.format(self.keep_ckpt_ids.popleft()))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        superseded = self._mid_epoch_name
        runner.message_hub.update_info(MID_EPOCH_KEY, None)
        self._save_and_point(runner, self.filename_tmpl.format(step), meta=meta,
                             by_epoch=self.by_epoch, save_optimizer=self.save_optimizer,
                             save_param_scheduler=self.save_param_scheduler)
        self._mid_epoch_name = None
        self._remove(stale + ([superseded] if superseded else []))

    def _save_mid_epoch_checkpoint(self, runner) -> None:
        step = runner.iter + 1
        filename = f'iter_{step}.pth'
        previous = self._mid_epoch_name
        runner.message_hub.update_info(MID_EPOCH_KEY, filename)
        self._save_and_point(runner, filename, meta=dict(epoch=runner.epoch, iter=step),
                             by_epoch=False, save_optimizer=True, save_param_scheduler=True)
        self._mid_epoch_name = filename
        if previous and previous != filename:
            self._remove([previous])

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # mmengine's bookkeeping, with its writes made atomic and its deletions
        # of the previous best postponed until the new best is complete
        backend, deferred = self.file_backend, _DeferredRemoval(self.file_backend)
        self.file_backend = deferred
        runner.save_checkpoint = lambda out_dir, filename, *args, **kwargs: self._write(
            runner, out_dir, filename, *args, **kwargs)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            del runner.save_checkpoint
            self.file_backend = backend
        deferred.apply()

    def _save_and_point(self, runner, filename: str, **save_kwargs) -> None:
        path = self.file_backend.join_path(self.out_dir, filename)
        self.last_ckpt = path
        runner.message_hub.update_info('last_ckpt', path)
        self._write(runner, self.out_dir, filename, self.file_client_args,
                    backend_args=self.backend_args, **save_kwargs, **self.args)
        if is_main_process():
            write_pointer(runner.work_dir, path)

    def _write(self, runner, out_dir: str, filename: str, *args, **kwargs) -> None:
        """``Runner.save_checkpoint`` to a temporary name, then commit it (main process)."""
        save = type(runner).save_checkpoint  # the class's, never a patched attribute
        if not self._atomic:
            save(runner, out_dir, filename, *args, **kwargs)
            return
        temp_path = osp.join(out_dir, temp_name(filename))
        try:
            save(runner, out_dir, osp.basename(temp_path), *args, **kwargs)
            if is_main_process():
                commit(temp_path, osp.join(out_dir, filename))
        except BaseException:
            if is_main_process() and osp.exists(temp_path):
                os.remove(temp_path)
            raise

    def _remove(self, filenames: List[str]) -> None:
        if not is_main_process():
            return
        for name in filenames:
            path = self.file_backend.join_path(self.out_dir, name)
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
