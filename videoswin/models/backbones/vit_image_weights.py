"""ViT-family weights for TimeSformer, ViViT and DualFormer: key layouts, position tables
and the recognizer files the converters write (reading and applying are generic, in
:mod:`videoswin.checkpoint`).

The video transformers here (TimeSformer, ViViT) start from ImageNet ViT weights, which
come in two layouts: timm's (``blocks.i.attn.qkv``, the layout our blocks use) and HF
transformers' ``ViTModel`` (``encoder.layer.i.attention.attention.query`` in files written
by transformers 4.x and 5.x ``save_pretrained``; ``layers.i.attention.q_proj`` in a
5.x model's in-memory ``state_dict``). :func:`vit_state_dict` turns either into timm's;
:func:`hf_encoder_to_timm` does the per-layer part for HF TimeSformer and ViViT too.
"""
import json
import math
import os
import os.path as osp
import re
from typing import Callable, Dict, Iterable, Optional, Tuple

import torch
import torch.nn.functional as F

from videoswin.checkpoint import CheckpointKindError, read_state_dict
from videoswin.checkpoint.detect import StateDict


def read_hf_config(path: str) -> Optional[dict]:
    """The ``config.json`` next to HF weights (directory or file inside it), if any."""
    folder = path if osp.isdir(path) else osp.dirname(path)
    config = osp.join(folder, 'config.json')
    if not osp.isfile(config):
        return None
    with open(config, encoding='utf-8') as f:
        return json.load(f)


def strip_first_prefix(state_dict: StateDict, prefixes: Iterable[str]) -> StateDict:
    """Drop the first matching prefix (e.g. ``module.``, ``backbone.``) from every key;
    keys with none of them are kept as they are."""
    prefixes = tuple(prefixes)
    out = {}
    for key, value in state_dict.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out


# HF layer-level names (4.x files, 5.x modules) -> timm names.
_HF_LAYER_RULES = (
    (r'^attention\.attention\.qkv\.', 'attn.qkv.'),        # TimeSformer: fused qkv
    (r'^attention\.output\.dense\.', 'attn.proj.'),        # 4.x files
    (r'^attention\.o_proj\.', 'attn.proj.'),                # 5.x modules
    (r'^intermediate\.dense\.', 'mlp.fc1.'),
    (r'^output\.dense\.', 'mlp.fc2.'),
    (r'^mlp\.fc1\.', 'mlp.fc1.'),
    (r'^mlp\.fc2\.', 'mlp.fc2.'),
    (r'^layernorm_before\.', 'norm1.'),
    (r'^layernorm_after\.', 'norm2.'),
    (r'^temporal_layernorm\.', 'temporal_norm1.'),           # TimeSformer divided
    (r'^temporal_attention\.attention\.qkv\.', 'temporal_attn.qkv.'),
    (r'^temporal_attention\.output\.dense\.', 'temporal_attn.proj.'),
    (r'^temporal_dense\.', 'temporal_fc.'),
)
_HF_QKV = {'query': 0, 'key': 1, 'value': 2, 'q_proj': 0, 'k_proj': 1, 'v_proj': 2}
_HF_LAYER_KEY = re.compile(r'^(?:encoder\.layer|layers)\.(\d+)\.(.+)$')
_HF_QKV_KEY = re.compile(r'^attention\.(?:attention\.)?(query|key|value|q_proj|k_proj|v_proj)'
                         r'\.(weight|bias)$')


def hf_layer_to_timm(rest: str) -> Optional[str]:
    """Rename one HF layer-relative key (``layernorm_before.weight``...) to timm's."""
    for pattern, replacement in _HF_LAYER_RULES:
        if re.search(pattern, rest):
            return re.sub(pattern, replacement, rest)
    return None


def fuse_hf_qkv(parts: Dict[Tuple[int, str], Dict[int, torch.Tensor]]) -> StateDict:
    """Stack separate q, k, v projections into timm's fused ``attn.qkv`` tensors."""
    out = {}
    for (layer, kind), pieces in parts.items():
        if sorted(pieces) != [0, 1, 2]:
            raise CheckpointKindError(
                f'layer {layer}: {kind} of q/k/v incomplete (have {sorted(pieces)})')
        out[f'blocks.{layer}.attn.qkv.{kind}'] = torch.cat([pieces[i] for i in range(3)])
    return out


def hf_encoder_to_timm(state_dict: StateDict) -> Tuple[StateDict, StateDict]:
    """Map HF encoder layers (either naming) to ``blocks.i.*``; returns (mapped, other keys)."""
    mapped: StateDict = {}
    other: StateDict = {}
    qkv_parts: Dict[Tuple[int, str], Dict[int, torch.Tensor]] = {}
    for key, value in state_dict.items():
        match = _HF_LAYER_KEY.match(key)
        if not match:
            other[key] = value
            continue
        layer, rest = int(match.group(1)), match.group(2)
        qkv = _HF_QKV_KEY.match(rest)
        if qkv:
            qkv_parts.setdefault((layer, qkv.group(2)), {})[_HF_QKV[qkv.group(1)]] = value
            continue
        name = hf_layer_to_timm(rest)
        if name is None:
            other[key] = value
        else:
            mapped[f'blocks.{layer}.{name}'] = value
    mapped.update(fuse_hf_qkv(qkv_parts))
    return mapped, other


