"""The classification head: global average pool -> dropout -> ``fc_cls``.

Parameter names follow the official Video Swin release (``cls_head.fc_cls.weight``,
``cls_head.fc_cls.bias``), so official checkpoints load into it unchanged.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from videoswin.registry import MODELS

FUSIONS = ('prob', 'score', None)


@MODELS.register_module()
class VideoClsHead(BaseModule):
    """Linear classifier on globally pooled backbone features.

    Args:
        in_channels: channels of the backbone output (8C for a 4-stage Swin).
        num_classes: number of classes.
        dropout_ratio: dropout before ``fc_cls`` (training only).
        label_smooth_eps: label smoothing; the target becomes
            ``(1 - eps) * y + eps / num_classes``, for hard and soft labels alike.
        average_clips: how test views of one video are fused: ``'prob'`` = mean
            of per-view softmax, ``'score'`` = mean of per-view logits, ``None`` =
            no fusion (per-view logits are kept).
        topk: top-k training accuracies to log (k larger than num_classes is skipped).
        init_std: std of the normal init of ``fc_cls.weight`` (bias starts at 0).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 dropout_ratio: float = 0.5,
                 label_smooth_eps: float = 0.0,
                 average_clips: Optional[str] = 'prob',
                 topk: Sequence[int] = (1, 5),
                 init_std: float = 0.01,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if average_clips not in FUSIONS:
            raise ValueError(f'average_clips must be one of {FUSIONS}, got {average_clips!r}')
        if not 0 <= label_smooth_eps < 1:
            raise ValueError(f'label_smooth_eps must be in [0, 1), got {label_smooth_eps}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.label_smooth_eps = label_smooth_eps
        self.average_clips = average_clips
        self.topk = tuple(k for k in topk if k <= num_classes)
        self.init_std = init_std
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            nn.init.normal_(self.fc_cls.weight, std=self.init_std)
            nn.init.zeros_(self.fc_cls.bias)

    @staticmethod
    def pool(feats: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) or (N, C) -> (N, C): average over every axis after C."""
        return feats.flatten(2).mean(dim=2) if feats.dim() > 2 else feats

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Backbone features (N, C, T, H, W), or already pooled (N, C) -> logits (N, K)."""
        if feats.shape[1] != self.in_channels:
            raise ValueError(f'VideoClsHead expects {self.in_channels} channels (in_channels), '
                             f'got features of shape {tuple(feats.shape)}')
        return self.fc_cls(self.dropout(self.pool(feats)))

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Cross-entropy against hard labels (N,) or soft labels (N, K), plus top-k accuracy.

        Soft labels (probabilities) come from mixup/cutmix blending or from the user;
        label smoothing is applied on top of either kind.
        """
        losses = {}
        if labels.dim() == 1:
            for k, acc in zip(self.topk, topk_accuracy(logits.detach(), labels, self.topk)):
                losses[f'top{k}_acc'] = acc
        else:
            labels = labels.float()
        losses['loss_cls'] = F.cross_entropy(
            logits.float(), labels, label_smoothing=self.label_smooth_eps)
        return losses

    def fuse_views(self, logits: torch.Tensor) -> torch.Tensor:
        """Per-view logits (N, V, K) -> video scores (N, K), or (N, V, K) when not fused."""
        if self.average_clips == 'prob':
            return logits.float().softmax(dim=-1).mean(dim=1)
        if self.average_clips == 'score':
            return logits.float().mean(dim=1)
        return logits.float()


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor,
                  topk: Sequence[int]) -> List[torch.Tensor]:
    """Fraction of rows whose label is among the k highest logits, for each k.

    Computed in torch on float32 copies, so it works under bf16 autocast (numpy has
    no bfloat16) and on any device.
    """
    if not topk:
        return []
    ranked = logits.float().topk(max(topk), dim=1).indices
    hits = ranked == labels.view(-1, 1)
    return [hits[:, :k].any(dim=1).float().mean() for k in topk]
