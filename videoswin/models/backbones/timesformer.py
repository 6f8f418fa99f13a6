"""TimeSformer (Bertasius et al., ICML 2021): a ViT over the patches of every frame.

Three attention schemes from the paper:

* ``divided_space_time`` (T+S, the paper's default): per block, temporal attention among
  the patches at the same position, then spatial attention within each frame, then MLP;
* ``joint_space_time`` (ST): one attention over all 1 + T*h*w tokens (= ViViT model 1
  with 1-frame tubelets);
* ``space_only`` (S): a plain ViT per frame; features are averaged over frames at the end.

Parameter names are those of the official code, so an official ``.pyth`` checkpoint loads
after stripping its ``model.`` prefix; :func:`timesformer_state_dict` converts those and
HF transformers ``Timesformer*`` weights. The backbone returns the normalised class token
as an (N, C, 1, 1, 1) map, so any 3-D pooling head classifies it.
"""
import math
from typing import Dict, Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from videoswin.checkpoint import (CheckpointInfo, LoadSummary, load_backbone_weights,
                                  read_state_dict)
from videoswin.checkpoint.load import pretrained_source
from videoswin.models.layers.weight_init import init_linear_and_norm
from videoswin.models.layers.vit_layers import (Mlp, PatchEmbed, SelfAttention,
                                                TransformerBlock, drop_path_layer,
                                                drop_path_rates)
from videoswin.registry import MODELS
from .vit_image_weights import (StateDict, conv_patch_filter, head_weights, hf_to_timm,
                                resize_1d_table, resize_grid_table, strip_first_prefix)

ATTENTION_TYPES = ('divided_space_time', 'joint_space_time', 'space_only')


class DividedSpaceTimeBlock(nn.Module):
    """Temporal attention, then spatial attention, then MLP (the T+S block).

    The temporal branch ends in ``temporal_fc``, zero-initialised so that the block starts
    as the image ViT block. The class token takes no part in temporal attention; in
    spatial attention each frame sees its own copy, and the copies' updates are averaged.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop_path: float = 0., norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.temporal_norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.temporal_attn = SelfAttention(dim, num_heads, qkv_bias)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = SelfAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = drop_path_layer(drop_path)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B, 1 + S*T, C) tokens, patches ordered (space, time) -> same shape."""
        cls, patches = x[:, :1], x[:, 1:]
        b, length, c = patches.shape
        t = num_frames
        s = length // t
        # temporal: the T tokens of one spatial position form a sequence
        xt = patches.reshape(b * s, t, c)
        res = self.drop_path(self.temporal_attn(self.temporal_norm1(xt)))
        patches = patches + self.temporal_fc(res.reshape(b, length, c))
        # spatial: the S tokens of one frame, plus a copy of the class token
        xs = patches.reshape(b, s, t, c).transpose(1, 2).reshape(b * t, s, c)
        xs = torch.cat([cls.expand(b, t, c).reshape(b * t, 1, c), xs], dim=1)
        res = self.drop_path(self.attn(self.norm1(xs)))
        res_cls = res[:, :1].reshape(b, t, c).mean(dim=1, keepdim=True)
        res_patches = res[:, 1:].reshape(b, t, s, c).transpose(1, 2).reshape(b, length, c)
        x = torch.cat([cls + res_cls, patches + res_patches], dim=1)
        return x + self.drop_path(self.mlp(self.norm2(x)))


