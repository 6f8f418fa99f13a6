"""Plain ViT building blocks shared by the TimeSformer, ViViT and DualFormer backbones.

Parameter names follow timm / the official TimeSformer code (``norm1``, ``attn.qkv``,
``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``), so ViT image checkpoints map onto
every block one to one.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from torch import nn

#: ``act`` names accepted by :class:`Mlp`: PyTorch's exact GELU (TimeSformer, DualFormer)
#: and its tanh approximation (ViViT: Flax's ``nn.gelu`` default, HF ``gelu_fast``).
ACTIVATIONS = {'gelu': lambda: nn.GELU(), 'gelu_tanh': lambda: nn.GELU(approximate='tanh')}


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(..., N, C) -> (..., num_heads, N, C / num_heads)."""
    *batch, n, channels = x.shape
    return x.view(*batch, n, num_heads, channels // num_heads).transpose(-3, -2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(..., num_heads, N, head_dim) -> (..., N, num_heads * head_dim)."""
    *batch, heads, n, head_dim = x.shape
    return x.transpose(-3, -2).reshape(*batch, n, heads * head_dim)


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused q/k/v projection, run by SDPA.

    Args:
        dim: token channels C.
        num_heads: heads; the head dim is C / num_heads and logits are scaled by its
            inverse square root.
        qkv_bias: learnable bias on the q/k/v projection.
        attn_drop: dropout on the attention probabilities (training only).
        proj_drop: dropout after the output projection.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0.) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def project_qkv(self, x: torch.Tensor):
        """(..., N, C) tokens -> q, k, v, each (..., heads, N, head_dim)."""
        return [split_heads(t, self.num_heads) for t in self.qkv(x).chunk(3, dim=-1)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) -> (B, N, C): every token attends to every token of its sequence."""
        q, k, v = self.project_qkv(x)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.)
        return self.proj_drop(self.proj(merge_heads(out)))


class Mlp(nn.Module):
    """Linear -> activation -> Linear, the transformer's feed-forward layer."""

    def __init__(self, dim: int, hidden_dim: int, act: str = 'gelu', drop: float = 0.) -> None:
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f'unknown activation {act!r}; choose from {sorted(ACTIVATIONS)}')
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = ACTIVATIONS[act]()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + DropPath(Attn(LN x)), then x + DropPath(MLP(LN x)).

    Args:
        dim: token channels.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / dim.
        qkv_bias: bias on the q/k/v projection.
        drop_path: stochastic-depth rate of both residual branches.
        norm_eps: LayerNorm epsilon (1e-6 for the JAX-trained ViTs).
        act: MLP activation, see :data:`ACTIVATIONS`.
        attn: an attention module to use instead of :class:`SelfAttention` (it must
            take the normalised tokens plus the keyword arguments given to ``forward``).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop_path: float = 0., norm_eps: float = 1e-6, act: str = 'gelu',
                 attn: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = attn if attn is not None else SelfAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act)
        self.drop_path = drop_path_layer(drop_path)

    def forward(self, x: torch.Tensor, **attn_kwargs) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), **attn_kwargs))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """Non-overlapping patches (2-D) or tubelets (3-D) -> tokens, by a strided conv ``proj``."""

    def __init__(self, in_channels: int, dim: int, patch_size: Sequence[int]) -> None:
        super().__init__()
        conv = {2: nn.Conv2d, 3: nn.Conv3d}[len(patch_size)]
        self.proj = conv(in_channels, dim, tuple(patch_size), tuple(patch_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, [T,] H, W) -> (B, dim, [t,] h, w)."""
        return self.proj(x)


def drop_path_layer(rate: float) -> nn.Module:
    """Stochastic depth of the given rate, or identity when the rate is 0."""
    return DropPath(rate) if rate > 0 else nn.Identity()


def drop_path_rates(rate: float, depth: int) -> list:
    """Stochastic-depth rate per block, linear from 0 to ``rate`` (timm's rule)."""
    if depth <= 1:
        return [0.] * depth
    return [rate * i / (depth - 1) for i in range(depth)]
