"""ViViT (Arnab et al., ICCV 2021): ViT on tubelet tokens, in the paper's four variants.

Tubelets of t x h x w pixels (one strided 3-D conv) become tokens ordered (time, row,
column). The variants differ in how those tokens attend:

1. ``spatio_temporal``: a class token plus all tokens through one ViT encoder.
2. ``factorised_encoder`` (FE): a spatial ViT runs on the tokens of each temporal index
   (own class token), then a temporal ViT runs on the per-frame class tokens (own class
   token); that class token is the output.
3. ``factorised_self_attention``: each block attends over space (same temporal index),
   then over time (same position), then MLP. No class token: the head pools.
4. ``factorised_dot_product``: Model 1's block, but half of the heads attend over time
   and half over space. No class token.

Models 1 and 2 return their normalised class token as (N, C, 1, 1, 1); Models 3 and 4
return all normalised tokens as (N, C, t, h, w), which a pooling head averages (the
paper's "gap" classifier). Keys: ``patch_embed.proj``, ``encoder.{cls_token, pos_embed,
blocks.i.*, norm}`` (FE: ``spatial_encoder.*``, ``temporal_encoder.*``).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from videoswin.checkpoint import (CheckpointInfo, CheckpointKindError, LoadSummary,
                                  load_backbone_weights, read_state_dict)
from videoswin.checkpoint.load import pretrained_source
from videoswin.models.layers.vit_layers import (Mlp, PatchEmbed, SelfAttention,
                                                TransformerBlock, drop_path_layer,
                                                drop_path_rates, merge_heads)
from videoswin.registry import MODELS
from .vit_image_weights import (StateDict, head_weights, hf_to_timm, resize_grid_table,
                                strip_first_prefix, vit_state_dict)

VARIANTS = ('spatio_temporal', 'factorised_encoder', 'factorised_self_attention',
            'factorised_dot_product')
#: ViT sizes of the paper (Sec. 4.1): channels, layers, heads; MLP width is 4x channels.
ARCHS = {
    'base': dict(embed_dims=768, num_layers=12, num_heads=12),
    'large': dict(embed_dims=1024, num_layers=24, num_heads=16),
    'huge': dict(embed_dims=1280, num_layers=32, num_heads=16),
}
TUBELET_INITS = ('central_frame', 'inflate')


class FactorisedDotProductAttention(SelfAttention):
    """Model 4's attention: the first half of the heads attends along time (tokens at the
    same spatial position), the second half along space (tokens of the same temporal
    index); their outputs are concatenated and projected as usual (Model 1's parameters)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        if num_heads % 2:
            raise ValueError(f'factorised dot-product attention needs an even head count, '
                             f'got {num_heads}')
        super().__init__(dim, num_heads, qkv_bias)

    def forward(self, x: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """(B, t*s, C) tokens ordered (time, space), ``grid`` = (t, s) -> (B, t*s, C)."""
        t, s = grid
        q, k, v = self.project_qkv(x)                         # (B, heads, t*s, hd)
        b, heads, _, hd = q.shape
        half = heads // 2
        dropout = self.attn_drop if self.training else 0.

        def along_time(z):   # (B, half, t*s, hd) -> (B, half, s, t, hd)
            return z.reshape(b, half, t, s, hd).transpose(2, 3)

        def along_space(z):  # (B, half, t*s, hd) -> (B, half, t, s, hd)
            return z.reshape(b, half, t, s, hd)

        time_out = F.scaled_dot_product_attention(
            along_time(q[:, :half]), along_time(k[:, :half]), along_time(v[:, :half]),
            dropout_p=dropout).transpose(2, 3).reshape(b, half, t * s, hd)
        space_out = F.scaled_dot_product_attention(
            along_space(q[:, half:]), along_space(k[:, half:]), along_space(v[:, half:]),
            dropout_p=dropout).reshape(b, half, t * s, hd)
        out = merge_heads(torch.cat([time_out, space_out], dim=1))
        return self.proj_drop(self.proj(out))


class FactorisedSelfAttentionBlock(nn.Module):
    """Model 3's block: spatial MSA, then temporal MSA, then MLP, each pre-norm residual.

    The spatial half is named like a ViT block (``norm1``, ``attn``) so image weights load
    directly; ``temporal_norm`` / ``temporal_attn`` are the extra parameters.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop_path: float = 0., norm_eps: float = 1e-6, act: str = 'gelu_tanh') -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = SelfAttention(dim, num_heads, qkv_bias)
        self.temporal_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.temporal_attn = SelfAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act)
        self.drop_path = drop_path_layer(drop_path)

    def forward(self, x: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """(B, t*s, C) tokens ordered (time, space) -> same shape."""
        b, n, c = x.shape
        t, s = grid
        xs = x.reshape(b * t, s, c)
        xs = xs + self.drop_path(self.attn(self.norm1(xs)))
        xt = xs.reshape(b, t, s, c).transpose(1, 2).reshape(b * s, t, c)
        xt = xt + self.drop_path(self.temporal_attn(self.temporal_norm(xt)))
        x = xt.reshape(b, s, t, c).transpose(1, 2).reshape(b, n, c)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TokenEncoder(nn.Module):
    """Learned 1-D position table (+ optional class token), blocks, final LayerNorm.

    Args:
        num_tokens: sequence length the table covers (class token excluded).
        blocks: the encoder blocks; each is called as ``block(x, **block_kwargs)``.
        dim: channels.
        with_cls: prepend a learned class token (its table slot comes first).
        norm_eps: epsilon of the final LayerNorm.
    """

    def __init__(self, num_tokens: int, blocks: Sequence[nn.Module], dim: int, with_cls: bool,
                 norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if with_cls else None
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens + int(with_cls), dim))
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(dim, eps=norm_eps)

    def forward(self, x: torch.Tensor, **block_kwargs) -> torch.Tensor:
        """(B, N, C) -> (B, [1 +] N, C) normalised tokens."""
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        if x.shape[1] != self.pos_embed.shape[1]:
            raise ValueError(f'{x.shape[1]} tokens but the position table has '
                             f'{self.pos_embed.shape[1]}: num_frames / img_size in the '
                             'backbone config must match the input clip')
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x, **block_kwargs)
        return self.norm(x)


def encoder_blocks(variant: str, count: int, dim: int, num_heads: int, mlp_ratio: float,
                   qkv_bias: bool, drop_path_rate: float, norm_eps: float,
                   act: str) -> List[nn.Module]:
    """``count`` blocks of the variant's kind (plain ViT blocks for Models 1 and 2), with
    stochastic depth rising linearly to ``drop_path_rate``."""
    blocks: List[nn.Module] = []
    for rate in drop_path_rates(drop_path_rate, count):
        if variant == 'factorised_self_attention':
            blocks.append(FactorisedSelfAttentionBlock(dim, num_heads, mlp_ratio, qkv_bias, rate,
                                                       norm_eps, act))
            continue
        attn = FactorisedDotProductAttention(dim, num_heads, qkv_bias) \
            if variant == 'factorised_dot_product' else None
        blocks.append(TransformerBlock(dim, num_heads, mlp_ratio, qkv_bias, rate, norm_eps, act,
                                       attn))
    return blocks


@MODELS.register_module()
class ViViT(BaseModule):
    """ViViT backbone; defaults are ViViT-B/16x2 Model 1 on 32 x 224 clips.

    Args:
        variant: one of :data:`VARIANTS`.
        arch: 'base', 'large', 'huge' or a dict with embed_dims, num_layers, num_heads.
        num_frames: input frames T (the position tables are sized for T / t tubelets).
        img_size: input crop size.
        tubelet_size: (t, h, w) of a tubelet; ViViT-B/16x2 is (2, 16, 16).
        in_channels: input channels.
        mlp_ratio: MLP width / channels.
        temporal_num_layers: layers of FE's temporal encoder (paper: 4).
        qkv_bias: bias on the q/k/v projections.
        drop_path_rate: stochastic depth of the last block (linear from 0 per encoder).
        norm_eps: LayerNorm epsilon (Flax's 1e-6).
        act: MLP activation; 'gelu_tanh' is Flax's ``nn.gelu`` used by the released models.
        pretrained: image ViT checkpoint (timm state dict, HF ``ViTModel`` directory or
            file) or HF ``Vivit*`` / our ViViT checkpoint; see :func:`load_vivit_pretrained`.
        tubelet_init: how a 2-D patch filter initialises the tubelet filter:
            'central_frame' (paper's best) or 'inflate' (repeat over t, divide by t).
        init_cfg: mmengine init config; only type 'Pretrained' is used, read like
            ``pretrained``.
    """

    def __init__(self, variant: str = 'spatio_temporal', arch: Union[str, dict] = 'base',
                 num_frames: int = 32, img_size: int = 224,
                 tubelet_size: Sequence[int] = (2, 16, 16), in_channels: int = 3,
                 mlp_ratio: float = 4., temporal_num_layers: int = 4, qkv_bias: bool = True,
                 drop_path_rate: float = 0., norm_eps: float = 1e-6, act: str = 'gelu_tanh',
                 pretrained: Optional[str] = None, tubelet_init: str = 'central_frame',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if variant not in VARIANTS:
            raise ValueError(f'variant {variant!r} is not one of {VARIANTS}')
        if tubelet_init not in TUBELET_INITS:
            raise ValueError(f'tubelet_init {tubelet_init!r} is not one of {TUBELET_INITS}')
        arch = dict(ARCHS[arch]) if isinstance(arch, str) else dict(arch)
        dim, depth, heads = arch['embed_dims'], arch['num_layers'], arch['num_heads']
        tt, th, tw = tubelet_size
        if num_frames % tt or img_size % th or img_size % tw:
            raise ValueError(f'input {num_frames}x{img_size}x{img_size} is not a multiple of '
                             f'the tubelet {tuple(tubelet_size)}')
        self.variant = variant
        self.embed_dims = dim
        self.pretrained = pretrained
        self.tubelet_init = tubelet_init
        self.grid = (num_frames // tt, img_size // th, img_size // tw)
        t, h, w = self.grid
        self.patch_embed = PatchEmbed(in_channels, dim, tubelet_size)

        layer = dict(dim=dim, num_heads=heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                     drop_path_rate=drop_path_rate, norm_eps=norm_eps, act=act)
        if variant == 'factorised_encoder':
            self.spatial_encoder = TokenEncoder(
                h * w, encoder_blocks('spatio_temporal', depth, **layer), dim, True, norm_eps)
            self.temporal_encoder = TokenEncoder(
                t, encoder_blocks('spatio_temporal', temporal_num_layers, **layer), dim, True,
                norm_eps)
        else:
            self.encoder = TokenEncoder(t * h * w, encoder_blocks(variant, depth, **layer), dim,
                                        variant == 'spatio_temporal', norm_eps)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """scenic's random init: Xavier-uniform dense kernels, N(0, 1e-6) MLP biases,
        N(0, 0.02) position tables, zero class tokens, LayerNorm (1, 0)."""
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    if '.mlp.' in name:
                        nn.init.normal_(m.bias, std=1e-6)
                    else:
                        nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, TokenEncoder):
                nn.init.normal_(m.pos_embed, std=.02)
                if m.cls_token is not None:
                    nn.init.zeros_(m.cls_token)

    def init_weights(self) -> None:
        """Load ``pretrained`` if set (random init already happened in the constructor)."""
        source = pretrained_source(self.pretrained, self.init_cfg, type(self).__name__)
        if source:
            load_vivit_pretrained(self, source)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> (N, C', 1, 1, 1) for Models 1-2, (N, C', t, h, w) for 3-4."""
        tokens = self.patch_embed(x)                               # (B, C', t, h, w)
        b, c, t, h, w = tokens.shape
        tokens = tokens.flatten(2).transpose(1, 2)                 # (B, t*h*w, C'), time-major
        if self.variant == 'factorised_encoder':
            frames = self.spatial_encoder(tokens.reshape(b * t, h * w, c))[:, 0]
            out = self.temporal_encoder(frames.reshape(b, t, c))[:, 0]
            return out.reshape(b, c, 1, 1, 1)
        if self.variant == 'spatio_temporal':
            return self.encoder(tokens)[:, 0].reshape(b, c, 1, 1, 1)
        out = self.encoder(tokens, grid=(t, h * w))
        return out.transpose(1, 2).reshape(b, c, t, h, w)


# --------------------------------------------------------------------------------------
# Checkpoint adaptation: HF ViViT / image ViT weights -> this module's layout.

def vivit_state_dict(state_dict: StateDict) -> Tuple[StateDict, StateDict]:
    """HF ``VivitModel`` / ``VivitForVideoClassification`` (4.x or 5.x names) or our own
    checkpoint -> (Model-1 backbone state dict, head ``{'weight', 'bias'}``)."""
    head = head_weights(state_dict, ('classifier.', 'cls_head.fc_cls.'))
    state_dict = strip_first_prefix(state_dict, ('module.', 'backbone.', 'vivit.'))
    if not any(k.startswith('embeddings.') for k in state_dict):
        kept = ('patch_embed.', 'encoder.', 'spatial_encoder.', 'temporal_encoder.')
        return {k: v for k, v in state_dict.items() if k.startswith(kept)}, head
    # the tubelet embedding is ours at the top level; the rest lives in the encoder
    backbone = {(key if key.startswith('patch_embed.') else f'encoder.{key}'): value
                for key, value in hf_to_timm(state_dict).items()}
    return backbone, head


def tubelet_filter_from_image(weight: torch.Tensor, frames: int, method: str) -> torch.Tensor:
    """(C', C, h, w) patch filter -> (C', C, t, h, w) tubelet filter.

    'central_frame': the filter sits at temporal index t // 2, zeros elsewhere, so a tubelet
    embeds its central frame like the image model; 'inflate': repeated over t and divided
    by t, so a static tubelet embeds like the image model.
    """
    if method == 'inflate':
        return weight.unsqueeze(2).repeat(1, 1, frames, 1, 1) / frames
    out = weight.new_zeros(weight.shape[:2] + (frames,) + weight.shape[2:])
    out[:, :, frames // 2] = weight
    return out


def vivit_weights_from_vit(vit: StateDict, model: ViViT) -> Tuple[StateDict, list]:
    """Image ViT (timm layout) -> ViViT, as the paper initialises each model.

    The patch filter becomes a tubelet filter (:func:`tubelet_filter_from_image`); the
    spatial position table is resampled to the tubelet grid if needed (2-D bilinear) and,
    for Models 1, 3 and 4, tiled over the t temporal indices. Models 1 and 4 take every
    block as is; Model 3 takes the ViT attention as its spatial attention and starts
    its temporal attention at zero (a residual identity); FE's spatial encoder is the ViT,
    its temporal encoder keeps its random init. Returns (weights, adapted keys).
    """
    t, h, w = model.grid
    own = model.state_dict()
    out: StateDict = {}
    adapted = ['patch_embed.proj.weight']
    filt = own['patch_embed.proj.weight']
    out['patch_embed.proj.weight'] = tubelet_filter_from_image(
        vit['patch_embed.proj.weight'], filt.shape[2], model.tubelet_init)
    out['patch_embed.proj.bias'] = vit['patch_embed.proj.bias']
    spatial = resize_grid_table(vit['pos_embed'][:, 1:], (h, w))
    prefix = 'spatial_encoder.' if model.variant == 'factorised_encoder' else 'encoder.'
    if model.variant == 'factorised_encoder':
        out[prefix + 'pos_embed'] = torch.cat([vit['pos_embed'][:, :1], spatial], dim=1)
    else:
        table = spatial.repeat(1, t, 1)
        if model.variant == 'spatio_temporal':
            table = torch.cat([vit['pos_embed'][:, :1], table], dim=1)
        out[prefix + 'pos_embed'] = table
    adapted.append(prefix + 'pos_embed')
    if prefix + 'cls_token' in own:
        out[prefix + 'cls_token'] = vit['cls_token']
    for key, value in vit.items():
        if key.startswith(('blocks.', 'norm.')):
            out[prefix + key] = value
    if model.variant == 'factorised_self_attention':
        for key, value in own.items():
            if '.temporal_attn.' in key:
                out[key] = torch.zeros_like(value)
                adapted.append(key)
    return out, adapted


def load_vivit_pretrained(model: ViViT, path: str) -> LoadSummary:
    """Initialise ``model`` from an image ViT or a ViViT video checkpoint; the summary line
    is logged and returned."""
    raw, _ = read_state_dict(path)
    weights, _ = vivit_state_dict(raw)
    adapted = []
    is_video = weights and weights.get('patch_embed.proj.weight', torch.empty(0)).dim() == 5
    if not is_video:
        vit = vit_state_dict(raw)
        if 'patch_embed.proj.weight' not in vit:
            raise CheckpointKindError(f'{path} holds neither ViT nor ViViT weights')
        weights, adapted = vivit_weights_from_vit(vit, model)
    kind = 'video ViViT' if is_video else 'image ViT'
    info = CheckpointInfo(path, 3 if is_video else 2, 'timm', 'backbone',
                          label=f'{kind}, for ViViT {model.variant}')
    return load_backbone_weights(model, weights, info, adapted)


def infer_vivit_args(backbone: StateDict) -> Dict[str, object]:
    """Constructor arguments that fit a converted Model-1 state dict (for the convert tool)."""
    dim, _, tt, th, tw = backbone['patch_embed.proj.weight'].shape
    layers = {int(k.split('.')[2]) for k in backbone if k.startswith('encoder.blocks.')}
    return dict(variant='spatio_temporal',
                arch=dict(embed_dims=dim, num_layers=len(layers), num_heads=max(1, dim // 64)),
                tubelet_size=(tt, th, tw))
