"""``nn.Linear`` whose fp32 CPU matmuls go through oneDNN instead of MKL.

PyTorch runs fp32 ``F.linear`` on CPU through MKL's sgemm. On AMD CPUs MKL never
selects its AVX-512 kernels, while oneDNN (shipped inside PyTorch) does: on the
project machine (AMD EPYC with AVX-512) oneDNN runs the backbone's linear layers
2-3x faster forward and about 2x faster forward+backward; elsewhere the two are
on par. Linear layers are ~80 % of Video Swin's multiply-adds, so this is the
largest single speed-up of the backbone.

Only the arithmetic backend changes: parameters, names and results are those of
``nn.Linear`` (to float rounding). Anything else (other devices, dtypes, autocast)
takes ``F.linear``, and so does code traced by ``torch.compile``.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

_ONEDNN_LINEAR = getattr(torch.ops.mkldnn, '_linear_pointwise', None)


def _onednn(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
            activation: str = 'none') -> torch.Tensor:
    """x (M, K) @ weight (N, K)^T + bias, optionally followed by exact GELU."""
    return _ONEDNN_LINEAR(x, weight, bias, activation, [], 'none' if activation == 'gelu' else '')


def onednn_usable(x: torch.Tensor) -> bool:
    """Whether ``x`` can take the oneDNN path (fp32 CPU tensor, no autocast, not compiling).

    Under ``torch.compile`` the plain ``F.linear`` is traced instead: inductor cannot lower
    the oneDNN op on arbitrary views, and it chooses its own matmul kernels anyway.
    """
    return (_ONEDNN_LINEAR is not None and x.device.type == 'cpu' and x.dtype == torch.float32
            and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
            and not torch.is_autocast_enabled('cpu') and not torch.compiler.is_compiling())


class _OneDNNLinearFunction(torch.autograd.Function):
    """Linear on 2D input with every matmul (forward, dX, dW) in oneDNN."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _onednn(grad_out, weight.t(), None)
        if ctx.needs_input_grad[1]:
            grad_weight = _onednn(grad_out.t(), x.t(), None)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum(0)
        return grad_x, grad_weight, grad_bias


def linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``F.linear`` with the oneDNN backend where it applies."""
    if not onednn_usable(x):
        return F.linear(x, weight, bias)
    flat = x.reshape(-1, x.shape[-1])
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad))
    out = _OneDNNLinearFunction.apply(flat, weight, bias) if needs_grad else _onednn(
        flat, weight.detach(), None if bias is None else bias.detach())
    return out.view(*x.shape[:-1], weight.shape[0])


def linear_gelu(x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``gelu(linear(x))``, fused into one oneDNN call when no gradient is needed."""
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    if needs_grad or not onednn_usable(x):
        return F.gelu(linear(x, weight, bias))
    flat = x.reshape(-1, x.shape[-1])
    out = _onednn(flat, weight.detach(), None if bias is None else bias.detach(), 'gelu')
    return out.view(*x.shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    """Drop-in ``nn.Linear`` (same parameters and state dict) using :func:`linear`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
