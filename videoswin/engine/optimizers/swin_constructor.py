"""Parameter groups for fine-tuning Video Swin: slower backbone, no decay on norms and bias tables.

The recipes state three name rules (``paramwise_cfg.custom_keys``)::

    backbone                     -> lr x 0.1      (pretrained backbone, fresh head)
    norm                         -> weight decay x 0
    relative_position_bias_table -> weight decay x 0

Which rule wins when several keys occur in one parameter name is where the official
code and mmaction2 part ways (docs/recipes.md); ``paramwise_cfg.key_match`` chooses:

* ``'longest'`` (default; the official Video Swin code through mmcv 1.x ``custom_keys``,
  also mmengine's default constructor): keys are tried longest first and **only the
  first match applies**. A backbone norm matches ``backbone`` (8 chars) before ``norm``
  (4) and *keeps its weight decay* at lr x0.1; a bias table matches its own long key
  before ``backbone`` and trains at *full lr* without decay. The released checkpoints
  were trained this way, so the recipes use it.
* ``'all'`` (mmaction2's ``SwinOptimWrapperConstructor``): **every matching key
  applies** and the multipliers multiply, so backbone norms and bias tables both get
  lr x0.1 and no decay. mmaction2 re-trained T/S/B/L with it.

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
KEY_MATCH_RULES = ('longest', 'all')


@dataclass(frozen=True)
class ParamRule:
    """The multipliers one parameter gets and the custom keys they came from."""

    lr_mult: float = 1.0
    decay_mult: float = 1.0
    keys: Tuple[str, ...] = field(default=())


def match_rule(name: str, custom_keys: Dict[str, dict], key_match: str = 'longest') -> ParamRule:
    """The multipliers of the custom keys that occur in ``name``.

    Args:
        name: full parameter name, e.g. ``backbone.layers.0.blocks.1.norm1.weight``.
        custom_keys: ``{key: dict(lr_mult=..., decay_mult=...)}`` from ``paramwise_cfg``.
        key_match: 'longest': only the longest matching key (ties: alphabetical first),
            as mmcv 1.x and mmengine order them; 'all': the product over every match.
    """
    matches = [key for key in sorted(sorted(custom_keys), key=len, reverse=True) if key in name]
    if key_match == 'longest':
        matches = matches[:1]
    lr_mult, decay_mult = 1.0, 1.0
    for key in matches:
        lr_mult *= float(custom_keys[key].get('lr_mult', 1.0))
        decay_mult *= float(custom_keys[key].get('decay_mult', 1.0))
    return ParamRule(lr_mult, decay_mult, tuple(sorted(matches)))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class VideoSwinOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Builds an optimizer wrapper whose groups follow the key rule chosen above.

    Config::

        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.02),
            constructor='VideoSwinOptimWrapperConstructor',
            paramwise_cfg=dict(
                key_match='longest',  # or 'all' (mmaction2's product rule)
                custom_keys=dict(
                    backbone=dict(lr_mult=0.1),
                    norm=dict(decay_mult=0.),
                    relative_position_bias_table=dict(decay_mult=0.))))

    Each group carries ``lr`` = base lr x lr_mult, ``weight_decay`` = base wd x
    decay_mult, and a readable ``name`` listing the keys that formed it. Frozen
    parameters (``requires_grad=False``) are left out, as in mmengine.
    """

    def _validate_cfg(self) -> None:
        unknown = sorted(set(self.paramwise_cfg) - {'custom_keys', 'key_match'})
        if unknown:
            raise ValueError(
                f'{type(self).__name__}: paramwise_cfg supports only "custom_keys" and '
                f'"key_match", got {unknown}; express these rules as name keys in custom_keys')
        key_match = self.paramwise_cfg.get('key_match', 'longest')
        if key_match not in KEY_MATCH_RULES:
            raise ValueError(f'paramwise_cfg.key_match must be one of {KEY_MATCH_RULES}, '
                             f'got {key_match!r}')
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
        key_match = self.paramwise_cfg.get('key_match', 'longest')
        groups: Dict[ParamRule, List[nn.Parameter]] = {}
        for name, param in module.named_parameters(prefix=prefix):
            if not param.requires_grad:
                continue
            groups.setdefault(match_rule(name, custom_keys, key_match), []).append(param)

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
