"""Inflating a 2D ImageNet Swin into the 3D video backbone (paper, Sec. 3.3).

Two tensors change shape; everything else is copied name for name:

* the patch-embedding kernel (C, 3, h, w) is repeated ``t`` times along a new time
  axis and divided by ``t``, so a clip of identical frames embeds like the image;
* each relative-position bias table (one row per 2D offset) is, if the 2D window
  differs from ours, bicubically resized as a (2Wh-1) x (2Ww-1) grid, then tiled
  2Wd-1 times (whole copies, one per temporal offset), so every temporal offset
  starts from the 2D bias of its spatial offset.

The 2D ``relative_position_index`` / ``attn_mask`` buffers are dropped (the 3D model
builds its own); the 2D classifier is left for the loader to report as ignored.
"""
import math
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F

from .layouts import StateDict, is_rebuilt_buffer

PATCH_KEY = 'patch_embed.proj.weight'
TABLE_NAME = 'relative_position_bias_table'


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
