"""The hand-written attention backward: the ``'backward'`` kernel of
:mod:`videoswin.models.layers.cpu_kernels`, used on CPUs where it measures faster.

With a relative-position bias that needs a gradient, CPU
``F.scaled_dot_product_attention`` leaves its fused kernel for the generic one, which
stores the (windows x heads x N x N) probabilities and guards masked rows with extra
passes. This function runs the fused forward with the bias detached and computes the
gradients itself, window block by window block, so no full-size probability tensor
is ever stored.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from . import cpu_kernels


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
        q, k, v = qkv.detach().permute(2, 0, 3, 1, 4).unbind(0)
        windows, heads, n, head_dim = q.shape
        out = qkv.new_empty(windows, n, heads, head_dim)
        for g, (start, end) in enumerate(zip(group_bounds[:-1], group_bounds[1:])):
            mask = bias.detach() if group_masks is None else bias.detach() + group_masks[g]
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
        windows, n, _, heads, head_dim = qkv.shape
        # head-major copies, so every block below is a plain contiguous batched GEMM
        q_scaled = (qkv[:, :, 0].transpose(1, 2) * scale).contiguous()
        k = qkv[:, :, 1].transpose(1, 2).contiguous()
        v = qkv[:, :, 2].transpose(1, 2).contiguous()
        grad_o = grad_out.transpose(1, 2).contiguous()  # B_, nH, N, hd
        delta = (grad_o * out.transpose(1, 2)).sum(-1, keepdim=True)
        grads = qkv.new_empty(3, windows, heads, n, head_dim)
        grad_bias = torch.zeros_like(bias)
        block = max(1, cpu_kernels.CHUNK_BYTES // (heads * n * n * qkv.element_size()))
        for g, (first, last) in enumerate(zip(ctx.group_bounds[:-1], ctx.group_bounds[1:])):
            logit_bias = bias if group_masks is None else bias + group_masks[g]
            for start in range(first, last, block):
                rows = slice(start, min(start + block, last))
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
        grad_qkv = grads.permute(1, 3, 0, 2, 4)  # B_, N, 3, nH, hd
        return grad_qkv, grad_bias, None, None, None
