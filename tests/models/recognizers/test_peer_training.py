"""The peer backbones inside the videoswin recognizer: a training step reaches every
parameter (DDP runs with find_unused_parameters=False), and multi-view testing fuses
per-view scores whatever the backbone's output shape.
"""
import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.structures import LabelData

from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

register_all_modules()

VIT = dict(embed_dims=32, num_layers=2, num_heads=4)
BACKBONES = {
    **{f'timesformer-{a}': dict(type='TimeSformer', num_frames=4, img_size=32, patch_size=8,
                                attention_type=a, drop_path_rate=0.1, **VIT)
       for a in ('divided_space_time', 'joint_space_time', 'space_only')},
    **{f'vivit-{v}': dict(type='ViViT', variant=v, arch=VIT, num_frames=4, img_size=32,
                          tubelet_size=(2, 8, 8), temporal_num_layers=1, drop_path_rate=0.1)
       for v in ('spatio_temporal', 'factorised_encoder', 'factorised_self_attention',
                 'factorised_dot_product')},
    'dualformer': dict(type='DualFormer',
                       arch=dict(embed_dims=(8, 16, 32, 32), num_heads=(1, 2, 2, 4),
                                 depths=(2, 2, 2, 2)),
                       num_frames=4, img_size=64, window_size=(2, 4, 4),
                       fine_pyramid=((2, 4, 4), (2, 4, 4), (2, 2, 2), (2, 2, 2)),
                       coarse_pyramid=(1, 2, 2), drop_path_rate=0.1),
}


def recognizer(name: str) -> torch.nn.Module:
    return MODELS.build(dict(
        type='VideoRecognizer', backbone=BACKBONES[name],
        cls_head=dict(type='VideoClsHead', in_channels=32, num_classes=3, init_std=0.02),
        test_cfg=dict(max_testing_views=2)))


def samples(labels):
    out = []
    for label in labels:
        sample = ActionDataSample()
        sample.gt_labels = LabelData(item=torch.tensor(label))
        out.append(sample)
    return out


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_training_step_reaches_every_parameter(name):
    torch.manual_seed(0)
    model = recognizer(name).train()
    size = 64 if name == 'dualformer' else 32
    clips = torch.randn(2, 1, 3, 4, size, size)
    losses = model(clips, samples([0, 2]), mode='loss')
    losses['loss_cls'].backward()
    assert torch.isfinite(losses['loss_cls'])
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert no_grad == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize('name', ['timesformer-divided_space_time', 'vivit-factorised_dot_product',
                                  'dualformer'])
def test_multi_view_prediction_fuses_the_per_view_scores(name):
    model = recognizer(name).eval()
    size = 64 if name == 'dualformer' else 32
    clips = torch.randn(2, 3, 3, 4, size, size)                     # 2 videos x 3 views
    with torch.no_grad():
        predicted = model(clips, mode='predict')
        per_view = torch.stack([model.cls_head(model.backbone(clips[:, v])) for v in range(3)], 1)
    expected = per_view.softmax(dim=-1).mean(dim=1)
    for video, sample in enumerate(predicted):
        torch.testing.assert_close(sample.pred_scores.item, expected[video], atol=1e-5, rtol=0)
