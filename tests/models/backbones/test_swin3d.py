"""SwinTransformer3D is the official Video Swin backbone: same outputs, names and sizes.

The numerical oracle is mmaction2's ``SwinTransformer3D`` (a port of the official
code whose final norm is called ``norm3``), loaded with the same random weights.
"""
from typing import Dict, Tuple

import pytest
import torch
from mmaction.models.backbones.swin import SwinTransformer3D as MMActionSwin3D

import videoswin  # noqa: F401  (registers the backbone)
from videoswin.models.backbones.swin3d import SwinTransformer3D
from videoswin.registry import MODELS
from videoswin.testing import random_state_dict

#: Narrow model used for most input combinations: head_dim 32 as in every variant,
#: every stage shifted and merged as in Swin-T, but 10x fewer MACs.
NARROW = dict(embed_dim=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
TOLERANCE = 1e-4
# mmaction2's reference code calls torch.meshgrid without `indexing`
pytestmark = pytest.mark.filterwarnings('ignore:torch.meshgrid')


def build_pair(window: Tuple[int, int, int], **sizes) -> Tuple[SwinTransformer3D, MMActionSwin3D]:
    """Our backbone and mmaction2's, eval mode, identical random weights."""
    ours = MODELS.build(dict(type='SwinTransformer3D', window_size=window, drop_path_rate=0.,
                             **sizes))
    reference = MMActionSwin3D(
        arch=dict(embed_dims=ours.embed_dim, depths=list(ours.depths),
                  num_heads=list(ours.num_heads)),
        window_size=window, drop_path_rate=0., pretrained=None, pretrained2d=False)
    state = random_state_dict(ours)
    ours.load_state_dict(state, strict=True)
    reference.load_state_dict(
        {('norm3' + k[len('norm'):] if k.startswith('norm.') else k): v for k, v in state.items()},
        strict=True)
    ours.eval()
    reference.eval()
    return ours, reference


def max_abs_diff(ours: torch.nn.Module, reference: torch.nn.Module, shape, seed=1) -> float:
    clip = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = reference(clip)
        actual = ours(clip)
    assert actual.shape == expected.shape
    return (actual - expected).abs().max().item()


@pytest.mark.slow
def test_swin_t_equals_mmaction2_at_32x224_window_877_batch_1():
    ours, reference = build_pair((8, 7, 7), arch='tiny')
    assert max_abs_diff(ours, reference, (1, 3, 32, 224, 224)) < TOLERANCE


@pytest.mark.parametrize('frames,window,batch', [
    pytest.param(16, (8, 7, 7), 2, marks=pytest.mark.slow),
    pytest.param(32, (8, 7, 7), 2, marks=pytest.mark.slow),
    (16, (16, 7, 7), 1),
    pytest.param(16, (16, 7, 7), 2, marks=pytest.mark.slow),
    pytest.param(32, (16, 7, 7), 1, marks=pytest.mark.slow),
])
def test_narrow_swin_equals_mmaction2_at_224(frames, window, batch):
    ours, reference = build_pair(window, **NARROW)
    assert max_abs_diff(ours, reference, (batch, 3, frames, 224, 224)) < TOLERANCE


@pytest.mark.slow
def test_padded_and_temporally_clipped_inputs_equal_mmaction2():
    """Odd sizes need padding at the embedding, in blocks and in merging; 2 frames clip wd."""
    ours, reference = build_pair((8, 7, 7), **NARROW)
    # 10 frames -> 5 tokens (< window 8: temporal clip), 224 px: no spatial clipping
    assert max_abs_diff(ours, reference, (1, 3, 10, 224, 224)) < TOLERANCE
    # 18 frames -> 9 tokens: padded to 16 in time, shifted; 230 px pads everywhere
    assert max_abs_diff(ours, reference, (1, 3, 18, 230, 230)) < TOLERANCE


def test_registry_builds_the_documented_config_and_output_shape():
    model = MODELS.build(dict(type='SwinTransformer3D', arch='tiny', patch_size=(2, 4, 4),
                              window_size=(8, 7, 7)))
    assert isinstance(model, SwinTransformer3D)
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 3, 4, 64, 64))
    assert out.shape == (1, 768, 2, 2, 2)


def official_swin_t_layout() -> Dict[str, Tuple[int, ...]]:
    """Keys and shapes of the official Swin-T (patch 2x4x4, window 8x7x7) backbone."""
    layout = {'patch_embed.proj.weight': (96, 3, 2, 4, 4), 'patch_embed.proj.bias': (96, ),
              'patch_embed.norm.weight': (96, ), 'patch_embed.norm.bias': (96, ),
              'norm.weight': (768, ), 'norm.bias': (768, )}
    for i, (depth, heads) in enumerate(zip((2, 2, 6, 2), (3, 6, 12, 24))):
        dim = 96 * 2**i
        for j in range(depth):
            block = f'layers.{i}.blocks.{j}.'
            layout.update({
                block + 'norm1.weight': (dim, ), block + 'norm1.bias': (dim, ),
                block + 'attn.relative_position_bias_table': (2535, heads),
                block + 'attn.relative_position_index': (392, 392),
                block + 'attn.qkv.weight': (3 * dim, dim), block + 'attn.qkv.bias': (3 * dim, ),
                block + 'attn.proj.weight': (dim, dim), block + 'attn.proj.bias': (dim, ),
                block + 'norm2.weight': (dim, ), block + 'norm2.bias': (dim, ),
                block + 'mlp.fc1.weight': (4 * dim, dim), block + 'mlp.fc1.bias': (4 * dim, ),
                block + 'mlp.fc2.weight': (dim, 4 * dim), block + 'mlp.fc2.bias': (dim, )})
        if i < 3:
            layout.update({f'layers.{i}.downsample.reduction.weight': (2 * dim, 4 * dim),
                           f'layers.{i}.downsample.norm.weight': (4 * dim, ),
                           f'layers.{i}.downsample.norm.bias': (4 * dim, )})
    return layout


