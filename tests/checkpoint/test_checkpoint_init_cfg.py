"""mmengine's ``init_cfg=dict(type='Pretrained', checkpoint=...)`` is read like ``pretrained``
(issue 13.4): same safe loading, same summary, same weights; conflicts are named."""
import pytest
import torch

from helpers.swin_files import MICRO, write_microsoft_swin_2d
from helpers.peer_models import hf_vit, saved
from videoswin.models.backbones.swin3d import SwinTransformer3D
from videoswin.models.backbones.timesformer import TimeSformer
from videoswin.models.backbones.vivit import ViViT

TIMESFORMER = dict(num_frames=4, img_size=32, patch_size=8, embed_dims=48, num_layers=2,
                   num_heads=4)
VIVIT = dict(variant='factorised_encoder', arch=dict(embed_dims=48, num_layers=2, num_heads=4),
             num_frames=4, img_size=32, tubelet_size=(2, 8, 8))


def swin(**kwargs) -> SwinTransformer3D:
    return SwinTransformer3D(**MICRO, window_size=(2, 7, 7), drop_path_rate=0., **kwargs)


def initialised(build, **kwargs) -> dict:
    torch.manual_seed(0)  # the same random start (drawn at construction) for what no file sets
    model = build(**kwargs)
    model.init_weights()
    return model.state_dict()


def assert_equal_states(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_swin_init_cfg_pretrained_equals_pretrained(tmp_path):
    path = str(write_microsoft_swin_2d(tmp_path / 'swin_2d.pth'))
    by_init_cfg = initialised(swin, init_cfg=dict(type='Pretrained', checkpoint=path))
    by_pretrained = initialised(swin, pretrained=path)
    from_scratch = initialised(swin)

    assert_equal_states(by_init_cfg, by_pretrained)
    assert not torch.equal(by_init_cfg['norm.weight'], from_scratch['norm.weight'])


@pytest.mark.parametrize('peer', ['TimeSformer', 'ViViT'])
def test_peer_init_cfg_pretrained_equals_pretrained(tmp_path, peer):
    path = saved(hf_vit('gelu'), tmp_path, 'timm-state-dict')
    build = {'TimeSformer': lambda **kw: TimeSformer(**TIMESFORMER, **kw),
             'ViViT': lambda **kw: ViViT(**VIVIT, **kw)}[peer]
    assert_equal_states(initialised(build, init_cfg=dict(type='Pretrained', checkpoint=path)),
                        initialised(build, pretrained=path))


@pytest.mark.parametrize('init_cfg, message', [
    (dict(type='Pretrained', checkpoint='b.pth'), "pretrained='a.pth' and init_cfg Pretrained "
                                                  "checkpoint='b.pth' disagree"),
    (dict(type='Pretrained', checkpoint='a.pth', prefix='encoder.'), "prefix='encoder.'"),
    (dict(type='Pretrained'), 'needs checkpoint=PATH_OR_URL'),
])
def test_init_cfg_conflicts_are_named(init_cfg, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace('.', r'\.')):
        swin(pretrained='a.pth', init_cfg=init_cfg).init_weights()
