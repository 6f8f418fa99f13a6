"""The batch contract as a hook, so every Runner built from our configs applies it.

``Runner.train()`` and ``FlexibleRunner.train()`` build the optimizer, apply mmengine's
own ``auto_scale_lr`` (lr x processes x batch / recipe batch, blind to accumulation) and
build the param schedulers (which capture each group's ``initial_lr``) before the first
hook point, ``before_run``. No hook runs earlier, so this one corrects what is built:
every lr mmengine scaled gets the missing accumulation factor, the ``base_lr`` mmengine
left alone (``base_param_settings``, the logged one) gets the whole ratio, and the
schedulers' ``base_values`` follow. The result equals building with the scaled lr.

Exactly once: mmengine's scaling is then switched off, and a run whose optimizer and
schedulers already came from a checkpoint (``FlexibleRunner`` resumes before
``before_run``) is left as saved. ``Runner`` resumes after ``before_run``, overwriting
the correction with the saved (already scaled) state.
"""
import logging
from typing import Dict, List, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import BaseOptimWrapper, OptimWrapper, OptimWrapperDict, _ParamScheduler

from videoswin.engine.batch_contract import BatchContract, mismatch_warning, read_contract
from videoswin.registry import HOOKS


def _wrappers(optim_wrapper) -> List[OptimWrapper]:
    if isinstance(optim_wrapper, OptimWrapperDict):
        return list(optim_wrapper.values())
    return [optim_wrapper]


def _accumulation(optim_wrapper) -> int:
    counts = {w._accumulative_counts for w in _wrappers(optim_wrapper)}
    if len(counts) != 1:
        raise ValueError(f'optim_wrapper: sub-wrappers disagree on accumulative_counts '
                         f'{sorted(counts)}')
    return counts.pop()


def _scale_cfg(runner) -> Dict:
    """``auto_scale_lr`` of the runner; a ``FlexibleRunner`` keeps it in its strategy."""
    strategy = getattr(runner, 'strategy', None)
    return dict((runner.auto_scale_lr if strategy is None else strategy._auto_scale_lr) or {})


def _disable_mmengine_scaling(runner, scale_cfg: Dict) -> None:
    off = {**scale_cfg, 'enable': False}
    if getattr(runner, 'strategy', None) is not None:
        runner.strategy._auto_scale_lr = off
    else:
        runner.auto_scale_lr = off


def _schedulers(param_schedulers) -> List[_ParamScheduler]:
    """The built schedulers (a list, or a dict of lists for an OptimWrapperDict)."""
    if param_schedulers is None:
        return []
    if isinstance(param_schedulers, dict) and 'type' not in param_schedulers:
        param_schedulers = [s for group in param_schedulers.values() for s in group]
    return [s for s in param_schedulers if isinstance(s, _ParamScheduler)]


def complete_lr_scaling(optim_wrapper, param_schedulers, contract: BatchContract) -> None:
    """Bring lrs that mmengine scaled by processes x batch / recipe to global / recipe.

    The optimizer's groups miss the accumulation factor; ``base_param_settings`` (an
    extra group in ``OptimWrapper.param_groups``, not scaled by mmengine) misses it all.
    """
    schedulers = _schedulers(param_schedulers)
    for wrapper in _wrappers(optim_wrapper):
        groups = wrapper.param_groups
        factors = [float(contract.accumulation)] * len(wrapper.optimizer.param_groups)
        factors += [contract.lr_ratio] * (len(groups) - len(factors))
        for group, factor in zip(groups, factors):
            for key in ('lr', 'initial_lr'):
                if key in group:
                    group[key] *= factor
        wrapper.optimizer.defaults['lr'] *= contract.lr_ratio
        for scheduler in schedulers:
            if scheduler.optimizer is wrapper and scheduler.param_name == 'lr':
                scheduler.base_values = [v * f for v, f in zip(scheduler.base_values, factors)]
                scheduler._last_value = [v * f for v, f in zip(scheduler._last_value, factors)]


@HOOKS.register_module()
class BatchContractHook(Hook):
    """Log the global batch, warn when it is not the recipe's, and with
    ``auto_scale_lr.enable`` scale the lr by global / recipe batch, accumulation included."""

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self.contract: Optional[BatchContract] = None

    def before_run(self, runner) -> None:
        loader = runner._train_dataloader
        if (self.contract is not None or loader is None
                or not isinstance(runner.optim_wrapper, BaseOptimWrapper)):
            return  # already applied, or not a training run (val/test build no optimizer)
        per_process = loader['batch_size'] if isinstance(loader, dict) else loader.batch_size
        scale_cfg = _scale_cfg(runner)
        scale_enabled = bool(scale_cfg.get('enable', False))
        self.contract = contract = read_contract(
            per_process, _accumulation(runner.optim_wrapper), runner.world_size,
            scale_cfg.get('base_batch_size'))

        print_log(f'Batch contract: {contract.describe()}', logger='current')
        warning = mismatch_warning(contract, scale_enabled)
        if warning:
            print_log(warning, logger='current', level=logging.WARNING)
        if not scale_enabled:
            return
        _disable_mmengine_scaling(runner, scale_cfg)
        if runner._has_loaded and runner._resume:
            print_log('Resumed: the lr and schedules as saved (scaled once before).',
                      logger='current')
            return
        complete_lr_scaling(runner.optim_wrapper, runner.param_schedulers, contract)
        print_log(f'Scaled lr by {contract.lr_ratio:g} = {contract.global_batch} / '
                  f'{contract.recipe_batch} in all (linear scaling rule): mmengine\'s factor '
                  f'above times {contract.accumulation} accumulation step(s)', logger='current')
