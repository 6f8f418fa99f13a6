"""Stop (or skip the step) when the loss or the gradients stop being finite.

mmengine applies whatever the backward pass produced: one NaN loss turns every
weight into NaN and every later checkpoint into garbage, while training goes on.
This hook checks the loss before the backward pass and the gradients before the
optimizer step, inside ``OptimWrapper.update_params``, so a bad step never reaches
the weights or the optimizer state.
"""
import functools
from typing import Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook

from videoswin.registry import HOOKS

from ..checkpoint_files import POINTER, find_resumable_checkpoint

ACTIONS = ('stop', 'skip')


class NonFiniteLossError(RuntimeError):
    """Training met a NaN/inf loss or gradient; the message names the iteration."""


def _all_finite(tensor: torch.Tensor) -> bool:
    """True when ``tensor`` is finite on every process (all must take the same branch:
    a process that skipped its backward pass would hang the others' gradient sync)."""
    bad = torch.logical_not(torch.isfinite(tensor.detach())).any().float().reshape(1)
    all_reduce(bad)
    return bad.item() == 0


def _grads_finite(optimizer: torch.optim.Optimizer) -> bool:
    # gradients are identical on every process after the DDP all-reduce
    grads = [p.grad.detach() for group in optimizer.param_groups for p in group['params']
             if p.grad is not None]
    if not grads:
        return True
    return bool(torch.stack([g.abs().amax().float() for g in grads]).isfinite().all())


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Guard every optimizer step against NaN/inf losses and gradients.

    Args:
        action: 'stop' raises :class:`NonFiniteLossError` naming the iteration and the
            last good checkpoint (the weights in memory are those before the bad step);
            'skip' drops the step (no update, gradients cleared) and trains on.
        max_consecutive_skips: with 'skip', stop anyway after this many bad steps in a
            row: a run that keeps diverging is not worth continuing.
        check_grads: also check the gradients before each step (catches a finite loss
            whose backward pass overflowed). Off automatically under a dynamic loss
            scaler, which skips such steps by itself.
    """

    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'stop', max_consecutive_skips: int = 20,
                 check_grads: bool = True) -> None:
        if action not in ACTIONS:
            raise ValueError(f'action must be one of {ACTIONS}, got {action!r}')
        self.action = action
        self.max_consecutive_skips = max_consecutive_skips
        self.check_grads = check_grads
        self.skipped = 0
        self._consecutive = 0

    def before_train(self, runner) -> None:
        wrapper = runner.optim_wrapper
        update_params, step = wrapper.update_params, wrapper.step
        scaler = getattr(wrapper, 'loss_scaler', None)
        check_grads = self.check_grads and not (scaler is not None and scaler.is_enabled())

        @functools.wraps(update_params)
        def guarded_update_params(loss: torch.Tensor, step_kwargs: Optional[dict] = None,
                                  zero_kwargs: Optional[dict] = None) -> None:
            if _all_finite(loss):
                update_params(loss, step_kwargs, zero_kwargs)
                return
            self._reject(runner, f'loss is {loss.detach().float().mean().item()}')
            wrapper._inner_count += 1  # the skipped backward still counts as an iteration
            wrapper.zero_grad()

        @functools.wraps(step)  # keeps the mark param schedulers put on step
        def guarded_step(**kwargs) -> None:
            if not check_grads or _grads_finite(wrapper.optimizer):
                self._consecutive = 0
                step(**kwargs)
                return
            self._reject(runner, 'gradients are not finite')
            # update_params clears the gradients right after this call

        wrapper.update_params = guarded_update_params
        wrapper.step = guarded_step

    def after_train(self, runner) -> None:
        for name in ('update_params', 'step'):
            runner.optim_wrapper.__dict__.pop(name, None)

    def _reject(self, runner, what: str) -> None:
        """Record a bad step; raise unless skipping is allowed."""
        where = f'iteration {runner.iter + 1} (epoch {runner.epoch + 1})'
        self._consecutive += 1
        if self.action == 'skip' and self._consecutive <= self.max_consecutive_skips:
            self.skipped += 1
            runner.logger.warning(f'{what} at {where}: step skipped, weights unchanged '
                                  f'({self.skipped} skipped so far)')
            return
        in_a_row = (f' ({self._consecutive} bad steps in a row)' if self.action == 'skip'
                    else '')
        raise NonFiniteLossError(
            f'{what} at {where}{in_a_row}; training stopped before the step was applied. '
            f'Last good checkpoint: {self._last_checkpoint(runner)}. Lower the learning rate '
            'or set optim_wrapper.clip_grad, then resume; or set '
            "NonFiniteLossHook(action='skip') to skip such steps")

    @staticmethod
    def _last_checkpoint(runner) -> str:
        try:
            path = find_resumable_checkpoint(runner.work_dir)
        except FileNotFoundError:
            path = None
        return path if path is not None else f'none yet (no {POINTER} in {runner.work_dir})'
