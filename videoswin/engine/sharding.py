"""Sharded training through mmengine's ``FlexibleRunner`` and ``FSDPStrategy``.

A config with a top-level ``strategy`` (e.g. ``configs/_base_/strategies/fsdp.py``)
trains with ``FlexibleRunner``; without one, the usual ``Runner`` (DDP) is built.
Sharding itself is torch's FSDP as mmengine wraps it; this module only supplies:

* the auto-wrap policy: one FSDP unit per ``SwinTransformerBlock3D``, so a rank holds
  the full parameters of one block at a time (Swin-L has 24 blocks, ~8M parameters each
  in stage 3; the patch embedding, merging layers, final norm and head stay in the
  root unit);
* the activation-checkpointing check: the same blocks are recomputed in backward;
* the CPU adaptation: mmengine passes ``device_id=LOCAL_RANK`` (a CUDA index) to FSDP;
  without a GPU the wrapper gets ``device_id=cpu`` and the processes talk over gloo;
* ``FSDPStrategy`` in the videoswin scope: mmengine's, with the optimizer-state calls
  fixed for torch >= 2.1 and ``compile`` applied to the network (see
  :class:`FSDPStrategy`).

:func:`videoswin.engine.runner.build_runner` picks the runner.
"""
from typing import Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine._strategy import FSDPStrategy as MMEngineFSDPStrategy
from torch import nn
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy

from videoswin.models.backbones.swin3d import SwinTransformerBlock3D
from videoswin.registry import FUNCTIONS, STRATEGIES

from .compile import compile_network

#: the module class that is one FSDP unit and one activation-checkpointing region
SHARDED_BLOCKS = {SwinTransformerBlock3D}


@FUNCTIONS.register_module()
def swin_block_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """FSDP auto-wrap policy: wrap every Swin block in its own unit (config name
    ``videoswin.swin_block_wrap_policy``)."""
    return transformer_auto_wrap_policy(module, recurse, nonwrapped_numel,
                                        transformer_layer_cls=SHARDED_BLOCKS)


@FUNCTIONS.register_module()
def is_swin_block(module: nn.Module) -> bool:
    """Activation-checkpointing ``check_fn`` (config name ``videoswin.is_swin_block``)."""
    return isinstance(module, tuple(SHARDED_BLOCKS))


@STRATEGIES.register_module()
class FSDPStrategy(MMEngineFSDPStrategy):
    """mmengine's ``FSDPStrategy`` (what ``type='FSDPStrategy'`` builds in the videoswin
    scope) with the optimizer state saved and loaded through torch's current API.

    mmengine 0.10.7 calls ``FSDP.optim_state_dict_to_load(state, model, optimizer)``,
    torch 2.0's argument order; torch >= 2.1 takes ``(model, optimizer, state)``, so
    every resume failed with ``TypeError: unhashable type: 'dict'``. It also passed the
    optimizer *wrapper* to ``FSDP.optim_state_dict``; here the optimizer goes to FSDP and
    the AMP loss scaler's state is kept beside it, as ``AmpOptimWrapper`` keeps it.
    ``compile`` compiles the network inside the FSDP wrapper, as the plain runner does.
    """

    def compile_model(self, model: nn.Module, compile: Union[dict, bool] = False) -> nn.Module:
        """Compile the network, not the training step (:mod:`videoswin.engine.compile`)."""
        compile_network(model, compile)
        return model

    def optim_state_dict(self) -> dict:
        state = FSDP.optim_state_dict(self.model, self.optim_wrapper.optimizer)
        scaler = getattr(self.optim_wrapper, 'loss_scaler', None)
        if scaler is not None:
            state['loss_scaler'] = scaler.state_dict()
        return state

    def load_optim_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        scaler_state = state.pop('loss_scaler', None)
        optimizer = self.optim_wrapper.optimizer
        optimizer.load_state_dict(FSDP.optim_state_dict_to_load(self.model, optimizer, state))
        scaler = getattr(self.optim_wrapper, 'loss_scaler', None)
        if scaler is not None and scaler_state is not None:
            scaler.load_state_dict(scaler_state)


def prepare_strategy(cfg: Config) -> None:
    """Check ``cfg.strategy`` against the rest of the config and fit it to this machine
    (in place); one error line names the config and the fix."""
    strategy = cfg.strategy
    if strategy.get('type') == 'FSDPStrategy':
        if cfg.get('launcher', 'none') == 'none':
            raise ValueError(
                f'{cfg.filename}: strategy FSDPStrategy shards over a process group; '
                'launch it with tools/dist_train.sh CONFIG NPROC (NPROC may be 1) or '
                'tools/slurm_train.sh')
        clip = (cfg.get('optim_wrapper') or {}).get('clip_grad') or {}
        if clip and clip.get('type', 'norm') == 'norm':
            raise ValueError(
                f'{cfg.filename}: optim_wrapper.clip_grad (norm) under FSDPStrategy would clip '
                'each rank by the norm of its own shard only; remove clip_grad, or train '
                'without strategy (DDP) to clip by the global norm')
        if not torch.cuda.is_available():
            _fsdp_on_cpu(strategy)
    # setup_env has applied env_cfg.num_threads; the strategies take mmengine's keys only
    cfg.get('env_cfg', {}).pop('num_threads', None)


def _fsdp_on_cpu(strategy) -> None:
    """FSDP on CPU ranks: parameters stay on the CPU (gloo moves the shards)."""
    wrapper = strategy.get('model_wrapper') or dict(type='MMFullyShardedDataParallel')
    wrapper['device_id'] = torch.device('cpu')
    strategy['model_wrapper'] = wrapper
    if strategy.get('state_dict_cfg') == 'full':
        # mmengine's 'full' offloads the gathered state to the CPU, which on CPU ranks
        # crashes torch (SIGSEGV in torch 2.13) and copies for nothing: gather in place
        strategy['state_dict_cfg'] = dict(
            state_dict_type='FULL_STATE_DICT',
            state_dict_config=dict(type='FullStateDictConfig', rank0_only=True,
                                   offload_to_cpu=False),
            optim_state_dict_config=dict(type='FullOptimStateDictConfig', rank0_only=True,
                                         offload_to_cpu=False))
    print_log('no GPU: FSDP shards on the CPU over gloo (device_id=cpu)', logger='current')
