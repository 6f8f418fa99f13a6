"""DualFormer (Liang et al., ECCV 2022): local windows and a global pyramid, alternating.

A four-stage pyramid (Twins-SVT-like, no class token, no absolute positions). Inside each
stage the blocks alternate

* LW-MSA (even blocks): plain attention inside non-overlapping 3-D windows (8 x 7 x 7);
* GP-MSA (odd blocks): every token queries a small pooled "pyramid" context -- a fine
  level (depthwise conv pooling the grid to 8 x 7 x 7 tokens) and, in stages 1-2, a
  coarse level (depthwise 1x7x7 conv, BatchNorm, ReLU, depthwise temporal conv: 4 x 4 x 4
  tokens). Where the fine pyramid equals the grid (stage 4) it is full global attention.

A depthwise 3x3x3 conv (PEG) after the first block of each stage supplies positions.
Parameter names are the official ones (``patch_embeds``, ``pos_block``, ``blocks.s.j``,
``attn.q/kv/sr/norm/lr``), so released checkpoints load as they are.
Input (N, C, T, H, W) -> (N, 8C0, T/2, H/32, W/32) after a final LayerNorm.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from videoswin.checkpoint import (CheckpointInfo, LoadSummary, load_backbone_weights,
                                  read_state_dict)
from videoswin.checkpoint.load import pretrained_source
from videoswin.models.layers.weight_init import init_linear_and_norm
from videoswin.models.layers.vit_layers import (Mlp, SelfAttention, drop_path_layer,
                                                drop_path_rates, merge_heads, split_heads)
from videoswin.registry import MODELS
from .vit_image_weights import StateDict, strip_first_prefix

Size3 = Tuple[int, int, int]

#: dims / heads / depths per stage of the paper's T, S and B models (Twins-SVT S/B/L).
ARCHS = {
    'tiny': dict(embed_dims=(64, 128, 256, 512), num_heads=(2, 4, 8, 16), depths=(2, 2, 10, 4)),
    'small': dict(embed_dims=(96, 192, 384, 768), num_heads=(3, 6, 12, 24), depths=(2, 2, 18, 2)),
    'base': dict(embed_dims=(128, 256, 512, 1024), num_heads=(4, 8, 16, 32), depths=(2, 2, 18, 2)),
}


def window_partition(x: torch.Tensor, window: Size3) -> torch.Tensor:
    """(B, D, H, W, C) -> (B * nW, wd * wh * ww, C), windows in raster order."""
    b, d, h, w, c = x.shape
    wd, wh, ww = window
    x = x.view(b, d // wd, wd, h // wh, wh, w // ww, ww, c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, wd * wh * ww, c)


def window_reverse(windows: torch.Tensor, window: Size3, grid: Size3) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, N, C) -> (B, D, H, W, C)."""
    d, h, w = grid
    wd, wh, ww = window
    c = windows.shape[-1]
    x = windows.view(-1, d // wd, h // wh, w // ww, wd, wh, ww, c)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(-1, d, h, w, c)


def fit_to_grid(size: Size3, grid: Size3) -> Size3:
    """Clip a window / pyramid size to the token grid (short clips have fewer frames)."""
    return tuple(min(s, g) for s, g in zip(size, grid))


class LocalWindowAttention(SelfAttention):
    """LW-MSA: self-attention inside non-overlapping 3-D windows (no shift, no bias)."""

    def __init__(self, dim: int, num_heads: int, window: Size3, qkv_bias: bool = True) -> None:
        super().__init__(dim, num_heads, qkv_bias)
        self.window = tuple(window)

    def forward(self, x: torch.Tensor, grid: Size3) -> torch.Tensor:
        """(B, D*H*W, C) -> same; windows are the configured size clipped to the grid."""
        window = fit_to_grid(self.window, grid)
        if any(g % s for g, s in zip(grid, window)):
            raise ValueError(f'token grid {tuple(grid)} is not divisible by the local window '
                             f'{window}; use clip lengths / crop sizes that fit')
        b, n, c = x.shape
        windows = window_partition(x.view(b, *grid, c), window)
        out = super().forward(windows)
        return window_reverse(out, window, grid).reshape(b, n, c)


class GlobalPyramidAttention(nn.Module):
    """GP-MSA: all tokens attend to a pooled pyramid of the whole clip.

    Args:
        dim: channels.
        num_heads: heads.
        grid: token grid (D, H, W) of this stage at the configured input size; it fixes
            the pooling kernels (grid / pyramid size).
        fine_size: fine pyramid (D, H, W); equal to the grid means plain global attention.
        coarse_size: coarse pyramid, built only when ``with_coarse`` (stages 1-2).
        with_coarse: add the coarse level.
        qkv_bias: bias on q and kv.
    """

    def __init__(self, dim: int, num_heads: int, grid: Size3, fine_size: Size3 = (8, 7, 7),
                 coarse_size: Size3 = (4, 4, 4), with_coarse: bool = False,
                 qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        fine_kernel = tuple(max(1, g // s) for g, s in zip(grid, fit_to_grid(fine_size, grid)))
        self.sr = self.norm = self.lr = None
        if fine_kernel == (1, 1, 1):
            return
        self.sr = nn.Conv3d(dim, dim, fine_kernel, fine_kernel, groups=dim)
        self.norm = nn.LayerNorm(dim)
        if with_coarse:
            # the grid / coarse_size depthwise pooling, factorised (as the official code,
            # for speed) into a 1x7x7 conv and a conv over the rest of the kernel
            coarse_kernel = [max(1, g // s) for g, s in zip(grid, fit_to_grid(coarse_size, grid))]
            spatial = (1, math.gcd(7, coarse_kernel[1]), math.gcd(7, coarse_kernel[2]))
            rest = tuple(k // s for k, s in zip(coarse_kernel, spatial))
            self.lr = nn.Sequential(
                nn.Conv3d(dim, dim, spatial, spatial, groups=dim),
                nn.BatchNorm3d(dim),
                nn.ReLU(inplace=True),
                nn.Conv3d(dim, dim, rest, rest, groups=dim))

    def context(self, x: torch.Tensor, grid: Size3) -> torch.Tensor:
        """The key/value source: pooled pyramid tokens (B, M, C), or all tokens."""
        if self.sr is None:
            return x
        b, n, c = x.shape
        volume = x.transpose(1, 2).reshape(b, c, *grid)
        levels = [self.sr(volume).flatten(2)]
        if self.lr is not None:
            levels.append(self.lr(volume).flatten(2))
        return self.norm(torch.cat(levels, dim=2).transpose(1, 2))

    def forward(self, x: torch.Tensor, grid: Size3) -> torch.Tensor:
        """(B, D*H*W, C) -> same."""
        q = split_heads(self.q(x), self.num_heads)
        k, v = (split_heads(t, self.num_heads)
                for t in self.kv(self.context(x, grid)).chunk(2, dim=-1))
        return self.proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))


class DualFormerBlock(nn.Module):
    """Pre-norm block around a local-window or a global-pyramid attention."""

    def __init__(self, dim: int, attn: nn.Module, mlp_ratio: float = 4.,
                 drop_path: float = 0.) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = attn
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = drop_path_layer(drop_path)

    def forward(self, x: torch.Tensor, grid: Size3) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), grid))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class DualFormerPatchEmbed(nn.Module):
    """Strided Conv3d (kernel = stride) then LayerNorm; also the stage-to-stage downsampler."""

    def __init__(self, in_channels: int, dim: int, patch_size: Size3) -> None:
        super().__init__()
        self.proj = nn.Conv3d(in_channels, dim, patch_size, patch_size)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Size3]:
        """(B, C, D, H, W) -> (B, N, dim) tokens and their grid (d, h, w)."""
        x = self.proj(x)
        return self.norm(x.flatten(2).transpose(1, 2)), tuple(x.shape[2:])


class PositionalConv(nn.Module):
    """PEG: x + depthwise 3x3x3 conv of x (conditional positional encoding)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv3d(dim, dim, 3, 1, 1, groups=dim))

    def forward(self, x: torch.Tensor, grid: Size3) -> torch.Tensor:
        b, n, c = x.shape
        volume = x.transpose(1, 2).reshape(b, c, *grid)
        return x + self.proj(volume).flatten(2).transpose(1, 2)


@MODELS.register_module()
class DualFormer(BaseModule):
    """DualFormer backbone.

    Args:
        arch: 'tiny', 'small', 'base' or a dict with embed_dims, num_heads, depths.
        num_frames: input frames the pooling kernels are sized for (paper: 32).
        img_size: input crop size (paper: 224).
        patch_size: first patch embedding (t, h, w); later stages halve h and w.
        in_channels: input channels.
        mlp_ratio: MLP width / channels.
        qkv_bias: bias on q/k/v projections.
        window_size: LW-MSA window (clipped to short grids).
        fine_pyramid: fine GP-MSA pyramid per stage; the last equals the stage-4 grid of a
            32 x 224 clip, i.e. global attention.
        coarse_pyramid: coarse pyramid size (stages 1-2 only).
        drop_path_rate: stochastic depth of the last block (linear over all blocks).
        pretrained: checkpoint loaded by :meth:`init_weights`: DualFormer video weights
            (official or ours) or 2-D image weights of the same names, inflated; see
            :func:`load_dualformer_pretrained`.
        init_cfg: mmengine init config; only type 'Pretrained' is used, read like
            ``pretrained``.
    """

    def __init__(self, arch: Union[str, dict] = 'tiny', num_frames: int = 32,
                 img_size: int = 224, patch_size: Size3 = (2, 4, 4), in_channels: int = 3,
                 mlp_ratio: float = 4., qkv_bias: bool = True, window_size: Size3 = (8, 7, 7),
                 fine_pyramid: Sequence[Size3] = ((8, 7, 7), (8, 7, 7), (8, 7, 7), (16, 7, 7)),
                 coarse_pyramid: Size3 = (4, 4, 4), drop_path_rate: float = 0.1,
                 pretrained: Optional[str] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = dict(ARCHS[arch]) if isinstance(arch, str) else dict(arch)
        dims, heads, depths = arch['embed_dims'], arch['num_heads'], arch['depths']
        if not len(dims) == len(heads) == len(depths) == len(fine_pyramid):
            raise ValueError('embed_dims, num_heads, depths and fine_pyramid need one entry '
                             'per stage')
        self.pretrained = pretrained
        self.embed_dims = dims[-1]
        grid = (num_frames // patch_size[0], img_size // patch_size[1], img_size // patch_size[2])
        rates = iter(drop_path_rates(drop_path_rate, sum(depths)))
        self.patch_embeds = nn.ModuleList()
        self.blocks = nn.ModuleList()
        self.pos_block = nn.ModuleList()
        for stage, (dim, head, depth) in enumerate(zip(dims, heads, depths)):
            if stage == 0:
                self.patch_embeds.append(DualFormerPatchEmbed(in_channels, dim, tuple(patch_size)))
            else:
                self.patch_embeds.append(DualFormerPatchEmbed(dims[stage - 1], dim, (1, 2, 2)))
                grid = (grid[0], grid[1] // 2, grid[2] // 2)
            stage_blocks = []
            for index in range(depth):
                if index % 2 == 0:
                    attn = LocalWindowAttention(dim, head, window_size, qkv_bias)
                else:
                    attn = GlobalPyramidAttention(dim, head, grid, fine_pyramid[stage],
                                                  coarse_pyramid, stage < 2, qkv_bias)
                stage_blocks.append(DualFormerBlock(dim, attn, mlp_ratio, next(rates)))
            self.blocks.append(nn.ModuleList(stage_blocks))
            self.pos_block.append(PositionalConv(dim))
        self.norm = nn.LayerNorm(dims[-1])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Official random init: trunc-normal(0.02) Linear, LayerNorm (1, 0), convs default."""
        init_linear_and_norm(self)

    def init_weights(self) -> None:
        """Load ``pretrained`` if set: a DualFormer video checkpoint (official or ours), or a
        2-D image checkpoint of the same names (2-D DualFormer / Twins-SVT), inflated."""
        source = pretrained_source(self.pretrained, self.init_cfg, type(self).__name__)
        if source:
            load_dualformer_pretrained(self, source)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> (N, C', T', H', W') normalised stage-4 map."""
        b = x.shape[0]
        for stage, (embed, blocks, peg) in enumerate(
                zip(self.patch_embeds, self.blocks, self.pos_block)):
            tokens, grid = embed(x)
            for index, block in enumerate(blocks):
                tokens = block(tokens, grid)
                if index == 0:
                    tokens = peg(tokens, grid)
            x = tokens.transpose(1, 2).reshape(b, -1, *grid)
        return self.norm(tokens).transpose(1, 2).reshape(b, -1, *grid)


# --------------------------------------------------------------------------------------
# Checkpoint adaptation: 2-D image weights (2-D DualFormer, Twins-SVT) -> 3-D.

def inflate_image_weights(image: StateDict, model: DualFormer) -> Tuple[StateDict, list]:
    """Inflate a 2-D checkpoint with DualFormer's names to the video model, as the official
    loader does: every 2-D kernel (patch embeddings, PEG, fine pooling ``sr``) is repeated
    along time and divided by the temporal extent, so a static clip sees the 2-D filter;
    the coarse branch's 1x7x7 conv gains a unit time axis and its temporal conv (absent
    in 2-D) becomes an averaging filter with zero bias. Returns (weights, adapted keys)."""
    own = model.state_dict()
    out, adapted = {}, []
    for key, value in image.items():
        target = own.get(key)
        if target is not None and value.dim() == 4 and target.dim() == 5:
            frames = target.shape[2]
            value = value.unsqueeze(2).repeat(1, 1, frames, 1, 1) / frames
            adapted.append(key)
        out[key] = value
    for key, value in own.items():
        if key.endswith('attn.lr.3.weight') and key not in image:
            out[key] = torch.full_like(value, 1. / value[0].numel())
            out[key.replace('.weight', '.bias')] = torch.zeros_like(own[key.replace('.weight',
                                                                                   '.bias')])
            adapted += [key, key.replace('.weight', '.bias')]
    return out, adapted


def load_dualformer_pretrained(model: DualFormer, path: str) -> LoadSummary:
    """Initialise ``model`` from a video or image checkpoint; the summary line is logged
    and returned."""
    weights = strip_first_prefix(read_state_dict(path)[0], ('module.', 'backbone.'))
    weights = {k: v for k, v in weights.items() if not k.startswith(('cls_head.', 'head.'))}
    kernel = weights.get('patch_embeds.0.proj.weight')
    if kernel is None:
        raise ValueError(f'{path} holds no DualFormer weights (no patch_embeds.0.proj.weight)')
    adapted = []
    if kernel.dim() == 4:
        weights, adapted = inflate_image_weights(weights, model)
    kind = 'image (2-D) DualFormer' if kernel.dim() == 4 else 'video DualFormer'
    info = CheckpointInfo(path, kernel.dim() - 2, 'official', 'backbone', label=kind)
    return load_backbone_weights(model, weights, info, adapted)
