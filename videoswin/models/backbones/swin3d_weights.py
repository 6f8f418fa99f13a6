"""Swin checkpoints into ``SwinTransformer3D``: recognising the five Swin layouts,
inflating a 2D ImageNet Swin (paper, Sec. 3.3) and the ``pretrained`` route.

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

:func:`detect_swin` brings them to our layout (2D ones to the Microsoft layout, ready to
inflate; key renames in :mod:`.swin3d_layouts`). Inflation changes two tensors and
copies everything else name for name:

* the patch-embedding kernel (C, 3, h, w) is repeated ``t`` times along a new time
  axis and divided by ``t``, so a clip of identical frames embeds like the image;
* each relative-position bias table (one row per 2D offset) is, if the 2D window
  differs from ours, bicubically resized as a (2Wh-1) x (2Ww-1) grid, then tiled
  2Wd-1 times (whole copies, one per temporal offset), so every temporal offset
  starts from the 2D bias of its spatial offset.

The 2D ``relative_position_index`` / ``attn_mask`` buffers are dropped (the 3D model
builds its own); the 2D classifier is reported as ignored.
"""
import math
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from videoswin.checkpoint.detect import (CheckpointInfo, CheckpointKindError, StateDict,
                                         is_recognizer_state_dict, plain_recognizer_info,
                                         read_state_dict)
from videoswin.checkpoint.load import LoadSummary, apply_state_dict
from videoswin.checkpoint.remote import expand_path
from .swin3d_layouts import (has_mmaction2_norm3, hf_to_microsoft, is_hf_swin,
                             is_rebuilt_buffer, mmaction2_to_official)

PATCH_KEY = 'patch_embed.proj.weight'
TABLE_NAME = 'relative_position_bias_table'
# A Swin recognizer has its stages under ``backbone.layers.``; other backbones do not.
SWIN_STAGES_PREFIX = 'backbone.layers.'
# 2D-model tensors with no place in a video backbone: classifier, absolute position
# embedding, masked-image-modelling token.
_IMAGE_ONLY = re.compile(r'^(head\.|absolute_pos_embed$|mask_token$)')


def inflate_patch_embed(weight: torch.Tensor, temporal_patch: int) -> torch.Tensor:
    """(C, Cin, h, w) -> (C, Cin, t, h, w): repeated over time, divided by t."""
    if weight.dim() != 4:
        raise ValueError(f'{PATCH_KEY}: expected a 4-D 2D kernel, got shape {tuple(weight.shape)}')
    return weight.unsqueeze(2).repeat(1, 1, temporal_patch, 1, 1) / temporal_patch


def resize_relative_position_table(table: torch.Tensor, window_hw: Sequence[int],
                                   key: str = TABLE_NAME) -> torch.Tensor:
    """(L1, nH) for a square 2D window -> ((2Wh-1)(2Ww-1), nH) by bicubic interpolation.

    Returned unchanged when the sizes already agree.
    """
    rows, heads = table.shape
    height, width = 2 * window_hw[0] - 1, 2 * window_hw[1] - 1
    if rows == height * width:
        return table
    side = math.isqrt(rows)
    if side * side != rows:
        raise ValueError(f'{key}: {rows} rows is not the table of a square 2D window, '
                         'so it cannot be resized')
    grid = table.t().reshape(1, heads, side, side)
    resized = F.interpolate(grid.float(), size=(height, width), mode='bicubic',
                            align_corners=False).to(table.dtype)
    return resized.reshape(heads, height * width).t().contiguous()


def inflate_relative_position_table(table: torch.Tensor, window_size: Sequence[int],
                                    key: str = TABLE_NAME) -> torch.Tensor:
    """(L1, nH) 2D table -> ((2Wd-1)(2Wh-1)(2Ww-1), nH): resize if needed, then tile."""
    planar = resize_relative_position_table(table, window_size[1:], key)
    return planar.repeat(2 * window_size[0] - 1, 1)


