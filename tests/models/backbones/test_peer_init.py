"""Image-model initialisation as the papers do it, checked against HF transformers' ViT.

A random ViT is saved the two ways users have one: a HF ``save_pretrained`` directory and
a timm-layout ``.pth`` state dict. After ``init_weights()`` the video models must behave
like the image model where the paper says so:

* TimeSformer (divided; space-only): temporal attention starts as a copy of the spatial
  one but ``temporal_fc`` and the time embedding are zero, so on a static clip the class
  token equals the ViT's on that frame;
* ViViT FE: the spatial encoder *is* the ViT, applied to each tubelet's central frame;
* ViViT Model 3: temporal attention starts at zero, so on a static clip every temporal
  slice equals the ViT's blocks run on the frame's patch tokens (no class token);
* ViViT Models 1/3/4: central-frame tubelets embed like the 2-D patches of the middle
  frame, and the spatial position table is repeated over time.
"""
import pytest
import torch
from transformers import ViTModel

from videoswin.models.backbones.dualformer import DualFormer, inflate_image_weights
from videoswin.models.backbones.timesformer import TimeSformer
from videoswin.models.backbones.vivit import ViViT

from helpers.peer_models import TOL, hf_vit, saved

ARCH = dict(embed_dims=48, num_layers=2, num_heads=4)


