"""VideoRecognizer: training loss, multi-view testing, view chunking, feature mode."""

import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.config import Config

from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

from helpers import REPO_ROOT

EMBED = 8  # a 4-stage Swin outputs 8 * EMBED channels
TOL = dict(rtol=1e-5, atol=1e-5)


def build(**test_cfg):
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='VideoRecognizer',
        backbone=dict(type='SwinTransformer3D', embed_dim=EMBED, depths=(1, 1, 1, 1),
                      num_heads=(1, 1, 2, 2), patch_size=(2, 4, 4), window_size=(2, 4, 4),
                      drop_path_rate=0.0, pretrained=None, pretrained2d=False),
        cls_head=dict(type='VideoClsHead', in_channels=8 * EMBED, num_classes=3,
                      dropout_ratio=0.5, average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor', mean=[0.0] * 3, std=[1.0] * 3,
                               format_shape='NCTHW'),
        test_cfg=test_cfg))
    model.init_weights()
    return model.eval()


def samples(labels):
    return [ActionDataSample().set_gt_labels(label) for label in labels]


@pytest.fixture(scope='module')
def views():
    """3 videos x 5 views (e.g. clips x crops) of 3 x 4 x 32 x 32."""
    return torch.randn(3, 5, 3, 4, 32, 32, generator=torch.Generator().manual_seed(1))


def per_view_logits_by_hand(model, views):
    """Every view through backbone and head on its own, one at a time."""
    with torch.no_grad():
        return torch.stack([torch.stack([model.cls_head(model.backbone(view[None]))[0]
                                         for view in video]) for video in views])


def test_predict_fuses_views_as_the_mean_of_per_view_softmax(views):
    model = build()
    with torch.no_grad():
        results = model.predict(views, samples([0, 1, 2]))
    expected = per_view_logits_by_hand(model, views).softmax(dim=-1).mean(dim=1)
    scores = torch.stack([r.pred_scores.item for r in results])
    torch.testing.assert_close(scores, expected, **TOL)
    labels = torch.cat([r.pred_labels.item for r in results])
    assert torch.equal(labels, expected.argmax(dim=1))


@pytest.mark.parametrize('max_views', [1, 2, 4, 7, 100])
def test_max_testing_views_bounds_backbone_batch_and_keeps_scores(views, max_views):
    """Chunks may cross video boundaries (batch of 3 videos x 5 views), unlike mmaction2#1440."""
    reference = build()
    chunked = build(max_testing_views=max_views)
    seen = []
    chunked.backbone.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    with torch.no_grad():
        expected = torch.stack([r.pred_scores.item for r in reference.predict(views)])
        scores = torch.stack([r.pred_scores.item for r in chunked.predict(views)])
    torch.testing.assert_close(scores, expected, **TOL)
    assert max(seen) == min(max_views, 15) and sum(seen) == 15


def test_feature_mode_returns_view_averaged_pooled_backbone_features(views):
    model = build(feature_extraction=True)
    with torch.no_grad():
        by_hand = torch.stack([
            torch.stack([model.backbone(view[None]).mean(dim=(2, 3, 4))[0] for view in video])
            .mean(dim=0) for video in views])
        tensor_out = model(views, mode='tensor')
        results = model.predict(views, samples([0, 1, 2]))
    assert tensor_out.shape == (3, 8 * EMBED)
    torch.testing.assert_close(tensor_out, by_hand, **TOL)
    torch.testing.assert_close(torch.stack([r.pred_features for r in results]), by_hand, **TOL)
    assert not any('pred_scores' in r for r in results)


def test_feature_mode_with_chunking_gives_the_same_features(views):
    with torch.no_grad():
        whole = build(feature_extraction=True)(views, mode='tensor')
        chunked = build(feature_extraction=True, max_testing_views=4)(views, mode='tensor')
    torch.testing.assert_close(chunked, whole, **TOL)


def test_tensor_mode_returns_per_view_logits(views):
    model = build()
    with torch.no_grad():
        torch.testing.assert_close(model(views, mode='tensor'),
                                   per_view_logits_by_hand(model, views), **TOL)


