"""Inflated 2D Swin weights: a static clip looks to the 3D model as the image to the 2D one.

The 2D oracle is HF transformers' ``SwinModel`` with random weights. Its files come in
every layout users hold: a ``save_pretrained`` directory and its ``model.safetensors``
(transformers 5.x writes the 4.x key names to disk), a ``torch.save`` of the 5.x
in-memory state dict, a 4.x-named ``pytorch_model.bin`` with the 4.x persistent
``relative_position_index`` buffers (the rename table is the ``"swin"`` entry of
``transformers/conversion_mapping.py``, applied in reverse; see
``videoswin.models.backbones.swin3d_layouts``), a ``SwinForImageClassification`` directory,
and the microsoft/Swin-Transformer ``{'model': ...}`` release with head and attention-mask buffers.
"""
import logging

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from transformers import SwinForImageClassification, SwinModel

from videoswin.checkpoint import (CheckpointKindError, CheckpointMismatchError,
                                  load_model_checkpoint)
from videoswin.models.backbones.swin3d_layouts import hf_to_microsoft
from videoswin.models.backbones.swin3d_weights import load_pretrained

from helpers.swin_files import rename_hf_5x_to_4x
from helpers.hf_swin import (DEPTHS, EMBED, FRAMES, HEADS, IMAGE, TOLERANCE, WINDOW,
                             randomised_hf_swin, video_backbone)


@pytest.fixture(scope='module')
def hf_swin() -> SwinModel:
    return randomised_hf_swin()


