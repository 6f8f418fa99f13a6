"""``nn.Linear`` whose fp32 CPU matmuls can go through oneDNN instead of MKL.

PyTorch runs fp32 ``F.linear`` on CPU through MKL's sgemm. On AMD CPUs MKL never
selects its AVX-512 kernels, while oneDNN (shipped inside PyTorch) does; linear layers
are ~80 % of Video Swin's multiply-adds. Whether this runs is the ``'linear'`` kernel of
:mod:`videoswin.models.layers.cpu_kernels`; everywhere else (GPUs, autocast,
``torch.compile``, the switch off) it is exactly ``F.linear``.

Only the arithmetic backend changes: parameters, names and results are those of
``nn.Linear`` (to float rounding).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import cpu_kernels

_ONEDNN_LINEAR = getattr(torch.ops.mkldnn, '_linear_pointwise', None)


def onednn_matmul(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                  activation: str = 'none') -> torch.Tensor:
    """x (M, K) @ weight (N, K)^T + bias in oneDNN, optionally followed by exact GELU."""
    return _ONEDNN_LINEAR(x, weight, bias, activation, [], 'none' if activation == 'gelu' else '')


def onednn_usable(x: torch.Tensor) -> bool:
    """Whether ``x`` takes the oneDNN path (the switch enables it, oneDNN is built in)."""
    # the switch first: it is False under torch.compile before anything dynamo cannot trace
    return (cpu_kernels.use('linear', x) and _ONEDNN_LINEAR is not None
            and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled)


class _OneDNNLinearFunction(torch.autograd.Function):
    """Linear on 2D input: forward and dX in oneDNN, dW in MKL."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return onednn_matmul(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = onednn_matmul(grad_out, weight.t(), None)
        if ctx.needs_input_grad[1]:
            # MKL, not oneDNN: oneDNN wants both operands transposed and contiguous, and
            # those (tokens x channels) transposing copies cost more than its faster
            # GEMM saves (benchmarks/cpu_kernels.py, docs/backbone.md)
            grad_weight = torch.mm(grad_out.t(), x)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum(0)
        return grad_x, grad_weight, grad_bias


def _needs_grad(*tensors: Optional[torch.Tensor]) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``F.linear`` with the oneDNN backend where the switch enables it."""
    if not onednn_usable(x):
        return F.linear(x, weight, bias)
    flat = x.reshape(-1, x.shape[-1])
    out = _OneDNNLinearFunction.apply(flat, weight, bias) if _needs_grad(x, weight, bias) \
        else onednn_matmul(flat, weight.detach(), None if bias is None else bias.detach())
    return out.view(*x.shape[:-1], weight.shape[0])


def linear_gelu(x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``gelu(linear(x))``, fused into one oneDNN call when no gradient is needed."""
    if not onednn_usable(x) or _needs_grad(x, weight, bias):
        return F.gelu(linear(x, weight, bias))
    flat = x.reshape(-1, x.shape[-1])
    out = onednn_matmul(flat, weight.detach(), None if bias is None else bias.detach(), 'gelu')
    return out.view(*x.shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    """Drop-in ``nn.Linear`` (same parameters and state dict) using :func:`linear`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
