"""Parameter groups for fine-tuning Video Swin: slower backbone, no decay on norms and bias tables.

The recipes state three name rules (``paramwise_cfg.custom_keys``)::

    backbone                     -> lr x 0.1      (pretrained backbone, fresh head)
    norm                         -> weight decay x 0
    relative_position_bias_table -> weight decay x 0

Which rule wins when several keys occur in one parameter name is the point where the
official code and mmaction2 part ways (docs/recipes.md, "Optimizer and schedule"):

* official Video Swin (mmcv 1.x ``custom_keys``, also mmengine's default constructor):
  keys are tried longest first and **only the first match applies**. A backbone norm
  then matches ``backbone`` (8 chars) before ``norm`` (4) and *keeps its weight decay*;
  a bias table matches its own long key before ``backbone`` and trains at *full lr*.
* mmaction2's ``SwinOptimWrapperConstructor``: **every matching key applies** and the
  multipliers multiply, so backbone norms get lr x0.1 and no decay, bias tables lr x0.1
  and no decay.

This constructor uses the **product rule**. Reasons: it is what the config says (each
stated rule holds for every parameter it names, none silently disappears because a
longer key matched); mmaction2 re-trained T/S/B/L with it and matched the published
accuracies (78.90 / 80.54 / 80.57 top-1 against 78.8 / 80.6 / 80.6); and it is the
usual practice of not decaying normalisation parameters. To reproduce the official
first-match groups exactly, set ``constructor='DefaultOptimWrapperConstructor'`` with
the same ``custom_keys`` (docs/recipes.md; tests/test_optim_constructor.py checks both).

Unlike mmaction2 (one optimizer group per tensor, a log line per tensor) parameters
with equal multipliers share one group, so the optimizer and the log stay small.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from videoswin.registry import OPTIM_WRAPPER_CONSTRUCTORS

SUPPORTED_KEY_OPTIONS = ('lr_mult', 'decay_mult')


@dataclass(frozen=True)
class ParamRule:
    """Combined multipliers of all custom keys that occur in one parameter name."""

    lr_mult: float = 1.0
    decay_mult: float = 1.0
    keys: Tuple[str, ...] = field(default=())


def match_rule(name: str, custom_keys: Dict[str, dict]) -> ParamRule:
    """Multiply the multipliers of every key that is a substring of ``name``.

    Args:
        name: full parameter name, e.g. ``backbone.layers.0.blocks.1.norm1.weight``.
        custom_keys: ``{key: dict(lr_mult=..., decay_mult=...)}`` from ``paramwise_cfg``.
    """
    lr_mult, decay_mult, keys = 1.0, 1.0, []
    for key in sorted(custom_keys):
        if key in name:
            lr_mult *= float(custom_keys[key].get('lr_mult', 1.0))
            decay_mult *= float(custom_keys[key].get('decay_mult', 1.0))
            keys.append(key)
    return ParamRule(lr_mult, decay_mult, tuple(keys))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class VideoSwinOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Builds an optimizer wrapper whose groups follow the product rule above.

    Config::

        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.02),
            constructor='VideoSwinOptimWrapperConstructor',
            paramwise_cfg=dict(custom_keys=dict(
                backbone=dict(lr_mult=0.1),
                norm=dict(decay_mult=0.),
                relative_position_bias_table=dict(decay_mult=0.))))

    Each group carries ``lr`` = base lr x lr_mult, ``weight_decay`` = base wd x
    decay_mult, and a readable ``name`` listing the keys that formed it. Frozen
    parameters (``requires_grad=False``) are left out, as in mmengine.
    """

    def _validate_cfg(self) -> None:
        unknown = sorted(set(self.paramwise_cfg) - {'custom_keys'})
        if unknown:
            raise ValueError(
                f'{type(self).__name__}: paramwise_cfg supports only "custom_keys", got '
                f'{unknown}; express these rules as name keys in custom_keys')
        for key, options in self.paramwise_cfg.get('custom_keys', {}).items():
            if not isinstance(options, dict):
                raise TypeError(f'paramwise_cfg.custom_keys["{key}"] must be a dict, '
                                f'got {type(options).__name__}')
            extra = sorted(set(options) - set(SUPPORTED_KEY_OPTIONS))
            if extra:
                raise ValueError(f'paramwise_cfg.custom_keys["{key}"] has unsupported '
                                 f'options {extra}; supported: {list(SUPPORTED_KEY_OPTIONS)}')
            if 'lr_mult' in options and self.base_lr is None:
                raise ValueError(f'paramwise_cfg.custom_keys["{key}"] sets lr_mult but '
                                 'optim_wrapper.optimizer has no lr')
            if 'decay_mult' in options and self.base_wd is None:
                raise ValueError(f'paramwise_cfg.custom_keys["{key}"] sets decay_mult but '
                                 'optim_wrapper.optimizer has no weight_decay')
        super()._validate_cfg()

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[float] = None) -> None:
        """Append one group per distinct set of matching keys to ``params``."""
        custom_keys = self.paramwise_cfg.get('custom_keys', {})
        groups: Dict[ParamRule, List[nn.Parameter]] = {}
        for name, param in module.named_parameters(prefix=prefix):
            if not param.requires_grad:
                continue
            groups.setdefault(match_rule(name, custom_keys), []).append(param)

        # Full-lr groups first: mmengine logs the lr of group 0 as ``lr``.
        for rule in sorted(groups, key=lambda r: (-r.lr_mult, -r.decay_mult, r.keys)):
            group = dict(params=groups[rule], name='+'.join(rule.keys) or 'default')
            if self.base_lr is not None:
                group['lr'] = self.base_lr * rule.lr_mult
            if self.base_wd is not None:
                group['weight_decay'] = self.base_wd * rule.decay_mult
            params.append(group)
            print_log(
                f'param group "{group["name"]}": {len(group["params"])} tensors, '
                f'{sum(p.numel() for p in group["params"]):,} values, '
                f'lr={group.get("lr", "default")}, '
                f'weight_decay={group.get("weight_decay", "default")}', logger='current')
