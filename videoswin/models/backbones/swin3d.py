"""Video Swin Transformer backbone (Liu et al., arXiv 2106.13230).

The maths and the parameter names are the official ones, so official checkpoints
load with ``strict=True``; outputs equal mmaction2's port for the same weights.
What differs is how the work is laid out:

* tokens stay channels-last (B, D, H, W, C) from the patch embedding to the output;
* pad + roll + window partition is one precomputed ``index_select`` (and its
  inverse on the way back), see :mod:`videoswin.models.layers.window_ops`;
* each block's :class:`~videoswin.models.layers.window_attention.ShiftWindowAttention3D`
  owns its window geometry and runs fused ``scaled_dot_product_attention`` with the
  relative-position bias and shift mask as one float mask (CPU-only speed-ups sit
  behind :mod:`videoswin.models.layers.cpu_kernels`);
* each stage (:class:`BasicLayer`) owns its patch merging.

One deliberate difference from the official code: when a window is clipped in
space (inputs whose stage maps are smaller than the window, e.g. 112 or 160 px),
the relative-position bias is looked up for the clipped window's real token
offsets, where the official code reads the first N rows/columns of the full
window's index and so pairs tokens with the wrong offsets. Where only the
temporal axis is clipped (every 224 px input) both lookups are the same.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch import nn
from torch.utils.checkpoint import checkpoint

from videoswin.checkpoint import LayoutReader, register_layout_reader
from videoswin.checkpoint.load import pretrained_source
from videoswin.models.layers import cpu_kernels
from videoswin.models.layers.weight_init import init_linear_and_norm
from videoswin.models.layers.onednn_linear import Linear, linear_gelu
from videoswin.models.layers.window_attention import ShiftWindowAttention3D
from videoswin.registry import MODELS
from .swin3d_layouts import is_rebuilt_buffer
from .swin3d_weights import detect_swin, load_pretrained

Triple = Tuple[int, int, int]

#: The published variants (paper Table 1): embedding width, blocks and heads per stage.
ARCH_SETTINGS: Dict[str, Dict] = {
    'tiny': dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    'small': dict(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    'base': dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    'large': dict(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
}
_ARCH_ALIASES = {'t': 'tiny', 's': 'small', 'b': 'base', 'l': 'large'}


def resolve_arch(arch: Union[None, str, Dict], embed_dim: Optional[int],
                 depths: Optional[Sequence[int]], num_heads: Optional[Sequence[int]]
                 ) -> Tuple[int, Tuple[int, ...], Tuple[int, ...]]:
    """Merge the ``arch`` shorthand with explicitly given sizes (explicit ones win).

    ``arch`` is a variant name ('tiny', 'small', 'base', 'large' or t/s/b/l) or a
    dict with ``embed_dim`` (mmaction2's ``embed_dims`` is accepted too),
    ``depths`` and ``num_heads``. Without ``arch`` the defaults are Swin-T's.
    """
    if arch is None:
        settings = dict(ARCH_SETTINGS['tiny'])
    elif isinstance(arch, str):
        name = _ARCH_ALIASES.get(arch.lower(), arch.lower())
        if name not in ARCH_SETTINGS:
            raise KeyError(f'SwinTransformer3D: unknown arch {arch!r}; choose one of '
                           f'{sorted(ARCH_SETTINGS)} or give a dict')
        settings = dict(ARCH_SETTINGS[name])
    elif isinstance(arch, dict):
        settings = dict(arch)
        if 'embed_dims' in settings:
            settings['embed_dim'] = settings.pop('embed_dims')
        unknown = set(settings) - {'embed_dim', 'depths', 'num_heads'}
        if unknown:
            raise KeyError(f'SwinTransformer3D: arch dict has unknown keys {sorted(unknown)}')
        settings = {**ARCH_SETTINGS['tiny'], **settings}
    else:
        raise TypeError(f'SwinTransformer3D: arch must be a str or dict, got {type(arch).__name__}')
    for key, value in (('embed_dim', embed_dim), ('depths', depths), ('num_heads', num_heads)):
        if value is not None:
            settings[key] = value
    depths_, heads_ = tuple(settings['depths']), tuple(settings['num_heads'])
    if len(depths_) != len(heads_):
        raise ValueError(f'SwinTransformer3D: depths {depths_} and num_heads {heads_} '
                         'must have one entry per stage')
    return int(settings['embed_dim']), depths_, heads_


class PatchEmbed3D(nn.Module):
    """Non-overlapping 3D patches -> tokens, returned channels-last (B, D, H, W, C).

    The clip is zero-padded at the end of T, H, W to multiples of the patch size,
    then one strided Conv3d projects each patch, then (optionally) a LayerNorm.
    """

    def __init__(self, patch_size: Triple = (2, 4, 4), in_chans: int = 3,
                 embed_dim: int = 96, patch_norm: bool = True) -> None:
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if patch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = [(-size) % p for size, p in zip(x.shape[2:], self.patch_size)]
        if any(pads):
            x = F.pad(x, (0, pads[2], 0, pads[1], 0, pads[0]))
        x = self.proj(x).permute(0, 2, 3, 4, 1)
        if self.norm is not None:
            x = self.norm(x)
        return x.contiguous()


class SwinMlp(nn.Module):
    """fc1 -> GELU -> dropout -> fc2 -> dropout (fc1 and GELU fused when no grad is needed)."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = Linear(dim, hidden)
        self.fc2 = Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if cpu_kernels.chunked_inference(self, x):
            return self._forward_chunked(x)
        hidden = linear_gelu(x, self.fc1.weight, self.fc1.bias)
        return self.drop(self.fc2(self.drop(hidden)))

    def _forward_chunked(self, x: torch.Tensor) -> torch.Tensor:
        """Inference a few tokens at a time: the 4C-wide hidden layer of one chunk stays
        in cache between fc1 and fc2 and never exists for all tokens at once."""
        rows = x.reshape(-1, x.shape[-1])
        out = torch.empty_like(rows)
        step = max(1, cpu_kernels.CHUNK_BYTES // (self.fc1.out_features * rows.element_size()))
        for start in range(0, rows.shape[0], step):
            hidden = linear_gelu(rows[start:start + step], self.fc1.weight, self.fc1.bias)
            out[start:start + step] = self.fc2(hidden)
        return out.view(x.shape)


class SwinTransformerBlock3D(nn.Module):
    """Pre-norm block: x + (S)W-MSA(norm1(x)), then x + MLP(norm2(x)); (B, D, H, W, C).

    Args:
        dim: channels C.
        num_heads: attention heads.
        window_size: nominal window (wd, wh, ww).
        shift_size: nominal shift, (0, 0, 0) for W-MSA blocks.
        mlp_ratio: MLP hidden width / C.
        qkv_bias, qk_scale, drop, attn_drop: see :class:`SwinTransformer3D`.
        drop_path: stochastic-depth rate of this block.
        use_checkpoint: recompute each half of the block in backward
            (non-reentrant ``torch.utils.checkpoint``) to save activation memory.
    """

    def __init__(self, dim: int, num_heads: int, window_size: Triple = (8, 7, 7),
                 shift_size: Triple = (0, 0, 0), mlp_ratio: float = 4., qkv_bias: bool = True,
                 qk_scale: Optional[float] = None, drop: float = 0., attn_drop: float = 0.,
                 drop_path: float = 0., use_checkpoint: bool = False) -> None:
        super().__init__()
        self.use_checkpoint = use_checkpoint
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftWindowAttention3D(dim, num_heads, window_size, shift_size,
                                           qkv_bias=qkv_bias, qk_scale=qk_scale,
                                           attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = SwinMlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward_part1(self, x: torch.Tensor) -> torch.Tensor:
        """Shifted-window attention branch (without the residual)."""
        return self.attn(self.norm1(x))

    def forward_part2(self, x: torch.Tensor) -> torch.Tensor:
        """MLP branch (without the residual)."""
        return self.mlp(self.norm2(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_checkpoint and torch.is_grad_enabled():
            x = x + self.drop_path(checkpoint(self.forward_part1, x, use_reentrant=False))
            return x + self.drop_path(checkpoint(self.forward_part2, x, use_reentrant=False))
        x = x + self.drop_path(self.forward_part1(x))
        return x + self.drop_path(self.forward_part2(x))


class PatchMerging(nn.Module):
    """Halve H and W, double C: concat each 2x2 neighbourhood -> LayerNorm(4C) -> Linear(2C).

    The four neighbours are concatenated in the official order (h even/w even,
    h odd/w even, h even/w odd, h odd/w odd); odd H or W is zero-padded first.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, depth, height, width, channels = x.shape
        if height % 2 or width % 2:
            x = F.pad(x, (0, 0, 0, width % 2, 0, height % 2))
            height, width = height + height % 2, width + width % 2
        x = x.view(batch, depth, height // 2, 2, width // 2, 2, channels)
        # (.., h-parity, .., w-parity, C) -> (.., w-parity, h-parity, C): the official order
        x = x.permute(0, 1, 2, 4, 5, 3, 6).reshape(batch, depth, height // 2, width // 2,
                                                   4 * channels)
        return self.reduction(self.norm(x))


class BasicLayer(nn.Module):
    """One stage: ``depth`` blocks alternating W-MSA / SW-MSA, then optional PatchMerging."""

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: Triple,
                 mlp_ratio: float, qkv_bias: bool, qk_scale: Optional[float], drop: float,
                 attn_drop: float, drop_path: Sequence[float], downsample: bool,
                 use_checkpoint: bool) -> None:
        super().__init__()
        shift = tuple(w // 2 for w in window_size)
        self.blocks = nn.ModuleList([
            SwinTransformerBlock3D(dim, num_heads, window_size,
                                   (0, 0, 0) if i % 2 == 0 else shift, mlp_ratio, qkv_bias,
                                   qk_scale, drop, attn_drop, drop_path[i], use_checkpoint)
            for i in range(depth)
        ])
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x: torch.Tensor,
                do_downsample: bool = True) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(B, D, H, W, C) -> (stage output, its PatchMerging or None).

        The stage output (before merging) is what ``out_indices`` taps; the merged map
        feeds the next stage and is skipped when ``do_downsample`` is False (last
        stage wanted) or the stage has no merging.
        """
        for block in self.blocks:
            x = block(x)
        merged = self.downsample(x) if do_downsample and self.downsample is not None else None
        return x, merged


@MODELS.register_module()
class SwinTransformer3D(BaseModule):
    """Video Swin Transformer backbone: (N, C_in, T, H, W) -> (N, 8C, T/2, H/32, W/32).

    Argument names are the official ones; defaults are the paper's settings
    (patch 2x4x4, window 8x7x7, patch norm on), where the official constructor's
    defaults differ and every published config overrides them.

    Args:
        arch: 'tiny' | 'small' | 'base' | 'large' (or t/s/b/l), or a dict with
            ``embed_dim``, ``depths``, ``num_heads``. Explicit ``embed_dim``,
            ``depths``, ``num_heads`` override it. Default: Swin-T sizes.
        pretrained: path of a checkpoint loaded by :meth:`init_weights`.
        pretrained2d: ``pretrained`` is a 2D ImageNet Swin to inflate (True) or
            a 3D video backbone (False).
        patch_size: (t, h, w) patch of the Conv3d embedding.
        in_chans: input channels.
        embed_dim: C, channels after the patch embedding (doubles every stage).
        depths: blocks per stage.
        num_heads: attention heads per stage.
        window_size: attention window (wd, wh, ww) in tokens.
        mlp_ratio: MLP hidden width / C.
        qkv_bias: learnable bias on q, k, v.
        qk_scale: attention logit scale; default head_dim ** -0.5.
        drop_rate: dropout after the patch embedding, in MLPs and after attention.
        attn_drop_rate: dropout on attention probabilities.
        drop_path_rate: stochastic depth, rising linearly over all blocks from 0.
        patch_norm: LayerNorm after the patch embedding.
        frozen_stages: -1 trains everything; 0 freezes the patch embedding; k >= 1
            also freezes stages 0..k-1 (eval mode, no gradients).
        use_checkpoint: activation checkpointing per block half (saves memory).
        out_indices: stages whose outputs are returned (N, C_i, T', H_i, W_i). The
            last stage's output goes through ``norm``; earlier ones are returned
            as they leave their blocks (before PatchMerging), so the state dict
            stays the official one. One index -> a tensor, several -> a tuple.
        init_cfg: mmengine's; type 'Pretrained' is read like ``pretrained``.
        load_what_fits: load from ``pretrained`` (and from the backbone part of
            ``load_from``) only the tensors that fit, reporting what was skipped, as
            for an ablation with other depths; by default a checkpoint that does not
            fit is an error.
    """

    def __init__(self, arch: Union[None, str, Dict] = None, pretrained: Optional[str] = None,
                 pretrained2d: bool = True, patch_size: Sequence[int] = (2, 4, 4),
                 in_chans: int = 3, embed_dim: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 window_size: Sequence[int] = (8, 7, 7), mlp_ratio: float = 4.,
                 qkv_bias: bool = True, qk_scale: Optional[float] = None,
                 drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1, patch_norm: bool = True,
                 frozen_stages: int = -1, use_checkpoint: bool = False,
                 out_indices: Optional[Sequence[int]] = None,
                 init_cfg: Optional[Dict] = None, load_what_fits: bool = False) -> None:
        super().__init__(init_cfg=init_cfg)
        embed_dim, depths, num_heads = resolve_arch(arch, embed_dim, depths, num_heads)
        self.embed_dim, self.depths, self.num_heads = embed_dim, depths, num_heads
        self.num_layers = len(depths)
        self.pretrained = pretrained
        self.pretrained2d = pretrained2d
        self.load_what_fits = load_what_fits
        self.patch_size = tuple(patch_size)
        self.frozen_stages = frozen_stages
        self.out_indices = (self.num_layers - 1, ) if out_indices is None else tuple(out_indices)
        if not self.out_indices or not all(0 <= i < self.num_layers for i in self.out_indices):
            raise ValueError(f'SwinTransformer3D: out_indices {self.out_indices} must name '
                             f'stages in 0..{self.num_layers - 1}')

        self.patch_embed = PatchEmbed3D(self.patch_size, in_chans, embed_dim, patch_norm)
        self.pos_drop = nn.Dropout(p=drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths), device='cpu').tolist()
        self.layers = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
            start = sum(depths[:i])
            self.layers.append(
                BasicLayer(embed_dim * 2**i, depth, heads, tuple(window_size), mlp_ratio,
                           qkv_bias, qk_scale, drop_rate, attn_drop_rate,
                           rates[start:start + depth],
                           downsample=i < self.num_layers - 1, use_checkpoint=use_checkpoint))
        self.num_features = embed_dim * 2**(self.num_layers - 1)
        self.norm = nn.LayerNorm(self.num_features)
        self._official_init()
        self._freeze_stages()

    @property
    def window_size(self) -> Triple:
        """The nominal attention window; its one copy lives in every attention module."""
        return self.layers[0].blocks[0].attn.window_size

    def _official_init(self) -> None:
        """Linear: truncated normal (std .02), bias 0; LayerNorm: weight 1, bias 0."""
        init_linear_and_norm(self)
        for module in self.modules():
            if isinstance(module, ShiftWindowAttention3D):
                nn.init.trunc_normal_(module.relative_position_bias_table, std=.02)

    def init_weights(self) -> None:
        """Official init, then load ``pretrained`` or an ``init_cfg`` of type Pretrained
        (inflating a 2D model) when one is set."""
        self._official_init()
        source = pretrained_source(self.pretrained, self.init_cfg, type(self).__name__)
        if isinstance(source, str):
            load_pretrained(self, source, pretrained2d=self.pretrained2d,
                            strict=not self.load_what_fits)
        elif source is not None:
            raise TypeError('SwinTransformer3D: pretrained must be a path or None, got '
                            f'{type(source).__name__}')
        self._is_init = True

    def _freeze_stages(self) -> None:
        frozen: List[nn.Module] = []
        if self.frozen_stages >= 0:
            frozen.append(self.patch_embed)
        if self.frozen_stages >= 1:
            frozen.append(self.pos_drop)
            frozen.extend(self.layers[:self.frozen_stages])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'SwinTransformer3D':
        """Switch mode but keep frozen stages in eval mode."""
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """(N, C_in, T, H, W) -> (N, 8C, T/2, H/32, W/32), or a tuple for several out_indices."""
        x = self.pos_drop(self.patch_embed(x))
        last = max(self.out_indices)
        outs = []
        for i, layer in enumerate(self.layers[:last + 1]):
            out, x = layer(x, do_downsample=i < last)
            if i in self.out_indices:
                out = self.norm(out) if i == self.num_layers - 1 else out
                outs.append(out.permute(0, 4, 1, 2, 3).contiguous())
        return outs[0] if len(outs) == 1 else tuple(outs)


# load_from / tools/test.py: recognizers with this backbone read every Swin layout.
register_layout_reader(LayoutReader(SwinTransformer3D, detect_swin, is_rebuilt_buffer))
