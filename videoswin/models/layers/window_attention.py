"""3D (shifted-)window multi-head self-attention with a learnable relative-position bias.

:class:`ShiftWindowAttention3D` owns everything about its windows: the window clipped
to the input, the shift, the padding, partition and reverse, the shift masks and the
relative-position lookup (all built once per geometry, see
:mod:`videoswin.models.layers.window_ops`). It also owns how the attention is computed,
decided in one place, :meth:`ShiftWindowAttention3D.execution_path`:

* ``'sdpa'``, the default on every device and what ``torch.compile`` traces:
  ``F.scaled_dot_product_attention`` with bias + shift mask as one float mask, one
  call per shift-mask pattern, ordinary autograd;
* ``'cpu_backward'`` and ``'cpu_chunked'``: the CPU kernels of
  :mod:`videoswin.models.layers.cpu_kernels`, only where that switch enables them.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from . import cpu_kernels
from .onednn_linear import Linear
from .window_attention_cpu import WindowAttentionFunction
from .window_ops import WindowLayout, partition_windows, relative_position_index, \
    reverse_windows, window_layout


@torch.compiler.assume_constant_result
def constant_layout(grid: Tuple[int, int, int], window_size: Tuple[int, int, int],
                    shift_size: Tuple[int, int, int], batch: int,
                    device: torch.device) -> WindowLayout:
    """:func:`window_layout`, which dynamo calls while tracing and treats as a constant
    (a pure function of its hashable arguments; an ``lru_cache`` object cannot carry the
    mark itself)."""
    return window_layout(grid, window_size, shift_size, batch, device)


class ShiftWindowAttention3D(nn.Module):
    """W-MSA / SW-MSA on a (B, D, H, W, C) map; parameter names are the official ones.

    Args:
        dim: channels C of the tokens.
        num_heads: attention heads nH (head dim = C / nH).
        window_size: nominal window (wd, wh, ww); sets the bias-table size. Along an
            axis where the map is no larger, the window shrinks to the map.
        shift_size: cyclic shift (0 for W-MSA blocks); off along clipped axes.
        qkv_bias: learnable bias on the q, k, v projection.
        qk_scale: logit scale; default head_dim ** -0.5.
        attn_drop: dropout on the attention probabilities (training only).
        proj_drop: dropout after the output projection.
    """

    def __init__(self, dim: int, num_heads: int, window_size: Sequence[int],
                 shift_size: Sequence[int] = (0, 0, 0), qkv_bias: bool = True,
                 qk_scale: Optional[float] = None, attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        if not all(0 <= s < w for s, w in zip(shift_size, window_size)):
            raise ValueError(f'shift {tuple(shift_size)} must lie in [0, window '
                             f'{tuple(window_size)})')
        self.window_size = tuple(window_size)
        self.shift_size = tuple(shift_size)
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.attn_drop = attn_drop
        wd, wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads))
        # official checkpoints carry it; the lookup actually used is the layout's
        # ``bias_index``, which equals it unless the window is clipped
        self.register_buffer('relative_position_index',
                             relative_position_index(self.window_size))
        self.qkv = Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self._eval_masks: Optional[Tuple[tuple, torch.Tensor]] = None
        nn.init.trunc_normal_(self.relative_position_bias_table, std=.02)

    def extra_repr(self) -> str:
        return (f'window_size={self.window_size}, shift_size={self.shift_size}, '
                f'num_heads={self.num_heads}')

    def train(self, mode: bool = True) -> 'ShiftWindowAttention3D':
        """Entering training drops the eval mask cache: it is rebuilt at the next eval."""
        if mode:
            self._eval_masks = None
        return super().train(mode)

    def layout(self, x: torch.Tensor) -> WindowLayout:
        """Window geometry for a (B, D, H, W, C) map (built once per shape and device).

        A constant to ``torch.compile`` (see :func:`constant_layout`): building it is
        data-dependent index plumbing (``unique``, ``tolist``) that would otherwise break
        the graph at every block (tests/models/backbones/test_compile.py counts the
        breaks: none). Everything it depends on is read here, in traced code, so that
        dynamo guards on it: the shape, the device and this module's window and shift.
        """
        batch, depth, height, width, _ = x.shape
        return constant_layout((depth, height, width), self.window_size, self.shift_size,
                               batch, x.device)

    def execution_path(self, x: torch.Tensor) -> str:
        """'sdpa' | 'cpu_backward' | 'cpu_chunked': how :meth:`forward` computes ``x``.

        The CPU kernels need fp32 CPU input in eager mode with the switch on; the
        chunked one also needs eval mode and nothing that wants a gradient, and the
        hand backward no attention dropout.
        """
        if cpu_kernels.chunked_inference(self, x):
            return 'cpu_chunked'
        if cpu_kernels.needs_grad(self, x) and not (self.training and self.attn_drop > 0) \
                and cpu_kernels.use('backward', x):
            return 'cpu_backward'
        return 'sdpa'

    def masks(self, layout: WindowLayout, dtype: torch.dtype) -> torch.Tensor:
        """(G, nH, N, N) relative-position bias + shift mask of each mask pattern.

        Rebuilt every call while the table may get a gradient; otherwise kept until
        the window, shift or the table's storage or version (an optimizer step, a
        ``load_state_dict``) changes.
        """
        table = self.relative_position_bias_table
        if (torch.is_grad_enabled() and table.requires_grad) or torch.compiler.is_compiling():
            return self._combined(layout, dtype)
        key = (layout.window, layout.shift, dtype, table.device, table.data_ptr(),
               table._version)
        if self._eval_masks is None or self._eval_masks[0] != key:
            self._eval_masks = None  # free the old entry before building a new one
            self._eval_masks = (key, self._combined(layout, dtype))
        return self._eval_masks[1]

    def _combined(self, layout: WindowLayout, dtype: torch.dtype) -> torch.Tensor:
        masks = self._bias(layout).unsqueeze(0)
        if layout.group_masks is not None:
            masks = masks + layout.group_masks.unsqueeze(1)
        return masks.to(dtype)

    def _bias(self, layout: WindowLayout) -> torch.Tensor:
        """(nH, N, N) bias of the (possibly clipped) window; contiguous for the CPU kernel."""
        n = layout.tokens_per_window
        table = self.relative_position_bias_table
        return table.index_select(0, layout.bias_index).view(n, n, -1).permute(2, 0, 1) \
            .contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D, H, W, C) normalised tokens -> (B, D, H, W, C) attention output."""
        layout = self.layout(x)
        path = self.execution_path(x)
        if path == 'cpu_chunked':
            return self._forward_chunked(x, layout)
        windows = partition_windows(x, layout)  # B*nW, N, C
        count, n, channels = windows.shape
        qkv = self.qkv(windows).view(count, n, 3, self.num_heads, channels // self.num_heads)
        if path == 'cpu_backward':
            bias = self._bias(layout)
            out = WindowAttentionFunction.apply(qkv, bias, layout.group_masks,
                                                layout.group_bounds, self.scale)
        else:
            out = self._sdpa(qkv, self.masks(layout, qkv.dtype), layout.group_bounds)
        out = self.proj_drop(self.proj(out.reshape(count, n, channels)))
        return reverse_windows(out, layout, x.shape)

    def _sdpa(self, qkv: torch.Tensor, masks: torch.Tensor,
              bounds: Tuple[int, ...]) -> torch.Tensor:
        """(B_, N, 3, nH, hd) -> (B_, N, nH, hd): one fused call per mask pattern."""
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        dropout_p = self.attn_drop if self.training else 0.
        out = [F.scaled_dot_product_attention(q[start:end], k[start:end], v[start:end],
                                              attn_mask=masks[g:g + 1], dropout_p=dropout_p,
                                              scale=self.scale)
               for g, (start, end) in enumerate(zip(bounds[:-1], bounds[1:]))]
        return (out[0] if len(out) == 1 else torch.cat(out)).transpose(1, 2)

    def _forward_chunked(self, x: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
        """:meth:`forward` for inference, a few windows at a time (the ``'chunked'`` kernel).

        Each chunk of windows is gathered from the token rows, projected to q, k, v,
        attended and projected back while it is still in cache; only the C-wide
        result is ever full size, never the 3C-wide q, k, v.
        """
        channels = x.shape[-1]
        rows = x.reshape(-1, channels)
        if layout.needs_padding:  # padded slots read this extra zero row
            rows = torch.cat([rows, rows.new_zeros(1, channels)])
        n, heads = layout.tokens_per_window, self.num_heads
        masks = self.masks(layout, x.dtype)
        out = rows.new_empty(layout.gather.numel(), channels)
        step = max(1, cpu_kernels.CHUNK_BYTES // (n * 3 * channels * rows.element_size()))
        bounds = layout.group_bounds
        for g, (first, last) in enumerate(zip(bounds[:-1], bounds[1:])):
            for start in range(first, last, step):
                end = min(start + step, last)
                windows = rows.index_select(0, layout.gather[start * n:end * n])
                qkv = self.qkv(windows).view(end - start, n, 3, heads, channels // heads)
                attended = self._sdpa(qkv, masks[g:g + 1], (0, end - start))
                out[start * n:end * n] = self.proj(attended.reshape(-1, channels))
        return out.index_select(0, layout.scatter).view(x.shape)
