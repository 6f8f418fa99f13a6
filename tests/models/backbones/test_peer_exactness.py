"""TimeSformer and ViViT Model 1 against HF transformers, the offline numerical oracle.

Random HF models (every weight drawn at random, so a wrongly zero-initialised or
mis-mapped tensor shows) are converted to our layout with the library's converters and
loaded strictly; the normalised class token must agree within 1e-4. Configs are tiny
(2 layers, 48 channels) so the whole file runs in seconds.
"""
import pytest
import torch
import transformers
from transformers import TimesformerConfig, TimesformerModel, VivitConfig, VivitModel

from videoswin.models.backbones.timesformer import TimeSformer, timesformer_state_dict
from videoswin.models.backbones.vivit import ViViT, vivit_state_dict

from helpers.peer_models import TOL, randomise_

SMALL = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=192)
# the 5.x in-memory key names (layers.i.attention.q_proj ...) are what these tests map
assert int(transformers.__version__.split('.')[0]) == 5


def hf_timesformer(attention_type: str) -> TimesformerModel:
    config = TimesformerConfig(image_size=32, patch_size=8, num_frames=4,
                               attention_type=attention_type, **SMALL)
    return randomise_(TimesformerModel(config))


def our_timesformer(attention_type: str) -> TimeSformer:
    return TimeSformer(num_frames=4, img_size=32, patch_size=8, embed_dims=48, num_layers=2,
                       num_heads=4, attention_type=attention_type).eval()


@pytest.mark.parametrize('attention_type', ['divided_space_time', 'joint_space_time'])
def test_timesformer_matches_hf_transformers(attention_type):
    hf = hf_timesformer(attention_type)
    ours = our_timesformer(attention_type)
    backbone, head = timesformer_state_dict(hf.state_dict())
    ours.load_state_dict(backbone, strict=True)
    assert head == {}
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        expected = hf(clip.transpose(1, 2)).last_hidden_state[:, 0]   # HF takes (B, T, C, H, W)
        got = ours(clip)
    assert got.shape == (2, 48, 1, 1, 1)
    torch.testing.assert_close(got.flatten(1), expected, atol=TOL, rtol=0)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in hf.parameters())


def test_timesformer_space_only_averages_per_frame_vit_features():
    """HF's space-only model stops at per-frame tokens; the paper (and official code)
    average the last block's tokens over frames, then apply the final LayerNorm."""
    hf = hf_timesformer('space_only')
    ours = our_timesformer('space_only')
    ours.load_state_dict(timesformer_state_dict(hf.state_dict())[0], strict=True)
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        hidden = hf(clip.transpose(1, 2), output_hidden_states=True).hidden_states[-1]
        expected = hf.layernorm(hidden.reshape(2, 4, -1, 48).mean(dim=1))[:, 0]
        got = ours(clip).flatten(1)
    torch.testing.assert_close(got, expected, atol=TOL, rtol=0)


def test_timesformer_resamples_tables_for_other_clip_sizes():
    """Like the official model, other frame counts and crop sizes run, with the time and
    position tables resampled by nearest neighbour; equal sizes leave them untouched."""
    ours = our_timesformer('divided_space_time')
    with torch.no_grad():
        out = ours(torch.randn(1, 3, 6, 48, 48))
    assert out.shape == (1, 48, 1, 1, 1) and torch.isfinite(out).all()
    assert ours.position_table((4, 4)) is ours.pos_embed


def test_vivit_spatio_temporal_matches_hf_transformers():
    config = VivitConfig(image_size=32, num_frames=4, tubelet_size=[2, 8, 8], **SMALL)
    hf = randomise_(VivitModel(config))
    ours = ViViT(arch=dict(embed_dims=48, num_layers=2, num_heads=4), num_frames=4,
                 img_size=32, tubelet_size=(2, 8, 8)).eval()
    backbone, _ = vivit_state_dict(hf.state_dict())
    ours.load_state_dict(backbone, strict=True)
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        expected = hf(clip.transpose(1, 2)).last_hidden_state[:, 0]
        got = ours(clip)
    assert got.shape == (2, 48, 1, 1, 1)
    torch.testing.assert_close(got.flatten(1), expected, atol=TOL, rtol=0)
    hf_params = sum(p.numel() for n, p in hf.named_parameters() if not n.startswith('pooler'))
    assert sum(p.numel() for p in ours.parameters()) == hf_params


def test_vivit_rejects_clips_its_position_table_does_not_cover():
    ours = ViViT(arch=dict(embed_dims=48, num_layers=1, num_heads=4), num_frames=4,
                 img_size=32, tubelet_size=(2, 8, 8))
    with pytest.raises(ValueError, match='num_frames / img_size'):
        ours(torch.randn(1, 3, 8, 32, 32))
