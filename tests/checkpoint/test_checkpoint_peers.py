"""Recognizers with a backbone other than Swin (TimeSformer, ViViT, DualFormer) round-trip
through ``load_model_checkpoint`` and the Runner's ``load_from``: their keys are loaded as
saved, with the strict checks and the summary line of the Swin route, and none of the Swin
conversions (norm3 rename, 2D-vs-3D by patch kernel rank, inflation) touches them.
"""
from unittest import mock

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from torch import nn

from videoswin.checkpoint import (CheckpointKindError, CheckpointMismatchError,
                                  install_safe_loader, load_model_checkpoint)
from videoswin.models.backbones.swin3d_weights import read_checkpoint
from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

register_all_modules()

VIT = dict(embed_dims=32, num_layers=2, num_heads=4)
# Small enough for CPU CI; each keeps the structure (class tokens, tables, pyramid) of the
# full-size model. The size is the side of the square clip the backbone takes.
BACKBONES = {
    'timesformer': (dict(type='TimeSformer', num_frames=4, img_size=32, patch_size=8,
                         attention_type='divided_space_time', **VIT), 32),
    'vivit-factorised_encoder': (dict(type='ViViT', variant='factorised_encoder', arch=VIT,
                                      num_frames=4, img_size=32, tubelet_size=(2, 8, 8),
                                      temporal_num_layers=1), 32),
    'vivit-factorised_self_attention': (dict(type='ViViT', variant='factorised_self_attention',
                                             arch=VIT, num_frames=4, img_size=32,
                                             tubelet_size=(2, 8, 8)), 32),
    'dualformer': (dict(type='DualFormer',
                        arch=dict(embed_dims=(8, 16, 32, 32), num_heads=(1, 2, 2, 4),
                                  depths=(1, 1, 1, 1)),
                        num_frames=4, img_size=64, window_size=(2, 4, 4),
                        fine_pyramid=((2, 4, 4), (2, 4, 4), (2, 2, 2), (2, 2, 2)),
                        coarse_pyramid=(1, 2, 2)), 64),
}


def recognizer(name: str, seed: int, num_classes: int = 3, **backbone_changes) -> nn.Module:
    """The named recognizer with every parameter and buffer drawn from ``seed``."""
    backbone = dict(BACKBONES[name][0], **backbone_changes)
    model = MODELS.build(dict(
        type='VideoRecognizer', backbone=backbone,
        cls_head=dict(type='VideoClsHead', in_channels=32, num_classes=num_classes)))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(0.2 * torch.randn(tensor.shape, generator=generator))
    return model.eval()