@pytest.fixture(scope='module')
def image_and_hidden_state(hf_swin):
    image = torch.randn(1, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return image, hf_swin(pixel_values=image).last_hidden_state[0]  # (49, 8C)


def _hf_directory(model, tmp_path):
    model.save_pretrained(tmp_path / 'hf')
    return tmp_path / 'hf'


def _hf_safetensors(model, tmp_path):
    return _hf_directory(model, tmp_path) / 'model.safetensors'


def _hf_5x_state_dict(model, tmp_path):
    torch.save(model.state_dict(), tmp_path / 'pytorch_model.bin')
    return tmp_path / 'pytorch_model.bin'


def _hf_4x_bin(model, tmp_path):
    state = rename_hf_5x_to_4x(model.state_dict())
    assert not any('q_proj' in key or 'mlp.fc1' in key for key in state)
    for name, buffer in model.named_buffers():  # 4.x saved the index, shaped (N, N)
        if name.endswith('relative_position_bias.relative_position_index'):
            key = name.replace('relative_position_bias.relative_position_index',
                               'self.relative_position_index')
            side = int(buffer.numel()**0.5)
            state[key] = buffer.reshape(side, side).clone()
    directory = tmp_path / 'hf4'
    directory.mkdir()
    torch.save(state, directory / 'pytorch_model.bin')
    return directory


def _hf_classifier_directory(model, tmp_path):
    classifier = SwinForImageClassification(model.config)
    classifier.swin.load_state_dict(model.state_dict())
    classifier.save_pretrained(tmp_path / 'hf_cls')
    return tmp_path / 'hf_cls'


def _microsoft_release(model, tmp_path):
    state = hf_to_microsoft(model.state_dict())
    state['head.weight'], state['head.bias'] = torch.randn(1000, 8 * EMBED), torch.randn(1000)
    for layer, depth in enumerate(DEPTHS):
        for block in range(depth):
            state[f'layers.{layer}.blocks.{block}.attn.relative_position_index'] = torch.zeros(
                49, 49, dtype=torch.long)
            if block % 2:
                state[f'layers.{layer}.blocks.{block}.attn_mask'] = torch.zeros(4, 49, 49)
    torch.save({'model': state}, tmp_path / 'swin_2d.pth')
    return tmp_path / 'swin_2d.pth'


FORMATS = {
    'hf-directory': (_hf_directory, []),
    'hf-model.safetensors': (_hf_safetensors, []),
    'hf-5.x-state-dict': (_hf_5x_state_dict, []),
    'hf-4.x-pytorch_model.bin': (_hf_4x_bin, []),
    'hf-classifier-directory': (_hf_classifier_directory, ['head.weight', 'head.bias']),
    'microsoft-release': (_microsoft_release, ['head.weight', 'head.bias']),
}


@pytest.mark.parametrize('fmt', list(FORMATS))
def test_static_clip_through_inflated_model_reproduces_2d_hidden_state(
        fmt, hf_swin, image_and_hidden_state, tmp_path):
    write, expected_ignored = FORMATS[fmt]
    path = write(hf_swin, tmp_path)
    backbone = video_backbone()

    summary = load_pretrained(backbone, str(path), pretrained2d=True)

    assert summary.missing == [] and sorted(summary.ignored) == sorted(expected_ignored)
    blocks = sum(DEPTHS)
    assert summary.inflated == 1 + blocks  # the patch kernel and one table per block
    image, hidden = image_and_hidden_state
    clip = image.unsqueeze(2).expand(-1, -1, FRAMES, -1, -1)
    with torch.no_grad():
        out = backbone(clip)  # (1, 8C, T', 7, 7)
    assert out.shape == (1, 8 * EMBED, FRAMES // 2, 7, 7)
    for t in range(out.shape[2]):
        torch.testing.assert_close(out[0, :, t].flatten(1).T, hidden, rtol=0, atol=TOLERANCE)


def test_window_12_tables_are_bicubically_resized_then_tiled(tmp_path):
    hf = randomised_hf_swin(window=12, seed=2)
    hf.save_pretrained(tmp_path / 'w12')
    backbone = video_backbone(window=(8, 7, 7))

    load_pretrained(backbone, str(tmp_path / 'w12'), pretrained2d=True)

    for layer, heads in enumerate(HEADS):
        for block in range(DEPTHS[layer]):
            table_2d = hf.encoder.layers[layer].blocks[block].attention.relative_position_bias \
                .relative_position_bias_table.detach()  # (23 * 23, nH)
            grid = table_2d.T.reshape(1, heads, 23, 23)
            resized = F.interpolate(grid, size=(13, 13), mode='bicubic', align_corners=False)
            expected = resized.reshape(heads, 169).T.repeat(15, 1)
            table_3d = backbone.layers[layer].blocks[block].attn.relative_position_bias_table
            torch.testing.assert_close(table_3d.detach(), expected, rtol=0, atol=1e-6)
    kernel_2d = hf.embeddings.patch_embeddings.projection.weight.detach()
    kernel_3d = backbone.patch_embed.proj.weight.detach()
    for t in range(2):
        torch.testing.assert_close(kernel_3d[:, :, t], kernel_2d / 2, rtol=0, atol=0)


def test_every_load_logs_one_summary_line(hf_swin, tmp_path):
    path = _microsoft_release(hf_swin, tmp_path)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        load_pretrained(video_backbone(), str(path), pretrained2d=True)
    finally:
        logger.removeHandler(handler)

    assert len(records) == 1
    line = records[0].getMessage()
    blocks = sum(DEPTHS)
    loaded = len(video_backbone().state_dict()) - blocks  # all but the rebuilt index buffers
    assert line == (f'{path} (2D image Swin, microsoft layout): loaded {loaded}, '
                    f'inflated {1 + blocks}, ignored 2 [head.weight, head.bias], missing 0')


def test_missing_keys_are_an_error_unless_not_strict(hf_swin, tmp_path):
    state = hf_to_microsoft(hf_swin.state_dict())
    dropped = [k for k in state if k.startswith('layers.3.')]
    for key in dropped:
        del state[key]
    torch.save({'model': state}, tmp_path / 'partial.pth')

    with pytest.raises(CheckpointMismatchError, match=r'missing from the file \[layers\.3\.'):
        load_pretrained(video_backbone(), str(tmp_path / 'partial.pth'), pretrained2d=True)
    summary = load_pretrained(video_backbone(), str(tmp_path / 'partial.pth'),
                              pretrained2d=True, strict=False)
    assert sorted(summary.missing) == sorted(dropped)
    assert f'missing {len(dropped)} [layers.3.blocks.*.norm1.weight (x2)' in str(summary)


def test_shape_mismatch_names_the_keys(hf_swin, tmp_path):
    path = _hf_directory(hf_swin, tmp_path)
    wider = video_backbone(embed=2 * EMBED)
    with pytest.raises(CheckpointMismatchError,
                       match=r'patch_embed\.proj\.weight \(checkpoint \(16, 3, 2, 4, 4\), '
                       r'model \(32, 3, 2, 4, 4\)\)'):
        load_pretrained(wider, str(path), pretrained2d=True)


def test_video_checkpoint_as_2d_pretrained_says_to_use_load_from(tmp_path):
    source = video_backbone()
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['cls_head.fc_cls.weight'], state['cls_head.fc_cls.bias'] = torch.zeros(5, 128), \
        torch.zeros(5)
    torch.save({'meta': {}, 'state_dict': state}, tmp_path / 'k400.pth')

    with pytest.raises(CheckpointKindError, match=r"load_from=.*pretrained2d=False"):
        load_pretrained(video_backbone(), str(tmp_path / 'k400.pth'), pretrained2d=True)
    target = video_backbone()
    summary = load_pretrained(target, str(tmp_path / 'k400.pth'), pretrained2d=False)
    assert summary.ignored == ['cls_head.fc_cls.weight', 'cls_head.fc_cls.bias']
    assert summary.missing == [] and summary.inflated == 0
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_image_checkpoint_where_a_video_one_belongs_says_to_inflate(hf_swin, tmp_path):
    path = _microsoft_release(hf_swin, tmp_path)
    with pytest.raises(CheckpointKindError, match=r'pretrained2d=True'):
        load_pretrained(video_backbone(), str(path), pretrained2d=False)
    with pytest.raises(CheckpointKindError,
                       match=r'model\.backbone\.pretrained=.*pretrained2d=True \(not load_from\)'):
        load_model_checkpoint(torch.nn.Module(), str(path))


def test_backbone_config_pretrained_inflates_through_init_weights(hf_swin, tmp_path):
    from videoswin.registry import MODELS
    path = _microsoft_release(hf_swin, tmp_path)
    backbone = MODELS.build(
        dict(type='SwinTransformer3D', embed_dim=EMBED, depths=DEPTHS, num_heads=HEADS,
             patch_size=(2, 4, 4), window_size=WINDOW, pretrained=str(path), pretrained2d=True))
    direct = video_backbone()
    load_pretrained(direct, str(path), pretrained2d=True)

    backbone.init_weights()

    for key, value in direct.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value), key
