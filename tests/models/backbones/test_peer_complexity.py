"""Published sizes and costs of the peer models, and the attention patterns they claim.

Parameters are counted on built models; multiply-accumulates (the papers' "GFLOPs",
fvcore convention: matmuls and convolutions) are counted by running each model once on
the meta device under torch's FlopCounterMode, which sees every matmul, including those
inside scaled-dot-product attention, without computing anything.

ViViT's Table 2 counts also include element-wise work (softmax, LayerNorm, GELU), which
fvcore's convention leaves out: our counts sit 0.3-0.8 % below the table, never above
(docs/peers.md). DualFormer's and TimeSformer's published figures are matmul/conv counts
and match to their printed precision.
"""
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from videoswin.models.backbones.dualformer import (DualFormer, GlobalPyramidAttention,
                                                   LocalWindowAttention)
from videoswin.models.backbones.timesformer import TimeSformer
from videoswin.models.backbones.vivit import (FactorisedDotProductAttention,
                                              FactorisedSelfAttentionBlock, ViViT)

K400_CLASSES = 400


def on_meta(build):
    with torch.device('meta'):
        return build()


def params_m(model: torch.nn.Module, head_in: int = 0) -> float:
    """Millions of parameters, plus a ``head_in`` x 400 linear classifier when asked."""
    count = sum(p.numel() for p in model.parameters())
    if head_in:
        count += head_in * K400_CLASSES + K400_CLASSES
    return count / 1e6


def gmacs(model: torch.nn.Module, shape) -> float:
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(shape, device='meta'))
    return counter.get_total_flops() / 2e9


# ViViT paper Table 2 (ViViT-B, 16x2 tubelets, 32 x 224, K400 head): GFLOPs, params (M)
VIVIT_TABLE2 = {
    'spatio_temporal': (455.2, 88.9),
    'factorised_encoder': (284.4, 115.1),
    'factorised_self_attention': (372.3, 117.3),
    'factorised_dot_product': (277.1, 88.9),
}


@pytest.mark.parametrize('variant', sorted(VIVIT_TABLE2))
def test_vivit_base_matches_table_2(variant):
    published_gflops, published_params = VIVIT_TABLE2[variant]
    model = on_meta(lambda: ViViT(variant))
    assert abs(params_m(model, head_in=768) - published_params) < 0.1
    macs = gmacs(model, (1, 3, 32, 224, 224))
    assert published_gflops * 0.99 < macs <= published_gflops


# DualFormer: backbone params and GMACs per 32 x 224 view of the official code
# (github.com/sail-sg/dualformer), and the README's per-view GFLOPs (its 4-view totals / 4) and params
DUALFORMER = {
    'tiny': (21.77, 59.9, 60, 21.8),
    'small': (48.91, 158.3, 159, 48.9),
    'base': (86.84, 267.4, 268, 86.8),
}


@pytest.mark.parametrize('arch', sorted(DUALFORMER))
def test_dualformer_matches_published_size_and_cost(arch):
    official_params, official_gmacs, readme_gflops, readme_params = DUALFORMER[arch]
    model = on_meta(lambda: DualFormer(arch))
    assert abs(params_m(model) - official_params) < 0.005
    assert abs(params_m(model) - readme_params) < 0.05
    macs = gmacs(model, (1, 3, 32, 224, 224))
    assert abs(macs - official_gmacs) < 0.05
    assert abs(macs - readme_gflops) < 0.005 * readme_gflops   # README totals are rounded


# TimeSformer at 8 x 224: GFLOPs per view (paper Table 1 / mmaction2), backbone params
TIMESFORMER = {
    'divided_space_time': (196, 121.26),
    'joint_space_time': (180, 85.80),
    'space_only': (141, 85.80),
}


@pytest.mark.parametrize('attention_type', sorted(TIMESFORMER))
def test_timesformer_matches_published_size_and_cost(attention_type):
    published_gflops, backbone_params = TIMESFORMER[attention_type]
    model = on_meta(lambda: TimeSformer(attention_type=attention_type))
    assert abs(params_m(model) - backbone_params) < 0.005
    assert abs(gmacs(model, (1, 3, 8, 224, 224)) - published_gflops) < 0.5


# ---------------------------------------------------------------- attention patterns