def vit_cls(vit: ViTModel, frames: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return vit(frames).last_hidden_state[:, 0]


def vit_patch_tokens(vit: ViTModel, frames: torch.Tensor) -> torch.Tensor:
    """The ViT's blocks and final norm on one frame's patch tokens, without a class token."""
    with torch.no_grad():
        x = vit.embeddings.patch_embeddings(frames) + vit.embeddings.position_embeddings[:, 1:]
        for layer in vit.layers:
            x = layer(x)
        return vit.layernorm(x)


@pytest.mark.parametrize('form', ['hf-directory', 'timm-state-dict', 'timm-linear-patch'])
@pytest.mark.parametrize('attention_type', ['divided_space_time', 'space_only'])
def test_timesformer_from_vit_equals_the_image_model_on_a_static_clip(tmp_path, form,
                                                                       attention_type):
    vit = hf_vit('gelu')
    model = TimeSformer(num_frames=4, img_size=32, patch_size=8, embed_dims=48, num_layers=2,
                        num_heads=4, attention_type=attention_type,
                        pretrained=saved(vit, tmp_path, form)).eval()
    model.init_weights()
    frame = torch.randn(2, 3, 32, 32)
    static_clip = frame[:, :, None].expand(-1, -1, 4, -1, -1)
    with torch.no_grad():
        got = model(static_clip).flatten(1)
    torch.testing.assert_close(got, vit_cls(vit, frame), atol=TOL, rtol=0)
    if attention_type == 'divided_space_time':
        block = model.blocks[1]
        torch.testing.assert_close(block.temporal_attn.qkv.weight, block.attn.qkv.weight)
        assert not block.temporal_fc.weight.any() and not model.time_embed.any()
        # a moving clip does reach the temporal attention once temporal_fc is non-zero
        torch.nn.init.normal_(block.temporal_fc.weight, std=0.1)
        moving = torch.randn(2, 3, 4, 32, 32)
        with torch.no_grad():
            assert not torch.allclose(model(moving), model(moving[:, :, [0, 0, 0, 0]]))


def test_timesformer_resizes_the_vit_position_table_to_its_grid(tmp_path):
    vit = hf_vit('gelu')
    model = TimeSformer(num_frames=2, img_size=48, patch_size=8, embed_dims=48, num_layers=2,
                        num_heads=4, pretrained=saved(vit, tmp_path, 'hf-directory'))
    model.init_weights()
    assert model.pos_embed.shape == (1, 1 + 6 * 6, 48)
    torch.testing.assert_close(model.pos_embed[:, 0], vit.embeddings.position_embeddings[:, 0])


def test_vivit_factorised_encoder_spatial_encoder_is_the_vit_on_central_frames(tmp_path):
    vit = hf_vit('gelu_fast')       # Flax's tanh-approximated GELU, as ViViT uses
    model = ViViT('factorised_encoder', arch=ARCH, num_frames=4, img_size=32,
                  tubelet_size=(2, 8, 8), pretrained=saved(vit, tmp_path, 'hf-directory')).eval()
    model.init_weights()
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        tokens = model.patch_embed(clip)                                 # (B, C, t, h, w)
        per_frame = tokens.permute(0, 2, 3, 4, 1).reshape(4, 16, 48)     # (B*t, h*w, C)
        spatial_cls = model.spatial_encoder(per_frame)[:, 0].reshape(2, 2, 48)
    for index, central in enumerate((1, 3)):                            # t // 2 of each tubelet
        torch.testing.assert_close(spatial_cls[:, index], vit_cls(vit, clip[:, :, central]),
                                   atol=TOL, rtol=0)


def test_vivit_factorised_self_attention_from_vit_equals_the_image_model_on_a_static_clip(
        tmp_path):
    vit = hf_vit('gelu_fast')
    model = ViViT('factorised_self_attention', arch=ARCH, num_frames=4, img_size=32,
                  tubelet_size=(2, 8, 8), pretrained=saved(vit, tmp_path, 'timm-state-dict'))
    model.eval().init_weights()
    assert not any(p.any() for n, p in model.named_parameters() if '.temporal_attn.' in n)
    frame = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model(frame[:, :, None].expand(-1, -1, 4, -1, -1))         # (B, C, t, h, w)
    expected = vit_patch_tokens(vit, frame)                              # (B, h*w, C)
    for t in range(2):
        torch.testing.assert_close(out[:, :, t].flatten(2).transpose(1, 2), expected,
                                   atol=TOL, rtol=0)


@pytest.mark.parametrize('variant', ['spatio_temporal', 'factorised_dot_product'])
def test_vivit_central_frame_tubelets_and_tiled_positions(tmp_path, variant):
    vit = hf_vit('gelu_fast')
    model = ViViT(variant, arch=ARCH, num_frames=6, img_size=32, tubelet_size=(3, 8, 8),
                  pretrained=saved(vit, tmp_path, 'hf-directory'))
    model.init_weights()
    clip = torch.randn(1, 3, 6, 32, 32)
    with torch.no_grad():
        tokens = model.patch_embed(clip).flatten(3)                      # (B, C, t, h*w)
        for index, central in enumerate((1, 4)):
            expected = vit.embeddings.patch_embeddings(clip[:, :, central])
            torch.testing.assert_close(tokens[:, :, index].transpose(1, 2), expected,
                                       atol=TOL, rtol=0)
    table = model.encoder.pos_embed
    spatial = vit.embeddings.position_embeddings[:, 1:]
    patches = table[:, 1:] if variant == 'spatio_temporal' else table
    torch.testing.assert_close(patches, spatial.repeat(1, 2, 1))
    if variant == 'spatio_temporal':
        torch.testing.assert_close(table[:, :1], vit.embeddings.position_embeddings[:, :1])
        torch.testing.assert_close(model.encoder.cls_token, vit.embeddings.cls_token)


def test_dualformer_inflation_keeps_the_image_filters_on_a_static_clip():
    """2-D kernels become temporal averages of themselves, so a static clip is filtered as
    its frame; the coarse pyramid's temporal conv starts as a mean."""
    model = DualFormer(arch=dict(embed_dims=(8, 16, 32, 64), num_heads=(1, 2, 2, 4),
                                 depths=(2, 2, 2, 2)), num_frames=16, img_size=224)
    image = {k: (v.sum(dim=2) if v.dim() == 5 else v) for k, v in model.state_dict().items()
             if 'attn.lr.3' not in k}
    weights, adapted = inflate_image_weights(image, model)
    model.load_state_dict(weights, strict=True)
    assert 'patch_embeds.0.proj.weight' in adapted and 'pos_block.0.proj.0.weight' in adapted
    frame = torch.randn(1, 3, 224, 224)
    conv = model.patch_embeds[0].proj
    with torch.no_grad():
        video = conv(frame[:, :, None].expand(-1, -1, 16, -1, -1))
        still = torch.nn.functional.conv2d(frame, image['patch_embeds.0.proj.weight'],
                                           conv.bias, stride=4)
        torch.testing.assert_close(video, still[:, :, None].expand_as(video), atol=TOL, rtol=0)
        temporal = model.blocks[0][1].attn.lr[3]                       # kernel (2, 2, 2) here
        assert temporal.kernel_size == (2, 2, 2)
        constant = torch.full((1, 8, 2, 2, 2), 3.0)
        torch.testing.assert_close(temporal(constant), torch.full((1, 8, 1, 1, 1), 3.0))
