"""VideoClsHead: pooling, loss (hard/soft labels, label smoothing), view fusion."""
import pytest
import torch
import torch.nn.functional as F

from videoswin.models.heads.cls_head import VideoClsHead, topk_accuracy

TOL = dict(rtol=1e-5, atol=1e-6)


def make_head(**kwargs) -> VideoClsHead:
    torch.manual_seed(0)
    head = VideoClsHead(in_channels=8, num_classes=5, **kwargs)
    head.init_weights()
    return head.eval()


def test_state_dict_uses_official_key_names():
    assert set(make_head().state_dict()) == {'fc_cls.weight', 'fc_cls.bias'}


def test_init_is_normal_weight_and_zero_bias():
    head = VideoClsHead(in_channels=512, num_classes=400, init_std=0.01)
    head.init_weights()
    assert torch.all(head.fc_cls.bias == 0)
    assert head.fc_cls.weight.std().item() == pytest.approx(0.01, rel=0.05)


def test_forward_is_global_average_pool_then_linear():
    head = make_head(dropout_ratio=0.5)
    feats = torch.randn(3, 8, 2, 3, 4)
    by_hand = feats.mean(dim=(2, 3, 4)) @ head.fc_cls.weight.T + head.fc_cls.bias
    torch.testing.assert_close(head(feats), by_hand, **TOL)
    torch.testing.assert_close(head(feats.mean(dim=(2, 3, 4))), by_hand, **TOL)  # pooled input


def test_dropout_acts_in_training_only():
    head = make_head(dropout_ratio=0.5).train()
    feats = torch.randn(64, 8, 1, 1, 1)
    assert not torch.allclose(head(feats), head.eval()(feats))


def test_wrong_channel_count_is_a_clear_error():
    with pytest.raises(ValueError, match='in_channels'):
        make_head()(torch.randn(2, 7, 1, 2, 2))


def test_unknown_fusion_is_rejected():
    with pytest.raises(ValueError, match='average_clips'):
        VideoClsHead(8, 5, average_clips='max')


def test_hard_label_loss_is_cross_entropy_and_reports_topk():
    head = make_head(topk=(1, 5, 10))  # 10 > num_classes is skipped
    logits, labels = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 4, 0])
    losses = head.loss(logits, labels)
    by_hand = -(logits.log_softmax(dim=1)[torch.arange(6), labels]).mean()
    torch.testing.assert_close(losses['loss_cls'], by_hand, **TOL)
    assert set(losses) == {'loss_cls', 'top1_acc', 'top5_acc'}
    top1 = (logits.argmax(dim=1) == labels).float().mean()
    torch.testing.assert_close(losses['top1_acc'], top1)
    assert losses['top5_acc'].item() == 1.0


def test_label_smoothing_matches_the_smoothed_target_formula():
    eps = 0.2
    head = make_head(label_smooth_eps=eps)
    logits, labels = torch.randn(4, 5), torch.tensor([1, 0, 4, 2])
    target = (1 - eps) * F.one_hot(labels, 5).float() + eps / 5
    by_hand = -(target * logits.log_softmax(dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(head.loss(logits, labels)['loss_cls'], by_hand, **TOL)


def test_soft_labels_give_soft_cross_entropy_with_smoothing_on_top():
    eps = 0.1
    head = make_head(label_smooth_eps=eps)
    logits = torch.randn(4, 5)
    soft = torch.softmax(torch.randn(4, 5), dim=1)  # e.g. from mixup
    target = (1 - eps) * soft + eps / 5
    by_hand = -(target * logits.log_softmax(dim=1)).sum(dim=1).mean()
    losses = head.loss(logits, soft)
    torch.testing.assert_close(losses['loss_cls'], by_hand, **TOL)
    assert 'top1_acc' not in losses  # accuracy is undefined for soft targets


def test_loss_accepts_bfloat16_logits():
    """Under CPU AMP the logits are bf16; numpy has no bf16, so nothing may go through it."""
    head = make_head()
    logits, labels = torch.randn(4, 5), torch.tensor([1, 0, 4, 2])
    losses16 = head.loss(logits.bfloat16(), labels)
    torch.testing.assert_close(losses16['loss_cls'], head.loss(logits, labels)['loss_cls'],
                               rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(losses16['top1_acc'],
                               (logits.bfloat16().argmax(1) == labels).float().mean())


def test_prob_fusion_is_the_mean_of_per_view_softmax():
    head = make_head(average_clips='prob')
    logits = torch.randn(2, 6, 5)  # 2 videos x 6 views
    by_hand = torch.stack([
        sum(torch.exp(v) / torch.exp(v).sum() for v in video) / len(video) for video in logits])
    torch.testing.assert_close(head.fuse_views(logits), by_hand, **TOL)


def test_score_fusion_is_the_mean_of_logits_and_none_keeps_views():
    logits = torch.randn(2, 6, 5)
    torch.testing.assert_close(make_head(average_clips='score').fuse_views(logits),
                               logits.mean(dim=1), **TOL)
    assert torch.equal(make_head(average_clips=None).fuse_views(logits), logits)


def test_topk_accuracy_counts_label_among_k_best():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.15, 0.05], [0.2, 0.3, 0.5]])
    labels = torch.tensor([0, 0, 1])
    top1, top2 = topk_accuracy(logits, labels, (1, 2))
    assert top1.item() == pytest.approx(1 / 3)  # only row 1
    assert top2.item() == pytest.approx(1.0)  # every label is in the two best