def inflate_state_dict(state_2d: StateDict, patch_size: Sequence[int],
                       window_size: Sequence[int]) -> Tuple[StateDict, List[str]]:
    """Microsoft-layout 2D state dict -> 3D state dict for our backbone.

    Args:
        state_2d: 2D Swin weights in the microsoft/Swin-Transformer layout.
        patch_size: the 3D backbone's (t, h, w) patch.
        window_size: the 3D backbone's (Wd, Wh, Ww) window.

    Returns:
        the 3D state dict, and the keys whose tensors were inflated.
    """
    state_3d: Dict[str, torch.Tensor] = {}
    inflated: List[str] = []
    for key, value in state_2d.items():
        if is_rebuilt_buffer(key):
            continue
        if key == PATCH_KEY:
            value = inflate_patch_embed(value, patch_size[0])
            inflated.append(key)
        elif key.endswith(TABLE_NAME):
            value = inflate_relative_position_table(value, window_size, key)
            inflated.append(key)
        state_3d[key] = value
    return state_3d, inflated


def is_swin_recognizer_state_dict(state_dict: StateDict) -> bool:
    """True for a Swin recognizer (2D or 3D): a ``backbone.`` patch embedding and stages."""
    return (f'backbone.{PATCH_KEY}' in state_dict
            and any(key.startswith(SWIN_STAGES_PREFIX) for key in state_dict))


def detect_swin(state_dict: StateDict, path: str = '<state dict>',
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


def read_checkpoint(path: str, trusted: bool = False) -> Tuple[StateDict, CheckpointInfo]:
    """Read a checkpoint file, HF directory or URL safely, then :func:`detect_swin` it.

    Raises:
        FileNotFoundError: nothing at ``path`` (or a directory without HF weights).
        CheckpointKindError: neither a Swin checkpoint in any layout we know nor a
            whole recognizer.
        UnsafeCheckpointError: the file needs types outside the safe-load allow-list.
    """
    path = expand_path(path)
    state_dict, meta = read_state_dict(path, trusted)
    return detect_swin(state_dict, path, meta)


def load_pretrained(backbone: nn.Module, path: str, pretrained2d: bool, strict: bool = True,
                    *, trusted: bool = False) -> LoadSummary:
    """Initialise a ``SwinTransformer3D`` from ``path`` (its ``pretrained``).

    Args:
        backbone: the video backbone; its ``patch_size`` and ``window_size`` drive inflation.
        path: 2D ImageNet Swin (Microsoft ``.pth``, HF directory / ``model.safetensors`` /
            ``pytorch_model.bin``) when ``pretrained2d``; otherwise a 3D video backbone or
            recognizer checkpoint (its ``backbone.`` part is used).
        pretrained2d: ``path`` is a 2D image checkpoint to inflate.
        strict: missing keys, mis-shaped keys and unknown keys are errors.
        trusted: unrestricted unpickling (see :func:`videoswin.checkpoint.safe_load`).
    """
    state, info = read_checkpoint(path, trusted=trusted)
    if pretrained2d and info.dims == 3:
        raise CheckpointKindError(
            f'{path} is a {info.describe()} checkpoint, not a 2D image one: load a whole '
            f'recognizer with load_from={path!r}, or only its backbone with '
            f'model.backbone.pretrained={path!r} and pretrained2d=False.')
    if not pretrained2d and info.dims == 2:
        raise CheckpointKindError(
            f'{path} is a {info.describe()} checkpoint: set pretrained2d=True to inflate it '
            '(model.backbone.pretrained=... with model.backbone.pretrained2d=True).')
    if info.dims == 2:
        state, inflated = inflate_state_dict(state, backbone.patch_size, backbone.window_size)
        return apply_state_dict(backbone, state, info, strict, inflated,
                                ignorable=lambda key: bool(_IMAGE_ONLY.match(key)),
                                rebuilt=is_rebuilt_buffer)
    if info.scope == 'recognizer':
        others = {k for k in state if not k.startswith('backbone.')}  # the head, mostly
        state = {(k[len('backbone.'):] if k.startswith('backbone.') else k): v
                 for k, v in state.items()}
        return apply_state_dict(backbone, state, info, strict, ignorable=others.__contains__,
                                rebuilt=is_rebuilt_buffer)
    return apply_state_dict(backbone, state, info, strict, rebuilt=is_rebuilt_buffer)
