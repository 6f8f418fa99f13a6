"""3D window multi-head self-attention with a learnable relative-position bias.

Four ways to compute the same maths, picked per call:

* **cached** (no gradient needed; on GPUs and under ``torch.compile``): the bias gathered from the table
  plus each shift-mask pattern is built once per input geometry, dtype and device
  and kept until the table changes; attention is fused
  ``F.scaled_dot_product_attention``, one call per mask pattern.
* **trainable** (gradients needed): :class:`WindowAttentionFunction`, a fused
  forward and a hand-written backward that recomputes the probabilities window
  by window and returns the bias gradient summed over windows. (A bias that needs
  a gradient would send CPU SDPA down its slow generic path.)
* **chunked** (no gradient needed, eval mode, CPU, eager): the cached path run a few windows at a
  time, from the gather through the output projection (see
  :meth:`WindowAttention3D.forward_chunked`).
* **plain**: the textbook formula (logits, + bias, + mask, softmax, @ v), used for
  attention dropout and as the reference the tests compare the others against.
"""
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .linear import Linear
from .window_ops import WindowLayout, clipped_relative_position_index, relative_position_index

#: Target size of one (windows x heads x N x N) probability block in the backward;
#: small enough to stay in cache, large enough to keep the GEMMs efficient.
_BACKWARD_BLOCK_BYTES = 2 << 20

#: Target size of the widest intermediate (the q, k, v projection) of one chunk of
#: windows in :meth:`WindowAttention3D.forward_chunked`.
CHUNK_BYTES = 2 << 20


@lru_cache(maxsize=32)
def _clipped_index(window: tuple, clipped: tuple) -> torch.Tensor:
    return clipped_relative_position_index(window, clipped).reshape(-1)


def plain_window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           bias: torch.Tensor, masks: Optional[torch.Tensor], scale: float,
                           dropout_p: float = 0.) -> torch.Tensor:
    """The straightforward maths, as the official code writes it (reference path).

    Args:
        q, k, v: (B_, nH, N, hd), B_ windows.
        bias: (nH, N, N) relative-position bias.
        masks: (B_, N, N) additive shift mask per window, or None.
        scale: logit scale applied to q.
        dropout_p: dropout on the probabilities (pass 0 outside training).

    Returns:
        (B_, nH, N, hd).
    """
    logits = (q * scale) @ k.transpose(-2, -1) + bias
    if masks is not None:
        logits = logits + masks.unsqueeze(1)
    probs = logits.softmax(dim=-1)
    if dropout_p > 0:
        probs = F.dropout(probs, dropout_p)
    return probs @ v