# HF embeddings and final LayerNorm -> timm names (``time_embeddings``: TimeSformer only).
_HF_TOP_LEVEL = {
    'embeddings.cls_token': 'cls_token',
    'embeddings.position_embeddings': 'pos_embed',
    'embeddings.time_embeddings': 'time_embed',
    'embeddings.patch_embeddings.projection.weight': 'patch_embed.proj.weight',
    'embeddings.patch_embeddings.projection.bias': 'patch_embed.proj.bias',
    'layernorm.weight': 'norm.weight',
    'layernorm.bias': 'norm.bias',
}


def hf_to_timm(state_dict: StateDict) -> StateDict:
    """A HF ViT-family model (ViT, TimeSformer, ViViT) in timm names: embeddings, encoder
    layers and final norm; pooler, classifier and other extras are dropped."""
    blocks, other = hf_encoder_to_timm(state_dict)
    out = {_HF_TOP_LEVEL[k]: v for k, v in other.items() if k in _HF_TOP_LEVEL}
    out.update(blocks)
    return out


def head_weights(state_dict: StateDict, prefixes: Iterable[str]) -> StateDict:
    """The classifier's ``{'weight', 'bias'}`` found under any of ``prefixes`` ({} if none)."""
    return {kind: state_dict[prefix + kind] for prefix in prefixes for kind in ('weight', 'bias')
            if prefix + kind in state_dict}


def vit_state_dict(state_dict: StateDict) -> StateDict:
    """A ViT image checkpoint (timm or HF ``ViTModel`` / ``ViTForImageClassification``)
    in timm layout: ``patch_embed.proj``, ``cls_token``, ``pos_embed``, ``blocks.i.*``,
    ``norm``. Classifier, pooler and other extras are dropped."""
    state_dict = strip_first_prefix(state_dict, ('module.', 'model.', 'backbone.', 'vit.'))
    if not any('patch_embeddings' in key for key in state_dict):
        kept = ('patch_embed.', 'cls_token', 'pos_embed', 'blocks.', 'norm.')
        return conv_patch_filter({k: v for k, v in state_dict.items() if k.startswith(kept)})
    return hf_to_timm(state_dict)


def conv_patch_filter(state_dict: StateDict, in_channels: int = 3) -> StateDict:
    """Early timm / JAX ports store the patch embedding as a (C, in*p*p) linear kernel;
    reshape it to the (C, in, p, p) conv kernel the models use."""
    weight = state_dict.get('patch_embed.proj.weight')
    if weight is not None and weight.dim() == 2:
        side = int(round(math.sqrt(weight.shape[1] / in_channels)))
        state_dict = dict(state_dict)
        state_dict['patch_embed.proj.weight'] = weight.reshape(weight.shape[0], in_channels,
                                                               side, side)
    return state_dict


def resize_grid_table(table: torch.Tensor, new_hw: Tuple[int, int],
                      mode: str = 'bilinear') -> torch.Tensor:
    """Resample a (1, h*w, C) square position table to (1, new_h*new_w, C) on its 2-D grid."""
    n, channels = table.shape[1], table.shape[2]
    side = int(round(math.sqrt(n)))
    if side * side != n:
        raise ValueError(f'position table of {n} entries is not a square grid')
    if (side, side) == tuple(new_hw):
        return table
    grid = table.reshape(1, side, side, channels).permute(0, 3, 1, 2)
    kwargs = {} if mode == 'nearest' else {'align_corners': False}
    grid = F.interpolate(grid.float(), size=tuple(new_hw), mode=mode, **kwargs).to(table.dtype)
    return grid.permute(0, 2, 3, 1).reshape(1, new_hw[0] * new_hw[1], channels)


def resize_1d_table(table: torch.Tensor, length: int, mode: str = 'nearest') -> torch.Tensor:
    """Resample a (1, L, C) table to (1, length, C) along its sequence axis."""
    if table.shape[1] == length:
        return table
    kwargs = {} if mode == 'nearest' else {'align_corners': False}
    out = F.interpolate(table.transpose(1, 2).float(), size=length, mode=mode, **kwargs)
    return out.transpose(1, 2).to(table.dtype)


def read_video_checkpoint(src: str, to_layout: Callable[[StateDict], Tuple[StateDict, StateDict]],
                          model: str, embedding: str = 'patch',
                          trusted: bool = False) -> Tuple[StateDict, StateDict]:
    """``to_layout`` of the state dict at ``src``: (backbone, head), for the converters.

    Raises:
        CheckpointKindError: ``src`` holds no patch (or tubelet) embedding of ``model``.
    """
    backbone, head = to_layout(read_state_dict(src, trusted=trusted)[0])
    if 'patch_embed.proj.weight' not in backbone:
        raise CheckpointKindError(f'{src} holds no {model} weights (no {embedding} embedding '
                                  'found)')
    return backbone, head


def save_converted_recognizer(src: str, dst: str, backbone_type: str, backbone: StateDict,
                              head: StateDict, backbone_args: dict) -> str:
    """Write ``{'meta', 'state_dict'}`` with ``backbone.*``/``cls_head.fc_cls.*`` keys.

    Returns the one-line summary the converters print, ending with the backbone config
    that fits the weights (to paste into a config).
    """
    state_dict = {f'backbone.{k}': v for k, v in backbone.items()}
    state_dict.update({f'cls_head.fc_cls.{k}': v for k, v in head.items()})
    meta = dict(converted_from=osp.basename(osp.normpath(src)), backbone=backbone_args)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save({'meta': meta, 'state_dict': state_dict}, dst)
    classes = f'{head["weight"].shape[0]}-class head' if head else 'no head'
    config = ', '.join(f'{k}={v!r}' for k, v in backbone_args.items())
    return (f'{src} -> {dst}: {len(backbone)} backbone tensors, {classes}. '
            f"Backbone config: dict(type='{backbone_type}', {config})")
