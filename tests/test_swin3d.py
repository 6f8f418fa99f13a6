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

#: Narrow model used for most input combinations: head_dim 32 as in every variant,
#: every stage shifted and merged as in Swin-T, but 10x fewer MACs.
NARROW = dict(embed_dim=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
TOLERANCE = 1e-4


def random_official_state(model: SwinTransformer3D, seed: int = 0) -> Dict[str, torch.Tensor]:
    """Official-layout weights drawn far from the init, so every parameter matters."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            noise = torch.randn(value.shape, generator=gen)
            if 'relative_position_bias_table' in key:
                value = noise * 0.5
            elif 'norm' in key and key.endswith('weight'):
                value = 1 + 0.1 * noise
            else:
                value = noise * 0.05
        state[key] = value
    return state


def build_pair(window: Tuple[int, int, int], **sizes) -> Tuple[SwinTransformer3D, MMActionSwin3D]:
    """Our backbone and mmaction2's, eval mode, identical random weights."""
    ours = MODELS.build(dict(type='SwinTransformer3D', window_size=window, drop_path_rate=0.,
                             **sizes))
    reference = MMActionSwin3D(
        arch=dict(embed_dims=ours.embed_dim, depths=list(ours.depths),
                  num_heads=list(ours.num_heads)),
        window_size=window, drop_path_rate=0., pretrained=None, pretrained2d=False)
    state = random_official_state(ours)
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


def test_swin_t_equals_mmaction2_at_32x224_window_877_batch_1():
    ours, reference = build_pair((8, 7, 7), arch='tiny')
    assert max_abs_diff(ours, reference, (1, 3, 32, 224, 224)) < TOLERANCE


@pytest.mark.parametrize('frames,window,batch', [
    (16, (8, 7, 7), 2),
    (32, (8, 7, 7), 2),
    (16, (16, 7, 7), 1),
    (16, (16, 7, 7), 2),
    (32, (16, 7, 7), 1),
])
def test_narrow_swin_equals_mmaction2_at_224(frames, window, batch):
    ours, reference = build_pair(window, **NARROW)
    assert max_abs_diff(ours, reference, (batch, 3, frames, 224, 224)) < TOLERANCE


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