def masked_attention(attn: torch.nn.Module, x: torch.Tensor, allowed: torch.Tensor):
    """Plain softmax attention with the layer's own q/k/v and output projections, where
    token n may attend to token m only if ``allowed[head, n, m]``."""
    b, n, c = x.shape
    heads = attn.num_heads
    q, k, v = attn.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    logits = (q @ k.transpose(-2, -1)) / math.sqrt(c // heads)
    logits = logits.masked_fill(~allowed, float('-inf'))
    return attn.proj((logits.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c))


def same(ids: torch.Tensor) -> torch.Tensor:
    return ids[:, None] == ids[None, :]


def test_vivit_model_4_splits_heads_between_time_and_space():
    t, s, heads = 3, 4, 4
    attn = FactorisedDotProductAttention(32, heads).eval()
    x = torch.randn(2, t * s, 32)
    index = torch.arange(t * s)
    same_place, same_time = same(index % s), same(index // s)
    allowed = torch.stack([same_place] * (heads // 2) + [same_time] * (heads // 2))
    with torch.no_grad():
        torch.testing.assert_close(attn(x, grid=(t, s)), masked_attention(attn, x, allowed),
                                   atol=1e-5, rtol=0)


def test_vivit_model_3_block_attends_within_frames_then_within_positions():
    t, s = 3, 4
    block = FactorisedSelfAttentionBlock(32, 4).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.2)
    x = torch.randn(2, t * s, 32)
    index = torch.arange(t * s)
    with torch.no_grad():
        y = x + masked_attention(block.attn, block.norm1(x), same(index // s))
        y = y + masked_attention(block.temporal_attn, block.temporal_norm(y), same(index % s))
        expected = y + block.mlp(block.norm2(y))
        torch.testing.assert_close(block(x, grid=(t, s)), expected, atol=1e-5, rtol=0)


def test_dualformer_local_windows_attend_only_inside_their_window():
    grid, window = (4, 6, 4), (2, 3, 2)
    attn = LocalWindowAttention(16, 2, window).eval()
    x = torch.randn(2, 4 * 6 * 4, 16)
    d, h, w = torch.meshgrid(*(torch.arange(g) for g in grid), indexing='ij')
    window_id = ((d // 2) * 100 + (h // 3) * 10 + (w // 2)).flatten()
    with torch.no_grad():
        torch.testing.assert_close(attn(x, grid), masked_attention(attn, x, same(window_id)),
                                   atol=1e-5, rtol=0)


def test_dualformer_global_pyramid_sizes_per_stage():
    """At 32 x 224: 392 fine + 64 coarse context tokens in stages 1-2, 392 in stage 3, and
    the whole 16 x 7 x 7 map (global attention) in stage 4."""
    model = on_meta(lambda: DualFormer('tiny'))
    grids = [(16, 56, 56), (16, 28, 28), (16, 14, 14), (16, 7, 7)]
    for stage, (grid, expected) in enumerate(zip(grids, (456, 456, 392, 784))):
        attn = model.blocks[stage][1].attn
        assert isinstance(attn, GlobalPyramidAttention)
        tokens = torch.empty(1, math.prod(grid), model.blocks[stage][1].norm1.normalized_shape[0],
                             device='meta')
        assert attn.context(tokens, grid).shape[1] == expected
    out = model(torch.empty(1, 3, 32, 224, 224, device='meta'))
    assert out.shape == (1, 512, 16, 7, 7)


def test_timesformer_starts_blind_to_frame_order():
    """With its zero time embedding (official init) TimeSformer's output does not depend on
    the order of the frames: temporal attention is permutation-equivariant and the class
    token averages over frames. Only a learned time embedding breaks the symmetry (which is
    why, trained from scratch, it is the slowest here to learn the direction of motion)."""
    torch.manual_seed(0)
    model = TimeSformer(num_frames=4, img_size=32, patch_size=8, embed_dims=32, num_layers=2,
                        num_heads=4).eval()
    with torch.no_grad():
        for block in model.blocks:
            torch.nn.init.normal_(block.temporal_fc.weight, std=0.2)
    clip = torch.randn(2, 3, 4, 32, 32)
    reversed_clip = clip.flip(2)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), model(reversed_clip), atol=1e-5, rtol=0)
        torch.nn.init.normal_(model.time_embed, std=0.5)
        assert (model(clip) - model(reversed_clip)).abs().max() > 1e-2