@MODELS.register_module()
class TimeSformer(BaseModule):
    """TimeSformer backbone; defaults are the paper's base model (ViT-B/16, 8 x 224).

    Args:
        num_frames: frames T the time embedding is sized for (other T are resampled).
        img_size: crop size the position table is sized for (others are resampled).
        patch_size: square patch side.
        in_channels: input channels.
        embed_dims: token channels C.
        num_layers: blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / C.
        qkv_bias: bias on q/k/v projections.
        attention_type: one of :data:`ATTENTION_TYPES`.
        drop_path_rate: stochastic depth of the last block (linear from 0).
        norm_eps: LayerNorm epsilon.
        pretrained: ViT image checkpoint (timm state dict, HF ``ViTModel`` directory or
            file) or TimeSformer video checkpoint (official ``.pyth``, HF, ours) loaded by
            :meth:`init_weights`; see :func:`load_timesformer_pretrained`.
        init_cfg: mmengine init config; only type 'Pretrained' is used, read like
            ``pretrained``.

    Input (N, C, T, H, W); output the normalised class token as (N, C, 1, 1, 1).
    """

    def __init__(self, num_frames: int = 8, img_size: int = 224, patch_size: int = 16,
                 in_channels: int = 3, embed_dims: int = 768, num_layers: int = 12,
                 num_heads: int = 12, mlp_ratio: float = 4., qkv_bias: bool = True,
                 attention_type: str = 'divided_space_time', drop_path_rate: float = 0.1,
                 norm_eps: float = 1e-6, pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(f'attention_type {attention_type!r} is not one of {ATTENTION_TYPES}')
        if img_size % patch_size:
            raise ValueError(f'img_size {img_size} is not a multiple of patch_size {patch_size}')
        self.attention_type = attention_type
        self.num_frames = num_frames
        self.patch_size = patch_size
        self.embed_dims = embed_dims
        self.pretrained = pretrained
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(in_channels, embed_dims, (patch_size, patch_size))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, embed_dims))
        if attention_type != 'space_only':
            self.time_embed = nn.Parameter(torch.zeros(1, num_frames, embed_dims))
        rates = drop_path_rates(drop_path_rate, num_layers)
        if attention_type == 'divided_space_time':
            blocks = [DividedSpaceTimeBlock(embed_dims, num_heads, mlp_ratio, qkv_bias, r,
                                            norm_eps) for r in rates]
        else:
            blocks = [TransformerBlock(embed_dims, num_heads, mlp_ratio, qkv_bias, r, norm_eps)
                      for r in rates]
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random init of the official code: trunc-normal tables, zero temporal_fc."""
        init_linear_and_norm(self)
        nn.init.trunc_normal_(self.pos_embed, std=.02)
        nn.init.trunc_normal_(self.cls_token, std=.02)
        if self.attention_type != 'space_only':
            nn.init.zeros_(self.time_embed)
        if self.attention_type == 'divided_space_time':
            for block in self.blocks:
                nn.init.zeros_(block.temporal_fc.weight)
                nn.init.zeros_(block.temporal_fc.bias)

    def init_weights(self) -> None:
        """Load ``pretrained`` if set (random init already happened in the constructor)."""
        source = pretrained_source(self.pretrained, self.init_cfg, type(self).__name__)
        if source:
            load_timesformer_pretrained(self, source)

    def position_table(self, grid_hw: Tuple[int, int]) -> torch.Tensor:
        """(1, 1 + h*w, C) table; other grids are resampled (2-D nearest, as the official code)."""
        if self.pos_embed.shape[1] - 1 == grid_hw[0] * grid_hw[1]:
            return self.pos_embed
        patches = resize_grid_table(self.pos_embed[:, 1:], grid_hw, mode='nearest')
        return torch.cat([self.pos_embed[:, :1], patches], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> (N, C', 1, 1, 1) normalised class token."""
        b, _, t, _, _ = x.shape
        patches = self.patch_embed(x.transpose(1, 2).flatten(0, 1))   # (B*T, C', h, w)
        table = self.position_table(patches.shape[-2:])
        patches = patches.flatten(2).transpose(1, 2) + table[:, 1:]   # (B*T, S, C')
        cls = self.cls_token + table[:, :1]
        c = patches.shape[-1]
        if self.attention_type == 'space_only':
            tokens = torch.cat([cls.expand(patches.shape[0], -1, -1), patches], dim=1)
            for block in self.blocks:
                tokens = block(tokens)
            tokens = tokens.reshape(b, t, -1, c).mean(dim=1)          # average the frames
            return self.norm(tokens[:, 0]).reshape(b, c, 1, 1, 1)
        patches = patches.reshape(b, t, -1, c).transpose(1, 2)        # (B, S, T, C')
        patches = patches + resize_1d_table(self.time_embed, t)[:, None]
        tokens = torch.cat([cls.expand(b, -1, -1), patches.flatten(1, 2)], dim=1)
        for block in self.blocks:
            if self.attention_type == 'divided_space_time':
                tokens = block(tokens, t)
            else:
                tokens = block(tokens)
        return self.norm(tokens[:, 0]).reshape(b, c, 1, 1, 1)


# --------------------------------------------------------------------------------------
# Checkpoint adaptation: official / HF / ViT weights -> this module's layout.