def _split_qkv(qkv: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B_, N, 3, nH, hd) -> three (B_, nH, N, hd) views."""
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    return q, k, v


class WindowAttentionFunction(torch.autograd.Function):
    """Windowed attention with bias and shift masks; backward recomputes probabilities.

    Forward: per mask group, fused attention (no N x N tensor is stored).
    Backward: in blocks of windows sized to stay in cache, recompute
    P = softmax(qk^T*scale + bias + mask), then
    dV = P^T dO, dS = P * (dO V^T - rowsum(dO*O)), dQ = dS K * scale,
    dK = dS^T Q * scale, and d(bias) = sum of dS over all windows.

    Inputs: qkv (B_, N, 3, nH, hd); bias (nH, N, N); group_masks (G, N, N) or None;
    group_bounds (G+1 window offsets); scale. Output: (B_, N, nH, hd).
    """

    @staticmethod
    def forward(ctx, qkv: torch.Tensor, bias: torch.Tensor, group_masks: Optional[torch.Tensor],
                group_bounds: Tuple[int, ...], scale: float) -> torch.Tensor:
        # detached: SDPA picks its slow generic kernel when an input *flags*
        # requires_grad, even with grad mode off as it is here
        q, k, v = _split_qkv(qkv.detach())
        windows, heads, n, head_dim = q.shape
        out = qkv.new_empty(windows, n, heads, head_dim)
        bias_q = bias.detach().to(qkv.dtype)
        for g, (start, end) in enumerate(zip(group_bounds[:-1], group_bounds[1:])):
            mask = bias_q if group_masks is None else bias_q + group_masks[g].to(qkv.dtype)
            out[start:end] = F.scaled_dot_product_attention(
                q[start:end], k[start:end], v[start:end], attn_mask=mask.unsqueeze(0),
                scale=scale).transpose(1, 2)
        ctx.save_for_backward(qkv, bias, group_masks, out)
        ctx.group_bounds, ctx.scale = group_bounds, scale
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        qkv, bias, group_masks, out = ctx.saved_tensors
        scale = ctx.scale
        compute = torch.float32 if qkv.dtype in (torch.float16, torch.bfloat16) else qkv.dtype
        windows, n, _, heads, head_dim = qkv.shape
        # head-major copies, so every block below is a plain contiguous batched GEMM
        q_scaled = (qkv[:, :, 0].transpose(1, 2).to(compute) * scale).contiguous()
        k = qkv[:, :, 1].transpose(1, 2).to(compute).contiguous()
        v = qkv[:, :, 2].transpose(1, 2).to(compute).contiguous()
        grad_o = grad_out.transpose(1, 2).to(compute).contiguous()  # B_, nH, N, hd
        delta = (grad_o * out.transpose(1, 2).to(compute)).sum(-1, keepdim=True)
        grads = torch.empty(3, windows, heads, n, head_dim, dtype=compute, device=qkv.device)
        grad_bias = torch.zeros(bias.shape, dtype=compute, device=bias.device)
        block = max(1, _BACKWARD_BLOCK_BYTES // (heads * n * n * 4))
        for g, (first, last) in enumerate(zip(ctx.group_bounds[:-1], ctx.group_bounds[1:])):
            logit_bias = bias.to(compute)
            if group_masks is not None:
                logit_bias = logit_bias + group_masks[g].to(compute)
            for start in range(first, last, block):
                end = min(start + block, last)
                rows = slice(start, end)
                # softmax again rather than exp(logits - logsumexp): torch's softmax
                # kernel has a much faster vectorised exp than torch.exp on CPU
                probs = torch.matmul(q_scaled[rows], k[rows].transpose(-2, -1))
                probs = probs.add_(logit_bias).softmax(dim=-1)
                torch.matmul(probs.transpose(-2, -1), grad_o[rows], out=grads[2, rows])
                grad_logits = torch.matmul(grad_o[rows], v[rows].transpose(-2, -1))
                grad_logits.sub_(delta[rows]).mul_(probs)
                grad_bias += grad_logits.sum(0)
                torch.matmul(grad_logits, k[rows], out=grads[0, rows]).mul_(scale)
                torch.matmul(grad_logits.transpose(-2, -1), q_scaled[rows], out=grads[1, rows])
        grad_qkv = grads.permute(1, 3, 0, 2, 4).to(qkv.dtype)  # B_, N, 3, nH, hd
        return grad_qkv, grad_bias.to(bias.dtype), None, None, None


class WindowAttention3D(nn.Module):
    """W-MSA / SW-MSA over (wd, wh, ww) windows, parameters named as the official code.

    Args:
        dim: channels C of the tokens.
        window_size: nominal window (wd, wh, ww); sets the bias-table size.
        num_heads: attention heads nH (head dim = C / nH).
        qkv_bias: learnable bias on the q, k, v projection.
        qk_scale: logit scale; default head_dim ** -0.5.
        attn_drop: dropout on the attention probabilities (uses the plain path).
        proj_drop: dropout after the output projection.
    """

    def __init__(self, dim: int, window_size: Sequence[int], num_heads: int,
                 qkv_bias: bool = True, qk_scale: Optional[float] = None,
                 attn_drop: float = 0., proj_drop: float = 0.) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.dim = dim
        self.window_size = tuple(window_size)
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        wd, wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads))
        self.register_buffer('relative_position_index', relative_position_index(self.window_size))
        self.qkv = Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.plain = False  # tests switch this on to run the reference maths
        self._mask_cache: Optional[Tuple[tuple, torch.Tensor]] = None
        nn.init.trunc_normal_(self.relative_position_bias_table, std=.02)

    def train(self, mode: bool = True) -> 'WindowAttention3D':
        """Entering training drops the eval cache: it is rebuilt at the next eval."""
        if mode:
            self._mask_cache = None
        return super().train(mode)

    def relative_position_bias(self, window: Sequence[int]) -> torch.Tensor:
        """(nH, N, N) bias for the (possibly clipped) window actually used."""
        window = tuple(window)
        table = self.relative_position_bias_table
        if window == self.window_size:
            index = self.relative_position_index.reshape(-1)
        else:
            index = _clipped_index(self.window_size, window).to(table.device)
        n = window[0] * window[1] * window[2]
        # contiguous: the fused CPU kernel needs a unit stride along the last axis
        return table.index_select(0, index).view(n, n, -1).permute(2, 0, 1).contiguous()

    def _cached_masks(self, layout: WindowLayout, dtype: torch.dtype) -> torch.Tensor:
        """(G, nH, N, N) bias + shift mask per pattern, rebuilt only when something changed.

        The mask patterns depend only on the window and the shift (not on the map
        size or the batch), so those make the geometry part of the key. The rest
        holds the table's storage and in-place version counter, so an optimizer
        step or a ``load_state_dict`` invalidates the entry.
        """
        table = self.relative_position_bias_table
        key = (layout.window, layout.shift, dtype, table.device, table.data_ptr(),
               table._version)
        if self._mask_cache is None or self._mask_cache[0] != key:
            self._mask_cache = None  # free the old entry before building the new one
            with torch.no_grad():
                bias = self.relative_position_bias(layout.window).unsqueeze(0)
                if layout.group_masks is not None:
                    bias = bias + layout.group_masks.unsqueeze(1)
                self._mask_cache = (key, bias.to(dtype).contiguous())
        return self._mask_cache[1]

    def forward(self, x: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
        """(B_, N, C) windows in ``layout`` order -> (B_, N, C)."""
        windows, n, channels = x.shape
        qkv = self.qkv(x).view(windows, n, 3, self.num_heads, channels // self.num_heads)
        dropout_p = self.attn_drop.p if self.training else 0.
        needs_grad = torch.is_grad_enabled() and (
            qkv.requires_grad or self.relative_position_bias_table.requires_grad)
        if self.plain or dropout_p > 0:
            q, k, v = _split_qkv(qkv)
            masks = layout.window_masks()
            masks = None if masks is None else masks.to(x)
            out = plain_window_attention(q, k, v, self.relative_position_bias(layout.window),
                                         masks, self.scale, dropout_p).transpose(1, 2)
        elif needs_grad:
            masks = layout.group_masks
            out = WindowAttentionFunction.apply(qkv, self.relative_position_bias(layout.window),
                                                masks, layout.group_bounds, self.scale)
        else:
            out = self._cached_attention(qkv, layout)
        return self.proj_drop(self.proj(out.reshape(windows, n, channels)))

    def forward_chunked(self, rows: torch.Tensor, norm: nn.Module,
                        layout: WindowLayout) -> torch.Tensor:
        """``attn(partition(norm(x)))`` for inference, a few windows at a time.

        Each chunk of windows is gathered from the token rows, normalised, projected
        to q, k, v, attended and projected back while it is still in cache; only the
        (B*nW*N, C) result is ever full size. The wide intermediates (3C for q, k, v)
        are never allocated whole: on CPU those allocations are tens of MB, which
        glibc serves with fresh, page-faulting ``mmap`` calls every time.

        Args:
            rows: (B*D*H*W, C) tokens, channels-last, before ``norm``.
            norm: the block's ``norm1`` (applied per token, so per chunk).
            layout: window layout of this block.

        Returns:
            (B*nW*N, C) attention output in ``layout`` window order.
        """
        tokens, channels = rows.shape
        n, heads = layout.tokens_per_window, self.num_heads
        if layout.needs_padding:  # padded slots read this extra zero row
            rows = torch.cat([rows, rows.new_zeros(1, channels)])
        masks = self._cached_masks(layout, rows.dtype)
        out = rows.new_empty(layout.gather.numel(), channels)
        step = max(1, CHUNK_BYTES // (n * 3 * channels * rows.element_size()))
        bounds = layout.group_bounds
        for g, (first, last) in enumerate(zip(bounds[:-1], bounds[1:])):
            for start in range(first, last, step):
                end = min(start + step, last)
                index = layout.gather[start * n:end * n]
                x = norm(rows.index_select(0, index))
                if layout.needs_padding:  # official padding comes after norm1: zeros
                    x.masked_fill_((index == tokens).unsqueeze(1), 0.)
                qkv = self.qkv(x).view(end - start, n, 3, heads, channels // heads)
                q, k, v = _split_qkv(qkv)
                attended = F.scaled_dot_product_attention(
                    q, k, v, attn_mask=masks[g:g + 1], scale=self.scale)
                out[start * n:end * n] = self.proj(
                    attended.transpose(1, 2).reshape(-1, channels))
        return out

    def _cached_attention(self, qkv: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
        q, k, v = _split_qkv(qkv)
        masks = self._cached_masks(layout, qkv.dtype)
        bounds = layout.group_bounds
        if len(bounds) == 2:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=masks,
                                                  scale=self.scale).transpose(1, 2)
        windows, heads, n, head_dim = q.shape
        out = qkv.new_empty(windows, n, heads, head_dim)
        for g, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
            out[start:end] = F.scaled_dot_product_attention(
                q[start:end], k[start:end], v[start:end], attn_mask=masks[g:g + 1],
                scale=self.scale).transpose(1, 2)
        return out
