"""The batch contract: global batch = processes x per-process batch x accumulation steps.

A recipe's learning rate is tuned for one global batch (``auto_scale_lr.base_batch_size``;
64 for every Video Swin recipe but Swin-L on K700). The three factors are read from the
config and the launcher:

* processes: the world size (GPUs, or CPU processes with gloo);
* per-process batch: ``train_dataloader.batch_size``, which *is* the loader batch;
* accumulation steps: ``optim_wrapper.accumulative_counts`` (mmengine averages the loss
  over them and steps the optimizer once per group of micro-batches).

Accumulation multiplies the batch, it never divides it: the official code derived the
loader batch as ``videos_per_gpu // update_interval`` and crashed with a batch of 0 when
the second was larger (official issue #24). Here the loader batch is always the
configured positive integer.

mmengine's own ``auto_scale_lr`` ignores accumulation (it uses processes x batch) and does
not update the logged ``base_lr``; ``BatchContractHook``
(videoswin/engine/hooks/batch_contract_hook.py) completes the scaling. This module holds
the arithmetic only.
"""
from dataclasses import dataclass
from typing import Optional, Tuple



@dataclass(frozen=True)
class BatchContract:
    """The three factors of the global batch, and the recipe's global batch (if stated)."""

    world_size: int
    per_process: int
    accumulation: int
    recipe_batch: Optional[int] = None

    @property
    def global_batch(self) -> int:
        return self.world_size * self.per_process * self.accumulation

    @property
    def lr_ratio(self) -> float:
        """Linear-scaling factor from the recipe's batch to the effective one."""
        if self.recipe_batch is None:
            return 1.0
        return self.global_batch / self.recipe_batch

    def describe(self) -> str:
        steps = 'step' if self.accumulation == 1 else 'steps'
        procs = 'process' if self.world_size == 1 else 'processes'
        text = (f'global batch {self.global_batch} = {self.world_size} {procs} x '
                f'{self.per_process} per process x {self.accumulation} accumulation {steps}')
        if self.recipe_batch is not None:
            text += f' (recipe: {self.recipe_batch})'
        return text


def _positive_int(value, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{key} must be a positive integer, got {value!r}')
    return value


def read_contract(per_process, accumulation, world_size: int,
                  recipe_batch=None) -> BatchContract:
    """Validate the factors (naming the config key at fault) and bundle them."""
    return BatchContract(
        world_size=_positive_int(world_size, 'world size'),
        per_process=_positive_int(per_process, 'train_dataloader.batch_size'),
        accumulation=_positive_int(accumulation, 'optim_wrapper.accumulative_counts'),
        recipe_batch=(None if recipe_batch is None
                      else _positive_int(recipe_batch, 'auto_scale_lr.base_batch_size')))


def split_global_batch(global_batch: int, world_size: int,
                       max_per_process: int) -> Tuple[int, int]:
    """(per-process batch, accumulation steps) that give ``global_batch`` on ``world_size``.

    Picks the largest per-process batch not above ``max_per_process`` (what fits in
    memory) that divides the batch each process owes, so accumulation is as small as
    possible. Both results are >= 1.
    """
    _positive_int(global_batch, 'global batch')
    _positive_int(world_size, 'world size')
    _positive_int(max_per_process, 'max per-process batch')
    if global_batch % world_size:
        raise ValueError(f'global batch {global_batch} is not divisible by '
                         f'{world_size} processes')
    per_rank = global_batch // world_size
    per_process = max(b for b in range(1, min(per_rank, max_per_process) + 1)
                      if per_rank % b == 0)
    return per_process, per_rank // per_process


def mismatch_warning(contract: BatchContract, scale_enabled: bool) -> Optional[str]:
    """The warning for an effective global batch that is not the recipe's, else None."""
    if scale_enabled or contract.recipe_batch in (None, contract.global_batch):
        return None
    per_rank = contract.world_size * contract.per_process
    if contract.recipe_batch % per_rank == 0:
        fix = (f'set --cfg-options optim_wrapper.accumulative_counts='
               f'{contract.recipe_batch // per_rank} to keep the recipe batch')
    elif contract.recipe_batch % contract.world_size == 0:
        batch, steps = split_global_batch(contract.recipe_batch, contract.world_size,
                                          contract.per_process)
        fix = (f'set --cfg-options train_dataloader.batch_size={batch} '
               f'optim_wrapper.accumulative_counts={steps} to keep the recipe batch')
    else:
        fix = 'choose a process count that divides the recipe batch'
    return (f'The effective {contract.describe()} differs from the recipe and lr scaling '
            f'is off, so the lr tuned for {contract.recipe_batch} is used unchanged. '
            f'Pass --auto-scale-lr to scale it by {contract.lr_ratio:g}, or {fix}.')