def timesformer_state_dict(state_dict: StateDict) -> Tuple[StateDict, StateDict]:
    """Any TimeSformer checkpoint -> (backbone state dict, head ``{'weight','bias'}``).

    Accepts the official layout (``model.`` prefix, ``head``), HF transformers
    ``TimesformerModel`` / ``TimesformerForVideoClassification`` (``timesformer.``,
    ``classifier``) and ours (``backbone.``, ``cls_head.fc_cls``). The head dict is empty
    when the checkpoint has none.
    """
    state_dict = strip_first_prefix(state_dict, ('module.',))
    head = head_weights(state_dict, ('model.head.', 'head.', 'classifier.', 'cls_head.fc_cls.'))
    state_dict = strip_first_prefix(state_dict, ('model.', 'backbone.', 'timesformer.', 'vit.'))
    if any(k.startswith('embeddings.') for k in state_dict):
        backbone = hf_to_timm(state_dict)
    else:
        kept = ('patch_embed.', 'cls_token', 'pos_embed', 'time_embed', 'blocks.', 'norm.')
        backbone = {k: v for k, v in state_dict.items() if k.startswith(kept)}
    return conv_patch_filter(backbone), head


def infer_timesformer_args(backbone: StateDict) -> Dict[str, object]:
    """Constructor arguments that fit a converted state dict (for the convert tool)."""
    embed_dims, _, patch, _ = backbone['patch_embed.proj.weight'].shape
    grid = int(round(math.sqrt(backbone['pos_embed'].shape[1] - 1)))
    layers = {int(k.split('.')[1]) for k in backbone if k.startswith('blocks.')}
    if any('temporal_fc' in k for k in backbone):
        attention_type = 'divided_space_time'
    elif 'time_embed' in backbone:
        attention_type = 'joint_space_time'
    else:
        attention_type = 'space_only'
    args = dict(attention_type=attention_type, img_size=grid * patch, patch_size=patch,
                embed_dims=embed_dims, num_layers=len(layers),
                num_heads=max(1, embed_dims // 64))
    if 'time_embed' in backbone:
        args['num_frames'] = backbone['time_embed'].shape[1]
    return args


def timesformer_weights_from_vit(vit: StateDict, attention_type: str) -> Tuple[StateDict, list]:
    """Image ViT (timm layout) -> TimeSformer: divided blocks start their temporal
    attention and its LayerNorm as copies of the spatial ones (official init); the
    time embedding and ``temporal_fc`` keep their zero init. Returns (weights, adapted keys)."""
    out = dict(vit)
    adapted = []
    if attention_type == 'divided_space_time':
        for key, value in vit.items():
            if key.startswith('blocks.') and ('.attn.' in key or '.norm1.' in key):
                new = key.replace('.attn.', '.temporal_attn.')
                new = new.replace('.norm1.', '.temporal_norm1.')
                out[new] = value.clone()
                adapted.append(new)
    return out, adapted


def load_timesformer_pretrained(model: TimeSformer, path: str) -> LoadSummary:
    """Initialise ``model`` from an image ViT or a video TimeSformer checkpoint.

    Position tables of another grid are resampled on their 2-D grid (bilinear; the
    official loader interpolates the flattened sequence, which mixes rows), time
    embeddings of another length by 1-D nearest (as the official loader). Heads are
    never loaded into the backbone. The summary line is logged and returned.
    """
    weights, _ = timesformer_state_dict(read_state_dict(path)[0])
    is_video = 'time_embed' in weights or any('.temporal_' in k for k in weights)
    adapted = []
    if not is_video:
        weights, adapted = timesformer_weights_from_vit(weights, model.attention_type)
    own = model.state_dict()
    if 'pos_embed' in weights and weights['pos_embed'].shape != own['pos_embed'].shape:
        side = int(round(math.sqrt(own['pos_embed'].shape[1] - 1)))
        table = weights['pos_embed']
        weights['pos_embed'] = torch.cat(
            [table[:, :1], resize_grid_table(table[:, 1:], (side, side))], dim=1)
        adapted.append('pos_embed')
    if 'time_embed' in weights:
        if 'time_embed' not in own:
            weights.pop('time_embed')
        elif weights['time_embed'].shape != own['time_embed'].shape:
            weights['time_embed'] = resize_1d_table(weights['time_embed'],
                                                    own['time_embed'].shape[1])
            adapted.append('time_embed')
    kind = 'video TimeSformer' if is_video else 'image ViT'
    info = CheckpointInfo(path, 3 if is_video else 2, 'timm', 'backbone', label=kind)
    return load_backbone_weights(model, weights, info, adapted)
