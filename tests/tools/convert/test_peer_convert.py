"""tools/convert for TimeSformer (official .pyth, HF) and ViViT (HF): converted files load
strictly into a videoswin recognizer and give the source model's logits.

The official layout is produced here from random HF weights with the key table of the
HF TimeSformer conversion script (official <-> HF; docs/peers.md), saved the way
PySlowFast saves it (``model_state`` with ``model.`` keys, ``epoch``, ``optimizer_state``,
``cfg`` as YAML text).
"""

import pytest
import torch
from mmengine.runner import load_checkpoint
from transformers import (TimesformerConfig, TimesformerForVideoClassification, VivitConfig,
                          VivitForVideoClassification)

from videoswin.checkpoint import CheckpointKindError, install_safe_loader, safe_load
from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

from helpers import load_tool
from helpers.peer_models import TOL, randomise_

register_all_modules()

NUM_CLASSES = 5
# 64-channel heads: official checkpoints do not record the head count, and the converter
# assumes the ViT convention
ARCH = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512)

# HF TimesformerForVideoClassification key fragment -> official facebookresearch/TimeSformer
# key (the renaming HF's TimeSformer conversion script applies), applied in order.
HF_TO_OFFICIAL = (
    ('timesformer.embeddings.patch_embeddings.projection.', 'patch_embed.proj.'),
    ('timesformer.embeddings.cls_token', 'cls_token'),
    ('timesformer.embeddings.position_embeddings', 'pos_embed'),
    ('timesformer.embeddings.time_embeddings', 'time_embed'),
    ('timesformer.encoder.layer.', 'blocks.'),
    ('.temporal_layernorm.', '.temporal_norm1.'),
    ('.temporal_attention.attention.qkv.', '.temporal_attn.qkv.'),
    ('.temporal_attention.output.dense.', '.temporal_attn.proj.'),
    ('.temporal_dense.', '.temporal_fc.'),
    ('.layernorm_before.', '.norm1.'),
    ('.attention.attention.qkv.', '.attn.qkv.'),
    ('.attention.output.dense.', '.attn.proj.'),
    ('.layernorm_after.', '.norm2.'),
    ('.intermediate.dense.', '.mlp.fc1.'),
    ('.output.dense.', '.mlp.fc2.'),
    ('timesformer.layernorm.', 'norm.'),
    ('classifier.', 'head.'),
)


def official_key(hf_key: str) -> str:
    for old, new in HF_TO_OFFICIAL:
        hf_key = hf_key.replace(old, new)
    return hf_key


def recognizer(backbone: dict) -> torch.nn.Module:
    return MODELS.build(dict(
        type='VideoRecognizer', backbone=backbone,
        cls_head=dict(type='VideoClsHead', in_channels=128, num_classes=NUM_CLASSES,
                      dropout_ratio=0.0))).eval()


