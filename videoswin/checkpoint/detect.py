"""Recognising what a checkpoint is, and bringing it to our key layout.

Users hold Swin weights in five shapes, and passing one where another belongs is the
most common loading mistake (official Video Swin issues #21, #22, #60):

================================  ==========================================  ==========
file                              tell-tale                                   kind
================================  ==========================================  ==========
microsoft/Swin-Transformer        ``{'model': ...}``, 4-D patch_embed kernel  2D image
HF transformers ``SwinModel``     directory / ``model.safetensors`` /         2D image
                                  ``pytorch_model.bin``, ``embeddings.*``
official Video Swin / ours        ``{'meta', 'state_dict'}``, ``backbone.``    3D video
                                  and ``cls_head.`` keys, 5-D kernel
mmaction2 1.x                     as official, last norm named ``norm3``      3D video
bare 3D backbone state dict       5-D kernel, no ``backbone.`` prefix         3D video
recognizer, another backbone      ``backbone.`` keys, no ``backbone.layers.``  video
(TimeSformer, ViViT, DualFormer)  Swin stages: read as saved (layout 'plain')
================================  ==========================================  ==========

:func:`read_checkpoint` returns the weights in our layout (2D ones in the Microsoft
layout, ready to inflate) together with a :class:`CheckpointInfo` saying which it was.
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import torch

from .io import safe_load
from .remote import expand_path, is_url
from .layouts import (StateDict, has_mmaction2_norm3, hf_to_microsoft, is_hf_swin,
                      mmaction2_to_official)

PATCH_KEY = 'patch_embed.proj.weight'
# A Swin recognizer has its stages under ``backbone.layers.``; other backbones do not.
SWIN_STAGES_PREFIX = 'backbone.layers.'
# Weight files of a HF ``save_pretrained`` directory, in the order HF itself prefers.
HF_WEIGHT_FILES = ('model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin',
                   'pytorch_model.bin.index.json')
# Top-level entries that hold the weights: mmengine / mmcv / official, Microsoft, DeepSpeed.
_CONTAINERS = ('state_dict', 'model', 'module')
PLAIN_LAYOUT = 'plain'


class CheckpointKindError(ValueError):
    """The checkpoint is not what this loading route expects (or not a Swin checkpoint)."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint file turned out to be.

    Attributes:
        path: the file or directory read.
        dims: 2 for an image (ImageNet) Swin, 3 for a video Swin.
        layout: 'microsoft', 'hf-transformers', 'official' or 'mmaction2' (Swin), or
            'plain': a recognizer of another backbone, whose keys are used as saved.
        scope: 'recognizer' (``backbone.``/``cls_head.`` keys) or 'backbone'.
        meta: the checkpoint's ``meta`` dict, if it has one.
    """
    path: str
    dims: int
    layout: str
    scope: str
    meta: Dict[str, Any] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        if self.layout == PLAIN_LAYOUT:
            return 'video recognizer, plain layout (no Swin conversions)'
        what = '2D image Swin' if self.dims == 2 else f'3D video {self.scope}'
        return f'{what}, {self.layout} layout'


def _hf_weight_file(directory: str) -> str:
    for name in HF_WEIGHT_FILES:
        candidate = osp.join(directory, name)
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(f'{directory} is a directory but holds none of '
                            f'{", ".join(HF_WEIGHT_FILES)} (a HF save_pretrained directory)')


def _read_file(path: str, trusted: bool) -> Any:
    """A weights file; a HF ``*.index.json`` names its shards, which are read and merged."""
    if not path.endswith('.index.json'):
        return safe_load(path, trusted=trusted)
    with open(path) as index_file:
        shards = sorted(set(json.load(index_file)['weight_map'].values()))
    merged: StateDict = {}
    for shard in shards:
        merged.update(safe_load(osp.join(osp.dirname(path), shard), trusted=trusted))
    return merged


def unwrap_state_dict(checkpoint: Any, path: str) -> Tuple[StateDict, Dict[str, Any]]:
    """Find the state dict inside whatever container the file holds; return it and meta."""
    if not isinstance(checkpoint, dict):
        raise CheckpointKindError(f'{path}: expected a dict of tensors (or a checkpoint dict '
                                  f'holding one), got {type(checkpoint).__name__}')
    meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), dict) else {}
    for container in _CONTAINERS:
        if isinstance(checkpoint.get(container), dict):
            checkpoint = checkpoint[container]
            break
    not_tensors = [k for k, v in checkpoint.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointKindError(
            f'{path}: not a state dict; entries {sorted(not_tensors)[:5]} are not tensors '
            f'(looked inside {"/".join(_CONTAINERS)})')
    if checkpoint and all(k.startswith('module.') for k in checkpoint):
        checkpoint = {k[len('module.'):]: v for k, v in checkpoint.items()}
    return dict(checkpoint), meta


def is_recognizer_state_dict(state_dict: StateDict) -> bool:
    """True when the keys are a whole recognizer's (``backbone.``-prefixed), of any backbone."""
    return any(key.startswith('backbone.') for key in state_dict)


