"""Whole-recognizer checkpoints (official Video Swin, mmaction2 1.x) load into VideoRecognizer.

The independent source of key names is mmaction2's own ``SwinTransformer3D`` + ``I3DHead``
(the children of its ``Recognizer3D``): its state dict is the mmaction2 layout, and
renaming ``backbone.norm3`` to ``backbone.norm`` gives the official one (docs/checkpoints.md).
"""
import builtins

import pytest
import torch
from mmengine.runner import Runner
from torch import nn

from videoswin.checkpoint import (CheckpointKindError, CheckpointMismatchError,
                                  UnsafeCheckpointError, install_safe_loader,
                                  load_model_checkpoint)

from helpers.swin_recognizers import CLIP, EMBED, mmaction2_recognizer, our_recognizer


@pytest.fixture(scope='module')
def reference() -> nn.Module:
    return mmaction2_recognizer()


@pytest.fixture(scope='module')
def official_checkpoint(reference, tmp_path_factory) -> str:
    """A Kinetics checkpoint as the official repo (mmcv 1.x + apex) wrote them."""
    state = {key.replace('backbone.norm3.', 'backbone.norm.'): value
             for key, value in reference.state_dict().items()}
    path = str(tmp_path_factory.mktemp('official') / 'swin_tiny_patch244_window877_kinetics400.pth')
    torch.save(
        {
            'meta': {'mmcv_version': '1.3.1', 'epoch': 30, 'iter': 93750,
                     'config': "model = dict(type='Recognizer3D')", 'CLASSES': None},
            'state_dict': state,
            'optimizer': {'state': {}, 'param_groups': [{'lr': 1e-5, 'params': [0, 1]}]},
            'amp': {'loss_scaler0': {'loss_scale': 65536.0, 'unskipped': 12}},
        }, path)
    return path


def _assert_same_weights(ours: nn.Module, reference: nn.Module) -> None:
    theirs = {k.replace('backbone.norm3.', 'backbone.norm.'): v
              for k, v in reference.state_dict().items()}
    for key, value in ours.state_dict().items():
        assert torch.equal(value, theirs[key]), key


def test_official_kinetics_checkpoint_loads_with_nothing_missing_or_ignored(
        reference, official_checkpoint):
    model = our_recognizer()

    summary = load_model_checkpoint(model, official_checkpoint)

    assert summary.missing == [] and summary.ignored == []
    rebuilt = sum(1 for key in model.state_dict() if key.endswith('relative_position_index'))
    assert summary.loaded == len(model.state_dict()) - rebuilt
    assert summary.meta['epoch'] == 30 and 'official' in summary.kind
    _assert_same_weights(model, reference)
    clip = torch.randn(CLIP, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(clip), reference.backbone(clip), rtol=0,
                                   atol=1e-4)


def test_mmaction2_checkpoint_has_norm3_renamed(reference, tmp_path):
    path = str(tmp_path / 'mmaction2.pth')
    torch.save({'meta': {'mmengine_version': '0.10.7'}, 'state_dict': reference.state_dict()},
               path)
    model = our_recognizer()

    summary = load_model_checkpoint(model, path)

    assert summary.missing == [] and summary.ignored == [] and 'mmaction2' in summary.kind
    _assert_same_weights(model, reference)


def test_head_shape_mismatch_names_the_keys(official_checkpoint):
    model = our_recognizer(num_classes=7)
    with pytest.raises(CheckpointMismatchError,
                       match=r'cls_head\.fc_cls\.weight \(checkpoint \(5, 128\), '
                       r'model \(7, 128\)\); cls_head\.fc_cls\.bias'):
        load_model_checkpoint(model, official_checkpoint)

    head_before = model.cls_head.fc_cls.weight.detach().clone()
    summary = load_model_checkpoint(model, official_checkpoint, strict=False)
    assert summary.ignored == summary.missing == ['cls_head.fc_cls.weight', 'cls_head.fc_cls.bias']
    assert torch.equal(model.cls_head.fc_cls.weight, head_before)


def test_keys_the_model_lacks_fail_a_strict_load(reference, tmp_path):
    state = dict(reference.state_dict())
    state['backbone.layers.3.blocks.2.norm1.weight'] = torch.ones(128)
    torch.save({'state_dict': state}, tmp_path / 'deeper.pth')

    with pytest.raises(CheckpointMismatchError,
                       match=r'1 keys the model does not have \[backbone\.layers\.3\.blocks\.2'):
        load_model_checkpoint(our_recognizer(), str(tmp_path / 'deeper.pth'))
    summary = load_model_checkpoint(our_recognizer(), str(tmp_path / 'deeper.pth'), strict=False)
    assert summary.ignored == ['backbone.layers.3.blocks.2.norm1.weight']


def test_bare_backbone_as_whole_model_says_use_backbone_pretrained(reference, tmp_path):
    torch.save(reference.backbone.state_dict(), tmp_path / 'backbone.pth')
    with pytest.raises(CheckpointKindError, match=r'bare 3D backbone.*pretrained2d=False'):
        load_model_checkpoint(our_recognizer(), str(tmp_path / 'backbone.pth'))


def test_non_swin_checkpoint_is_named_as_such(tmp_path):
    torch.save({'state_dict': {'conv1.weight': torch.zeros(8, 3, 7, 7)}}, tmp_path / 'resnet.pth')
    with pytest.raises(CheckpointKindError, match=r'resnet\.pth: not a Swin checkpoint'):
        load_model_checkpoint(our_recognizer(), str(tmp_path / 'resnet.pth'))


class _RunsCode:

    def __reduce__(self):
        return builtins.print, ('this must never print',)


def test_model_checkpoint_loading_is_safe(tmp_path, capsys):
    torch.save({'state_dict': {}, 'meta': {'x': _RunsCode()}}, tmp_path / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError, match='builtins.print'):
        load_model_checkpoint(our_recognizer(), str(tmp_path / 'evil.pth'))
    assert 'never print' not in capsys.readouterr().out


def _runner_loading(path: str, work_dir: str) -> Runner:
    install_safe_loader()
    return Runner(model=our_recognizer(), work_dir=work_dir, load_from=path,
                  custom_hooks=[dict(type='CheckpointLayoutHook')], default_scope='videoswin',
                  log_level='WARNING')


def test_runner_load_from_converts_an_mmaction2_checkpoint(reference, tmp_path):
    path = str(tmp_path / 'mmaction2.pth')
    torch.save({'meta': {}, 'state_dict': reference.state_dict()}, path)
    runner = _runner_loading(path, str(tmp_path / 'work'))

    runner.load_or_resume()

    _assert_same_weights(runner.model, reference)


def test_runner_load_from_refuses_a_2d_checkpoint_with_the_right_option(tmp_path):
    kernel = torch.zeros(EMBED, 3, 4, 4)
    torch.save({'model': {'patch_embed.proj.weight': kernel}}, tmp_path / 'swin_2d.pth')
    runner = _runner_loading(str(tmp_path / 'swin_2d.pth'), str(tmp_path / 'work'))

    with pytest.raises(CheckpointKindError, match=r'pretrained2d=True \(not load_from\)'):
        runner.load_or_resume()