def logits(model: torch.nn.Module, clip: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.cls_head(model.backbone(clip))


def hf_timesformer_classifier(attention_type: str):
    config = TimesformerConfig(image_size=32, patch_size=8, num_frames=4,
                               attention_type=attention_type, num_labels=NUM_CLASSES, **ARCH)
    return randomise_(TimesformerForVideoClassification(config))


@pytest.mark.parametrize('attention_type', ['divided_space_time', 'joint_space_time'])
def test_official_timesformer_checkpoint_converts_to_identical_logits(tmp_path, attention_type):
    hf = hf_timesformer_classifier(attention_type)
    official = {f'model.{official_key(k)}': v.clone() for k, v in hf.state_dict().items()}
    assert all('timesformer' not in k and 'layer.' not in k for k in official)
    optimizer = torch.optim.SGD(hf.parameters(), lr=0.005, momentum=0.9, nesterov=True)
    source = tmp_path / 'checkpoint_epoch_00015.pyth'
    torch.save({'epoch': 15, 'model_state': official, 'optimizer_state': optimizer.state_dict(),
                'cfg': f'TIMESFORMER:\n  ATTENTION_TYPE: {attention_type}\n'}, source)

    message = load_tool('convert/timesformer_to_videoswin').convert(str(source), str(tmp_path / 'ts.pth'))
    converted = safe_load(str(tmp_path / 'ts.pth'))
    backbone_args = converted['meta']['backbone']
    assert backbone_args['attention_type'] == attention_type
    assert f'{NUM_CLASSES}-class head' in message

    model = recognizer(dict(type='TimeSformer', **backbone_args))
    install_safe_loader()
    load_checkpoint(model, str(tmp_path / 'ts.pth'), strict=True)   # the load_from route
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        expected = hf(clip.transpose(1, 2)).logits
    torch.testing.assert_close(logits(model, clip), expected, atol=TOL, rtol=0)


def test_hf_timesformer_directory_converts_to_identical_logits(tmp_path):
    hf = hf_timesformer_classifier('divided_space_time')
    hf.save_pretrained(tmp_path / 'hf')
    load_tool('convert/timesformer_to_videoswin').main([str(tmp_path / 'hf'), str(tmp_path / 'ts.pth')])
    converted = safe_load(str(tmp_path / 'ts.pth'))
    model = recognizer(dict(type='TimeSformer', **converted['meta']['backbone']))
    model.load_state_dict(converted['state_dict'], strict=True)
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        expected = hf(clip.transpose(1, 2)).logits
    torch.testing.assert_close(logits(model, clip), expected, atol=TOL, rtol=0)


def test_hf_vivit_directory_converts_to_identical_logits(tmp_path):
    config = VivitConfig(image_size=32, num_frames=4, tubelet_size=[2, 8, 8],
                         num_labels=NUM_CLASSES, **ARCH)
    hf = randomise_(VivitForVideoClassification(config))
    hf.save_pretrained(tmp_path / 'hf')       # written with the transformers 4.x key names
    message = load_tool('convert/vivit_to_videoswin').convert(str(tmp_path / 'hf'),
                                                      str(tmp_path / 'vivit.pth'))
    converted = safe_load(str(tmp_path / 'vivit.pth'))
    assert "variant='spatio_temporal'" in message
    model = recognizer(dict(type='ViViT', **converted['meta']['backbone']))
    model.load_state_dict(converted['state_dict'], strict=True)
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        expected = hf(clip.transpose(1, 2)).logits
    torch.testing.assert_close(logits(model, clip), expected, atol=TOL, rtol=0)


def test_converter_rejects_files_without_timesformer_weights(tmp_path):
    torch.save({'state_dict': {'foo.weight': torch.zeros(2)}}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='no TimeSformer weights'):
        load_tool('convert/timesformer_to_videoswin').convert(str(tmp_path / 'other.pth'),
                                                      str(tmp_path / 'out.pth'))


class _NotAllowed:
    """Any class outside the safe loader's allow-list."""


@pytest.mark.parametrize('tool, model', [('timesformer_to_videoswin', 'TimeSformer'),
                                         ('vivit_to_videoswin', 'ViViT')])
def test_converters_end_with_one_error_line_naming_the_bad_file(tool, model, tmp_path):
    other, unsafe = tmp_path / 'other.pth', tmp_path / 'unsafe.pth'
    torch.save({'state_dict': {'foo.weight': torch.zeros(2)}}, other)
    torch.save({'state_dict': {'foo.weight': torch.zeros(2)}, 'extra': _NotAllowed()}, unsafe)
    out = tmp_path / 'out.pth'
    with pytest.raises(CheckpointKindError, match=f'no {model} weights'):
        load_tool(f'convert/{tool}').convert(str(other), str(out))
    for src, message in [(other, f'{other} holds no {model} weights'),
                         (tmp_path / 'missing.pth', 'missing.pth'),
                         (unsafe, str(unsafe))]:
        with pytest.raises(SystemExit) as exit_info:
            load_tool(f'convert/{tool}').main([str(src), str(out)])
        assert str(exit_info.value).startswith('error: ') and message in str(exit_info.value)
    assert not out.exists()
