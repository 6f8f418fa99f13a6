"""What exactness tests and benchmarks share: random weights and the textbook attention.

Random weights: a freshly initialised transformer hides mistakes: LayerNorm gains are exactly 1,
biases and relative-position tables are (near) zero, so a missing gain, a dropped
bias or a misindexed table changes nothing. These helpers draw every tensor far from
its init instead (gains around 1, tables with the spread of trained ones), so two
implementations agree only if every parameter is used the same way.
"""
import copy
from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from videoswin.models.layers.window_attention import ShiftWindowAttention3D
from videoswin.models.layers.window_ops import clip_window, clipped_relative_position_index

TABLE_KEY = 'relative_position_bias_table'


def _draw(name: str, shape: torch.Size, generator: torch.Generator, weight: float,
          gain: float, table: float) -> torch.Tensor:
    noise = torch.randn(shape, generator=generator)
    if TABLE_KEY in name:
        return noise * table
    if 'norm' in name and name.endswith('weight'):
        return 1 + gain * noise
    return noise * weight


def random_state_dict(model: nn.Module, seed: int = 0, *, weight: float = 0.05,
                      gain: float = 0.1, table: float = 0.5) -> Dict[str, torch.Tensor]:
    """``model.state_dict()`` with every floating tensor redrawn (integer buffers such
    as position indices kept): normal noise times ``weight``, ``1 + gain * noise`` for
    norm gains and ``table * noise`` for relative-position bias tables."""
    generator = torch.Generator().manual_seed(seed)
    return {key: _draw(key, value.shape, generator, weight, gain, table)
            if value.is_floating_point() else value
            for key, value in model.state_dict().items()}


def randomise_(model: nn.Module, seed: int = 0, *, weight: float = 0.05, gain: float = 0.1,
               table: float = 0.5) -> nn.Module:
    """Redraw every parameter of ``model`` in place, as :func:`random_state_dict` does."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(_draw(name, param.shape, generator, weight, gain, table))
    return model


# ----------------------------------------------------------------------------- reference
def _partition(x: torch.Tensor, window: Sequence[int]) -> torch.Tensor:
    """(B, D, H, W, C) -> (B*nW, N, C) by view and permute, windows in raster order."""
    b, d, h, w, c = x.shape
    wd, wh, ww = window
    x = x.view(b, d // wd, wd, h // wh, wh, w // ww, ww, c).permute(0, 1, 3, 5, 2, 4, 6, 7)
    return x.reshape(-1, wd * wh * ww, c)


def _reverse(windows: torch.Tensor, window: Sequence[int], shape: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`_partition` for a (B, D, H, W, C) ``shape``."""
    b, d, h, w, c = shape
    wd, wh, ww = window
    x = windows.view(b, d // wd, h // wh, w // ww, wd, wh, ww, c).permute(0, 1, 4, 2, 5, 3, 6, 7)
    return x.reshape(shape)


def _shift_mask(padded: Sequence[int], window: Sequence[int], shift: Sequence[int]) -> torch.Tensor:
    """(nW, N, N) official shift mask: -100 between tokens of different rolled regions."""
    regions = torch.zeros(1, *padded, 1)
    count = 0
    slices = [(slice(0, -w), slice(-w, -s), slice(-s, None)) for w, s in zip(window, shift)]
    for sd in slices[0]:
        for sh in slices[1]:
            for sw in slices[2]:
                regions[:, sd, sh, sw, :] = count
                count += 1
    ids = _partition(regions, window).squeeze(-1)
    return (ids[:, None, :] != ids[:, :, None]).float() * -100.0


def textbook_window_attention(attn: ShiftWindowAttention3D, x: torch.Tensor) -> torch.Tensor:
    """``attn(x)`` computed as the official code does: pad, roll, partition, logits +
    bias + mask, softmax, @ v, project, reverse, roll back, crop. (B, D, H, W, C) -> same.

    The bias of a window clipped in space is looked up from its own token offsets
    (docs/backbone.md, deviation 1); everything else is the official sequence.
    """
    b, d, h, w, c = x.shape
    window, shift = clip_window((d, h, w), attn.window_size, attn.shift_size)
    pads = [(-size) % win for size, win in zip((d, h, w), window)]
    x = F.pad(x, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
    padded = x.shape[1:4]
    if any(shift):
        x = torch.roll(x, shifts=[-s for s in shift], dims=(1, 2, 3))
    windows = _partition(x, window)
    count, n, _ = windows.shape
    heads = attn.num_heads
    qkv = F.linear(windows, attn.qkv.weight, attn.qkv.bias)
    q, k, v = qkv.view(count, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    index = clipped_relative_position_index(attn.window_size, window).reshape(-1)
    bias = attn.relative_position_bias_table[index].view(n, n, heads).permute(2, 0, 1)
    logits = (q * attn.scale) @ k.transpose(-2, -1) + bias
    if any(shift):
        mask = _shift_mask(padded, window, shift).to(logits)
        logits = (logits.view(b, -1, heads, n, n) + mask[None, :, None]).view(count, heads, n, n)
    probs = F.dropout(logits.softmax(-1), attn.attn_drop, attn.training)
    out = (probs @ v).transpose(1, 2).reshape(count, n, c)
    out = attn.proj_drop(F.linear(out, attn.proj.weight, attn.proj.bias))
    x = _reverse(out, window, x.shape)
    if any(shift):
        x = torch.roll(x, shifts=list(shift), dims=(1, 2, 3))
    return x[:, :d, :h, :w].contiguous()


class TextbookShiftWindowAttention(ShiftWindowAttention3D):
    """The same module (parameters, names) computing :func:`textbook_window_attention`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return textbook_window_attention(self, x)


def with_textbook_attention(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` whose window attentions compute the textbook formula
    (same parameter names, so gradients compare key by key)."""
    model = copy.deepcopy(model)
    for module in model.modules():
        if type(module) is ShiftWindowAttention3D:
            module.__class__ = TextbookShiftWindowAttention
    return model