def is_swin_recognizer_state_dict(state_dict: StateDict) -> bool:
    """True for a Swin recognizer (2D or 3D): a ``backbone.`` patch embedding and stages."""
    return (f'backbone.{PATCH_KEY}' in state_dict
            and any(key.startswith(SWIN_STAGES_PREFIX) for key in state_dict))


def plain_recognizer_info(path: str, meta: Optional[Dict[str, Any]] = None) -> CheckpointInfo:
    """What a recognizer checkpoint read without Swin conversions is."""
    return CheckpointInfo(path, 3, PLAIN_LAYOUT, 'recognizer', meta or {})


def detect(state_dict: StateDict, path: str = '<state dict>',
           meta: Optional[Dict[str, Any]] = None) -> Tuple[StateDict, CheckpointInfo]:
    """Classify a state dict and convert it: 2D -> Microsoft layout, 3D -> official layout.

    A recognizer of a backbone other than Swin (``backbone.`` keys without Swin stages)
    comes back unchanged, as the 'plain' layout.
    """
    meta = meta or {}
    if is_hf_swin(state_dict):
        return hf_to_microsoft(state_dict), CheckpointInfo(path, 2, 'hf-transformers',
                                                           'backbone', meta)
    if PATCH_KEY in state_dict:
        scope, kernel = 'backbone', state_dict[PATCH_KEY]
    elif is_swin_recognizer_state_dict(state_dict):
        scope, kernel = 'recognizer', state_dict[f'backbone.{PATCH_KEY}']
    elif is_recognizer_state_dict(state_dict):
        return state_dict, plain_recognizer_info(path, meta)
    else:
        raise CheckpointKindError(
            f'{path}: not a Swin checkpoint: found neither {PATCH_KEY} nor backbone.{PATCH_KEY} '
            f'(nor HF transformers embeddings.*), nor any backbone.* key of a whole '
            f'recognizer; first keys: {sorted(state_dict)[:4]}')
    if kernel.dim() == 4:
        if scope == 'recognizer':
            raise CheckpointKindError(
                f'{path}: a 2D image model wrapped with backbone./head keys; only the '
                'microsoft/Swin-Transformer and HF transformers 2D layouts are read')
        return state_dict, CheckpointInfo(path, 2, 'microsoft', scope, meta)
    if kernel.dim() != 5:
        raise CheckpointKindError(f'{path}: {PATCH_KEY} has shape {tuple(kernel.shape)}; '
                                  'expected 4-D (2D image Swin) or 5-D (Video Swin)')
    if has_mmaction2_norm3(state_dict):
        return mmaction2_to_official(state_dict), CheckpointInfo(path, 3, 'mmaction2', scope,
                                                                 meta)
    return state_dict, CheckpointInfo(path, 3, 'official', scope, meta)


def read_state_dict(path: str, trusted: bool = False) -> Tuple[StateDict, Dict[str, Any]]:
    """Read a checkpoint file, HF directory or URL of a file safely; return its state dict
    (keys as saved, containers and ``module.`` unwrapped) and its ``meta``.

    Raises:
        FileNotFoundError: nothing at ``path`` (or a directory without HF weights).
        CheckpointKindError: the file holds no state dict.
        UnsafeCheckpointError: the file needs types outside the safe-load allow-list.
    """
    path = expand_path(path)
    if osp.isdir(path):
        weights = _hf_weight_file(path)
    elif is_url(path) or osp.isfile(path):
        weights = path
    else:
        raise FileNotFoundError(f'checkpoint not found: {path}')
    return unwrap_state_dict(_read_file(weights, trusted), path)


def read_checkpoint(path: str, trusted: bool = False) -> Tuple[StateDict, CheckpointInfo]:
    """Read a checkpoint file or HF directory safely, then :func:`detect` it.

    Raises:
        FileNotFoundError: nothing at ``path`` (or a directory without HF weights).
        CheckpointKindError: neither a Swin checkpoint in any layout we know nor a
            whole recognizer.
        UnsafeCheckpointError: the file needs types outside the safe-load allow-list.
    """
    path = expand_path(path)
    state_dict, meta = read_state_dict(path, trusted)
    return detect(state_dict, path, meta)