def test_state_dict_has_exactly_the_official_keys_and_shapes():
    model = SwinTransformer3D(arch='tiny')
    state = model.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == official_swin_t_layout()
    assert state['layers.0.blocks.0.attn.relative_position_index'].dtype == torch.int64
    official = {k: torch.randn(shape) if 'index' not in k else state[k]
                for k, shape in official_swin_t_layout().items()}
    model.load_state_dict(official, strict=True)
    assert torch.equal(model.norm.weight, official['norm.weight'])


@pytest.mark.parametrize('arch,params_m', [('tiny', 27.85), ('small', 49.51), ('base', 87.64),
                                           ('large', 196.34)])
def test_parameter_counts_equal_the_published_backbones(arch, params_m):
    with torch.device('meta'):  # shapes only: Swin-L would otherwise allocate 800 MB
        model = SwinTransformer3D(arch=arch, window_size=(8, 7, 7))
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(params_m, abs=0.005)


@pytest.mark.slow
def test_arch_shorthand_and_explicit_overrides():
    base = SwinTransformer3D(arch='b')
    assert (base.embed_dim, base.depths, base.num_heads) == (128, (2, 2, 18, 2), (4, 8, 16, 32))
    mixed = SwinTransformer3D(arch='base', embed_dim=64, depths=(1, 1, 2, 1))
    assert (mixed.embed_dim, mixed.depths, mixed.num_heads) == (64, (1, 1, 2, 1), (4, 8, 16, 32))
    as_dict = SwinTransformer3D(arch=dict(embed_dims=32, depths=[1, 1], num_heads=[1, 2]))
    assert (as_dict.embed_dim, as_dict.depths, as_dict.num_heads, as_dict.num_features) == (
        32, (1, 1), (1, 2), 64)
    with pytest.raises(KeyError, match='huge'):
        SwinTransformer3D(arch='huge')
    with pytest.raises(ValueError, match='one entry per stage'):
        SwinTransformer3D(depths=(2, 2), num_heads=(1, 2, 4))


def test_out_indices_return_stage_features_and_the_last_is_the_normed_output():
    full = SwinTransformer3D(**NARROW).eval()
    multi = SwinTransformer3D(**NARROW, out_indices=(0, 1, 3)).eval()
    multi.load_state_dict(full.state_dict())
    clip = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        single = full(clip)
        stages = multi(clip)
        truncated = SwinTransformer3D(**NARROW, out_indices=(1, )).eval()
        truncated.load_state_dict(full.state_dict())
        stage1 = truncated(clip)
    assert isinstance(stages, tuple) and len(stages) == 3
    assert [tuple(s.shape) for s in stages] == [(1, 32, 4, 16, 16), (1, 64, 4, 8, 8),
                                               (1, 256, 4, 2, 2)]
    assert torch.equal(stages[2], single)
    assert torch.equal(stage1, stages[1])
    with pytest.raises(ValueError, match='out_indices'):
        SwinTransformer3D(**NARROW, out_indices=(4, ))


def test_frozen_stages_stop_gradients_and_stay_in_eval_mode():
    model = SwinTransformer3D(**NARROW, frozen_stages=2)
    assert model.train() is model
    frozen = [model.patch_embed, model.layers[0], model.layers[1]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for m in frozen) and model.layers[2].training
    assert all(p.requires_grad for p in model.layers[2].parameters())
    model(torch.randn(1, 3, 4, 64, 64)).sum().backward()
    assert model.patch_embed.proj.weight.grad is None
    assert model.layers[2].blocks[0].attn.qkv.weight.grad is not None


def test_init_weights_applies_the_official_init():
    model = SwinTransformer3D(**NARROW)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(3.0)
    model.init_weights()
    qkv = model.layers[1].blocks[0].attn.qkv
    # official: trunc_normal_(std=.02) with the default absolute bounds +-2, i.e. N(0, .02)
    assert torch.all(qkv.bias == 0) and qkv.weight.abs().mean() < 0.03
    assert qkv.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert torch.all(model.layers[0].blocks[0].norm1.weight == 1)
    assert torch.all(model.layers[0].downsample.norm.bias == 0)
    table = model.layers[0].blocks[0].attn.relative_position_bias_table
    assert table.std().item() == pytest.approx(0.02, rel=0.1)


def test_init_weights_loads_a_3d_backbone_checkpoint_from_pretrained(tmp_path):
    source = SwinTransformer3D(**NARROW)
    path = tmp_path / 'backbone.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    model = SwinTransformer3D(**NARROW, pretrained=str(path), pretrained2d=False)
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