def test_loss_is_cross_entropy_of_the_clip_logits_and_trains_the_backbone():
    model = build().train()
    model.cls_head.dropout.p = 0.0
    clips = torch.randn(4, 1, 3, 4, 32, 32)
    labels = [0, 2, 1, 2]
    losses = model(clips, samples(labels), mode='loss')
    logits = model.cls_head(model.backbone(clips[:, 0]))
    torch.testing.assert_close(
        losses['loss_cls'], torch.nn.functional.cross_entropy(logits, torch.tensor(labels)), **TOL)
    losses['loss_cls'].backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert 'top1_acc' in losses


def test_training_on_several_views_averages_their_logits():
    model = build().train()
    model.cls_head.dropout.p = 0.0
    clips = torch.randn(2, 3, 3, 4, 32, 32)
    loss = model(clips, samples([1, 0]), mode='loss')['loss_cls']
    logits = model.cls_head(model.backbone(clips.flatten(0, 1))).view(2, 3, -1).mean(dim=1)
    torch.testing.assert_close(
        loss, torch.nn.functional.cross_entropy(logits, torch.tensor([1, 0])), **TOL)


def test_soft_labels_in_data_samples_are_used_as_targets():
    model = build().train()
    model.cls_head.dropout.p = 0.0
    clips = torch.randn(2, 1, 3, 4, 32, 32)
    soft = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.5, 0.5]])
    data_samples = samples([0, 1])
    for sample, target in zip(data_samples, soft):
        sample.gt_labels.item = target
    loss = model(clips, data_samples, mode='loss')['loss_cls']
    logp = model.cls_head(model.backbone(clips[:, 0])).log_softmax(dim=1)
    torch.testing.assert_close(loss, -(soft * logp).sum(dim=1).mean(), **TOL)


def test_multi_label_index_lists_are_refused_clearly():
    model = build().train()
    data_samples = [ActionDataSample().set_gt_labels([0, 2])]
    with pytest.raises(ValueError, match='multi-label'):
        model(torch.randn(1, 1, 3, 4, 32, 32), data_samples, mode='loss')


def test_train_and_test_steps_run_through_the_data_preprocessor():
    """The mmengine path: packed uint8 views -> preprocessor -> loss / predict."""
    model = build()
    data = dict(inputs=[torch.randint(0, 255, (2, 3, 4, 32, 32), dtype=torch.uint8)] * 2,
                data_samples=samples([0, 1]))
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    from mmengine.optim import OptimWrapper
    log_vars = model.train().train_step(dict(data, inputs=[x[:1] for x in data['inputs']]),
                                        OptimWrapper(optim))
    assert 'loss' in log_vars and torch.isfinite(log_vars['loss'])
    results = model.eval().test_step(data)
    assert results[0].pred_scores.item.shape == (3,)
    assert results[0].pred_scores.item.sum().item() == pytest.approx(1.0, abs=1e-5)


def test_unknown_test_cfg_key_names_the_right_place():
    with pytest.raises(KeyError, match='average_clips'):
        build(average_clips='prob')


def test_bad_max_testing_views_is_refused():
    with pytest.raises(ValueError, match='max_testing_views'):
        build(max_testing_views=0)


# Published sizes with a 400-class head (the README's recipe table: 28.2M / 49.8M / 88.1M / 197.0M).
@pytest.mark.parametrize('variant,params_m', [('tiny', 28.2), ('small', 49.8), ('base', 88.1),
                                              ('large', 197.0)])
def test_base_model_configs_build_the_published_variants(variant, params_m):
    register_all_modules()
    cfg = Config.fromfile(str(REPO_ROOT / f'configs/_base_/models/swin_{variant}.py'))
    with torch.device('meta'):  # shapes only: no memory, no init cost
        model = MODELS.build(cfg.model)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert count == pytest.approx(params_m, abs=0.1)
    embed_dim = cfg.model.backbone.embed_dim
    assert model.cls_head.fc_cls.weight.shape == (400, 8 * embed_dim)
    assert cfg.model.cls_head.in_channels == 8 * embed_dim
