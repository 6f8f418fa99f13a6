"""The recognizer: backbone + classification head, trained on clips, tested on views.

A batch from the data preprocessor is (N, V, C, T, H, W): N videos with V views
each (V = clips x crops; V = 1 in training). Every view goes through the backbone
and the head on its own; at test time the V per-view results of a video are fused
by the head (``average_clips``).
"""
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from mmaction.structures import ActionDataSample
from mmengine.model import BaseModel
from mmengine.structures import LabelData
from torch import nn

from videoswin.registry import MODELS

TEST_CFG_KEYS = ('max_testing_views', 'feature_extraction')


@MODELS.register_module()
class VideoRecognizer(BaseModel):
    """Backbone -> ``VideoClsHead``, with multi-view testing and a feature mode.

    Args:
        backbone: config of the backbone, e.g. ``SwinTransformer3D``; it maps
            (B, C, T, H, W) to (B, C', T', H', W') (the last map if it returns several).
        cls_head: config of the head (``VideoClsHead``), which also holds the
            test-time fusion ``average_clips``.
        data_preprocessor: config (or module) of the data preprocessor (default:
            ``ActionDataPreprocessor`` that only stacks the batch).
        test_cfg: ``max_testing_views`` (int or None): at most that many views
            go through the backbone at once, whatever the test batch size; it bounds
            memory and leaves the scores unchanged. ``feature_extraction`` (bool):
            ``predict`` stores each video's backbone features, pooled over
            T, H, W and averaged over its views, as ``data_sample.pred_features`` (C',)
            instead of class scores.
        init_cfg: mmengine init config (the backbone loads ``pretrained`` itself).
    """

    def __init__(self,
                 backbone: dict,
                 cls_head: dict,
                 data_preprocessor: Union[dict, nn.Module, None] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        # Built from our registry (not mmengine's root one), so that mmaction2's
        # preprocessors resolve even when no default scope is set.
        preprocessor = data_preprocessor or dict(type='ActionDataPreprocessor')
        if not isinstance(preprocessor, nn.Module):
            preprocessor = MODELS.build(preprocessor)
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.cls_head = MODELS.build(cls_head)
        test_cfg = dict(test_cfg or {})
        unknown = sorted(set(test_cfg) - set(TEST_CFG_KEYS))
        if unknown:
            raise KeyError(f'model.test_cfg: unknown keys {unknown}; known: {TEST_CFG_KEYS} '
                           '(test-time fusion is model.cls_head.average_clips)')
        self.max_testing_views = test_cfg.get('max_testing_views')
        if self.max_testing_views is not None and (
                not isinstance(self.max_testing_views, int) or self.max_testing_views < 1):
            raise ValueError('model.test_cfg.max_testing_views must be a positive int or None, '
                             f'got {self.max_testing_views!r}')
        self.feature_extraction = bool(test_cfg.get('feature_extraction', False))

    # ----------------------------------------------------------------- entry point
    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[ActionDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], List[ActionDataSample],
                                               torch.Tensor]:
        """mmengine's three modes.

        * ``'loss'``: dict of losses (and training top-k accuracies).
        * ``'predict'``: the data samples with ``pred_scores``/``pred_labels`` (or
          ``pred_features`` in feature mode).
        * ``'tensor'``: per-view logits (N, V, K), or in feature mode the pooled,
          view-averaged features (N, C').
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs) if self.feature_extraction else self.view_logits(inputs)
        raise ValueError(f'unknown mode {mode!r}; use "loss", "predict" or "tensor"')

    # ------------------------------------------------------------------- training
    def loss(self, inputs: torch.Tensor,
             data_samples: List[ActionDataSample]) -> Dict[str, torch.Tensor]:
        """Cross-entropy on the clips' logits (averaged over views if a sample has several)."""
        views, num_videos, num_views = _flatten_views(inputs)
        logits = self.cls_head(self._backbone(views))
        logits = logits.view(num_videos, num_views, -1).mean(dim=1)
        return self.cls_head.loss(logits, _stack_labels(data_samples))

    # -------------------------------------------------------------------- testing
    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[ActionDataSample]] = None) -> List[ActionDataSample]:
        """Fused class scores per video (or pooled features in feature mode)."""
        if data_samples is None:
            data_samples = [ActionDataSample() for _ in range(inputs.shape[0])]
        if self.feature_extraction:
            for sample, feature in zip(data_samples, self.extract_feat(inputs)):
                sample.pred_features = feature
            return data_samples
        scores = self.cls_head.fuse_views(self.view_logits(inputs))
        for sample, score in zip(data_samples, scores):
            sample.pred_scores = LabelData(item=score)
            sample.pred_labels = LabelData(item=score.argmax(dim=-1, keepdim=True))
        return data_samples

    def view_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, V, C, T, H, W) or (N, C, T, H, W) -> per-view logits (N, V, K)."""
        views, num_videos, num_views = _flatten_views(inputs)
        logits = self._in_chunks(views, lambda chunk: self.cls_head(self._backbone(chunk)))
        return logits.view(num_videos, num_views, -1)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, V, C, T, H, W) or (N, C, T, H, W) -> backbone features pooled over
        T, H, W and averaged over the V views: (N, C')."""
        views, num_videos, num_views = _flatten_views(inputs)
        feats = self._in_chunks(views, lambda chunk: self.cls_head.pool(self._backbone(chunk)))
        return feats.view(num_videos, num_views, -1).mean(dim=1)

    # ------------------------------------------------------------------- helpers
    def _backbone(self, clips: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(clips)
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def _in_chunks(self, views: torch.Tensor,
                   fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``fn`` on at most ``max_testing_views`` views at a time, results concatenated.

        Views are independent, so where the chunks fall (even across videos of a
        batch) does not change any result; only the peak memory goes down.
        """
        step = self.max_testing_views or views.shape[0]
        return torch.cat([fn(views[start:start + step])
                          for start in range(0, views.shape[0], step)])


def _flatten_views(inputs: torch.Tensor) -> Tuple[torch.Tensor, int, int]:
    """(N, V, C, T, H, W) -> (N * V, C, T, H, W), N, V; a 5-D input has V = 1."""
    if inputs.dim() == 5:
        return inputs, inputs.shape[0], 1
    if inputs.dim() != 6:
        raise ValueError('VideoRecognizer expects (N, V, C, T, H, W) or (N, C, T, H, W) '
                         f"inputs (data_preprocessor format_shape='NCTHW'), got {tuple(inputs.shape)}")
    return inputs.flatten(0, 1), inputs.shape[0], inputs.shape[1]


def _stack_labels(data_samples: List[ActionDataSample]) -> torch.Tensor:
    """Hard labels -> (N,) int64; soft labels (float, one value per class) -> (N, K)."""
    labels = [sample.gt_labels.item for sample in data_samples]
    if all(label.is_floating_point() for label in labels):
        return torch.stack(labels)
    if all(not label.is_floating_point() and label.numel() == 1 for label in labels):
        return torch.cat([label.view(1) for label in labels])
    raise ValueError('VideoRecognizer: each gt_labels must be one class index or one '
                     'probability per class (soft label); multi-label index lists are '
                     'not supported')