def scores(model: nn.Module, size: int) -> torch.Tensor:
    clip = torch.randn(2, 3, 4, size, size, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        return model.cls_head(model.backbone(clip))


def save(model: nn.Module, path) -> str:
    """As our tools save a model: the official ``{'meta', 'state_dict'}`` container."""
    torch.save({'meta': {'epoch': 3}, 'state_dict': model.state_dict()}, path)
    return str(path)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_peer_recognizer_round_trips_with_identical_outputs(name, tmp_path):
    saved = recognizer(name, seed=0)
    path = save(saved, tmp_path / f'{name}.pth')
    fresh = recognizer(name, seed=1)
    assert not torch.equal(scores(fresh, BACKBONES[name][1]), scores(saved, BACKBONES[name][1]))

    summary = load_model_checkpoint(fresh, path)

    assert summary.loaded == len(saved.state_dict())
    assert summary.missing == [] and summary.ignored == [] and summary.inflated == 0
    assert summary.meta == {'epoch': 3} and 'plain layout' in summary.kind
    assert str(summary) == (f'{path} (video recognizer, plain layout (no Swin conversions)): '
                            f'loaded {summary.loaded}, inflated 0, ignored 0, missing 0')
    for key, value in saved.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    torch.testing.assert_close(scores(fresh, BACKBONES[name][1]),
                               scores(saved, BACKBONES[name][1]), rtol=0, atol=0)


def test_peer_recognizer_is_detected_as_a_plain_recognizer_not_a_2d_swin(tmp_path):
    # TimeSformer's backbone.patch_embed.proj.weight is 4-D, like a 2D Swin's.
    model = recognizer('timesformer', seed=0)
    assert model.state_dict()['backbone.patch_embed.proj.weight'].dim() == 4
    state, info = read_checkpoint(save(model, tmp_path / 'timesformer.pth'))

    assert (info.layout, info.scope, info.dims) == ('plain', 'recognizer', 3)
    assert state.keys() == model.state_dict().keys()


def test_a_2d_swin_wrapped_as_a_recognizer_is_still_refused(tmp_path):
    state = {'backbone.patch_embed.proj.weight': torch.zeros(16, 3, 4, 4),
             'backbone.layers.0.blocks.0.norm1.weight': torch.ones(16),
             'cls_head.fc_cls.weight': torch.zeros(5, 128)}
    torch.save({'state_dict': state}, tmp_path / 'wrapped_2d.pth')
    with pytest.raises(CheckpointKindError, match='a 2D image model wrapped with backbone'):
        read_checkpoint(str(tmp_path / 'wrapped_2d.pth'))


def test_peer_mis_shaped_keys_are_named_and_strict_false_loads_the_rest(tmp_path):
    path = save(recognizer('timesformer', seed=0, num_classes=3), tmp_path / 'k3.pth')
    model = recognizer('timesformer', seed=1, num_classes=4, img_size=48)

    with pytest.raises(CheckpointMismatchError,
                       match=r'shapes differ for backbone\.pos_embed \(checkpoint \(1, 17, 32\), '
                       r'model \(1, 37, 32\)\); cls_head\.fc_cls\.weight \(checkpoint \(3, 32\), '
                       r'model \(4, 32\)\); cls_head\.fc_cls\.bias'):
        load_model_checkpoint(model, path)

    head_before = model.cls_head.fc_cls.weight.detach().clone()
    summary = load_model_checkpoint(model, path, strict=False)
    mis_shaped = ['backbone.pos_embed', 'cls_head.fc_cls.weight', 'cls_head.fc_cls.bias']
    assert summary.ignored == summary.missing == mis_shaped
    assert summary.loaded == len(model.state_dict()) - 3
    assert torch.equal(model.cls_head.fc_cls.weight, head_before)


def test_peer_missing_and_unknown_keys_fail_a_strict_load(tmp_path):
    two_layers = save(recognizer('vivit-factorised_encoder', seed=0), tmp_path / 'two.pth')
    deeper = recognizer('vivit-factorised_encoder', seed=0,
                        arch=dict(VIT, num_layers=3))
    with pytest.raises(CheckpointMismatchError,
                       match=r'model keys missing from the file '
                       r'\[backbone\.spatial_encoder\.blocks\.2\.'):
        load_model_checkpoint(deeper, two_layers)

    three_layers = save(deeper, tmp_path / 'three.pth')
    with pytest.raises(CheckpointMismatchError,
                       match=r'keys the model does not have '
                       r'\[backbone\.spatial_encoder\.blocks\.2\.'):
        load_model_checkpoint(recognizer('vivit-factorised_encoder', seed=0), three_layers)


def test_peer_model_refuses_a_file_without_recognizer_keys(tmp_path):
    torch.save(recognizer('timesformer', seed=0).backbone.state_dict(), tmp_path / 'bare.pth')
    with pytest.raises(CheckpointKindError,
                       match=r'bare\.pth: not a whole-recognizer checkpoint for a TimeSformer'):
        load_model_checkpoint(recognizer('timesformer', seed=1), str(tmp_path / 'bare.pth'))


def test_swin_model_given_a_peer_checkpoint_names_the_keys_that_differ(tmp_path):
    path = save(recognizer('timesformer', seed=0), tmp_path / 'timesformer.pth')
    swin = MODELS.build(dict(
        type='VideoRecognizer',
        backbone=dict(type='SwinTransformer3D', embed_dim=8, depths=(1, 1, 1, 1),
                      num_heads=(1, 1, 1, 1), window_size=(2, 2, 2)),
        cls_head=dict(type='VideoClsHead', in_channels=64, num_classes=3)))
    with pytest.raises(CheckpointMismatchError,
                       match=r'timesformer\.pth \(video recognizer, plain layout.*keys the model '
                       r'does not have \[backbone\.cls_token'):
        load_model_checkpoint(swin, path)


def test_runner_load_from_loads_a_peer_recognizer_with_the_layout_hook(tmp_path):
    saved = recognizer('dualformer', seed=0)
    path = save(saved, tmp_path / 'dualformer.pth')
    install_safe_loader()
    runner = Runner(model=recognizer('dualformer', seed=1), work_dir=str(tmp_path / 'work'),
                    load_from=path, custom_hooks=[dict(type='CheckpointLayoutHook')],
                    default_scope='videoswin', log_level='WARNING')

    runner.load_or_resume()

    for key, value in saved.state_dict().items():
        assert torch.equal(runner.model.state_dict()[key], value), key



# a wider first stage, so that the saved tensors cannot fit
WIDER = {'timesformer': dict(embed_dims=64),
         'vivit-factorised_encoder': dict(arch=dict(VIT, embed_dims=64)),
         'vivit-factorised_self_attention': dict(arch=dict(VIT, embed_dims=64)),
         'dualformer': dict(arch=dict(BACKBONES['dualformer'][0]['arch'],
                                      embed_dims=(16, 16, 32, 32)))}


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_peer_pretrained_goes_through_the_shared_summary_and_shape_check(name, tmp_path):
    saved = recognizer(name, seed=0)
    path = save(saved, tmp_path / f'{name}.pth')
    backbone = MODELS.build(dict(BACKBONES[name][0], pretrained=path))
    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'log', wraps=logger.log) as log:
        backbone.init_weights()

    summaries = [call.args[1] for call in log.call_args_list if call.args[1].startswith(path)]
    assert len(summaries) == 1 and f'loaded {len(backbone.state_dict())},' in summaries[0]
    assert 'missing 0' in summaries[0] and 'shape-mismatched' not in summaries[0]
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, saved.state_dict()[f'backbone.{key}']), key

    wider = MODELS.build(dict(BACKBONES[name][0], pretrained=path, **WIDER[name]))
    with pytest.raises(CheckpointMismatchError,
                       match=rf'{name}\.pth \(video .*\) does not fit .*: shapes differ') as error:
        wider.init_weights()
    assert 'load_what_fits' not in str(error.value)  # the peers have no such switch
