"""Building a recognizer from a config and running it on one video.

The video goes through the config's own test pipeline (the one ``tools/test.py`` uses:
clip sampling, resize, crops), so a prediction here equals the prediction of a test run
on the same file. A video is a path (decoded by the pipeline) or an array of RGB frames
(T, H, W, 3) uint8, which replaces the pipeline's decoding steps.
"""
import copy
import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import MMLogger
from torch import nn

PathLike = Union[str, Path]
Video = Union[str, Path, np.ndarray]


class ClassScore(NamedTuple):
    """One entry of a ranked prediction."""
    index: int
    name: str
    score: float


def init_recognizer(config: Union[PathLike, Config], checkpoint: Optional[PathLike] = None,
                    device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """Build the config's model, load ``checkpoint`` into it and put it in eval mode.

    Args:
        config: a config file or a loaded ``Config``; it is copied, not modified.
        checkpoint: any checkpoint ``videoswin.checkpoint.load_model_checkpoint`` reads
            (ours, the official release, mmaction2's). Without one, the weights are those
            of ``init_weights()`` (random, or the backbone's ``pretrained`` file).
        device: where the model runs.

    Returns:
        The recognizer, with the config attached as ``model.cfg`` and, when the
        checkpoint records them, the dataset's class names in ``model.dataset_meta``.
    """
    from videoswin.registry import MODELS
    from videoswin.utils import register_all_modules

    if not isinstance(config, (str, Path, Config)):
        raise TypeError(f'init_recognizer: config must be a config file path or a Config, '
                        f'got {type(config).__name__} {config!r:.200}')
    cfg = Config.fromfile(str(config)) if isinstance(config, (str, Path)) else copy.deepcopy(config)
    if 'model' not in cfg:
        raise ValueError(f'{config}: the config has no "model" section')
    register_all_modules(init_default_scope=True)
    if checkpoint is not None and 'backbone' in cfg.model:
        # Every weight comes from the checkpoint: skip reading the backbone's pretrained file.
        cfg.model.backbone.pretrained = None
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        with _without_init_report():
            model.init_weights()
    else:
        from videoswin.checkpoint import load_model_checkpoint
        summary = load_model_checkpoint(model, str(checkpoint))
        # mmengine checkpoints carry the dataset's metainfo (class names) in their meta.
        dataset_meta = summary.meta.get('dataset_meta')
        if dataset_meta:
            model.dataset_meta = dataset_meta
    model.cfg = cfg
    return model.to(device).eval()


class _InitReportFilter(logging.Filter):
    """Drops the one-line-per-parameter report mmengine logs after ``init_weights``."""
    PATTERN = re.compile(r'^\n\S+ - torch\.Size\(')

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.PATTERN.match(str(record.msg))


@contextmanager
def _without_init_report():
    logger = MMLogger.get_current_instance()
    report_filter = _InitReportFilter()
    logger.addFilter(report_filter)
    try:
        yield
    finally:
        logger.removeFilter(report_filter)


def find_test_pipeline(cfg: Config) -> List[dict]:
    """The pipeline ``tools/test.py`` runs: the test dataset's, else ``test_pipeline``."""
    dataset = cfg.get('test_dataloader', {}).get('dataset')
    while dataset is not None:
        if 'pipeline' in dataset:
            return copy.deepcopy(list(dataset['pipeline']))
        dataset = dataset.get('dataset')  # dataset wrappers keep the real one inside
    if 'test_pipeline' in cfg:
        return copy.deepcopy(list(cfg.test_pipeline))
    raise ValueError('the config has no test pipeline (test_dataloader.dataset.pipeline '
                     'or test_pipeline)')


def _is_decoding_step(step: dict) -> bool:
    kind = step['type'] if isinstance(step['type'], str) else step['type'].__name__
    return kind.endswith('Init') or kind.endswith('Decode')


def build_inference_pipeline(cfg: Config, from_frames: bool) -> Compose:
    """The test pipeline; for frames in memory its decoding steps become ``ArrayDecode``."""
    steps = find_test_pipeline(cfg)
    if from_frames:
        steps = [step for step in steps if not _is_decoding_step(step)]
        first_sampler = next((i for i, s in enumerate(steps) if 'Sample' in str(s['type'])), None)
        if first_sampler is None:
            raise ValueError('the test pipeline has no frame sampler (e.g. SampleFrames)')
        steps.insert(first_sampler + 1, dict(type='ArrayDecode'))
    return Compose(steps)


def video_sample(video: Video) -> dict:
    """The pipeline's input dict for a path or a (T, H, W, 3) uint8 RGB array."""
    if isinstance(video, (str, Path)):
        if not Path(video).is_file():
            raise FileNotFoundError(f'{video}: no such video file')
        return dict(filename=str(video), label=-1, start_index=0, modality='RGB')
    frames = np.asarray(video)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f'frames must be a (T, H, W, 3) uint8 RGB array, got '
                         f'{frames.shape} {frames.dtype}')
    return dict(array=frames, total_frames=len(frames), label=-1, start_index=0, modality='RGB')


def prepare_batch(model: nn.Module, video: Video) -> dict:
    """Run the model's test pipeline on one video; returns a batch of one for ``test_step``."""
    from_frames = not isinstance(video, (str, Path))
    pipeline = build_inference_pipeline(model.cfg, from_frames)
    return pseudo_collate([pipeline(video_sample(video))])


def read_label_map(path: PathLike) -> List[str]:
    """Class names, one per line in label order (the Kinetics ``label_map`` format)."""
    names = [line.strip() for line in Path(path).read_text().splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names or any(not name for name in names):
        raise ValueError(f'{path}: expected one class name per line, without blank lines')
    return names


def _class_names(model: nn.Module, label_names: Union[None, PathLike, Sequence[str]],
                 num_classes: int) -> List[str]:
    if label_names is None:
        meta = getattr(model, 'dataset_meta', None) or {}
        label_names = meta.get('classes')
    if label_names is None:
        return [str(i) for i in range(num_classes)]
    names = read_label_map(label_names) if isinstance(label_names, (str, Path)) else list(
        label_names)
    if len(names) != num_classes:
        source = label_names if isinstance(label_names, (str, Path)) else 'label_names'
        raise ValueError(f'{source}: {len(names)} class names for a model with {num_classes} '
                         'classes')
    return names


@torch.no_grad()
def inference_recognizer(model: nn.Module, video: Video, topk: Optional[int] = 5,
                         label_names: Union[None, PathLike, Sequence[str]] = None
                         ) -> List[ClassScore]:
    """Classify one video with all the test views of the model's config, fused.

    Args:
        model: from ``init_recognizer``.
        video: a video file, or frames as a (T, H, W, 3) uint8 RGB array.
        topk: how many classes to return, best first; None returns all of them.
        label_names: class names (a label-map file or a list); default: the model's
            ``dataset_meta['classes']`` if set, else the class indices as text.

    Returns:
        ``ClassScore(index, name, score)`` entries by decreasing score. The scores are
        what the recognizer's view fusion gives: probabilities for ``average_clips='prob'``.
    """
    model.eval()
    result = model.test_step(prepare_batch(model, video))[0]
    scores = _pred_scores(result).float().cpu().numpy()
    if scores.ndim != 1:
        raise ValueError(f'the model gives per-view scores {scores.shape}: set '
                         'model.cls_head.average_clips to "prob" or "score"')
    names = _class_names(model, label_names, len(scores))
    order = np.argsort(-scores, kind='stable')[:topk]
    return [ClassScore(int(i), names[i], float(scores[i])) for i in order]


def _pred_scores(sample: Any) -> torch.Tensor:
    """Fused class scores of one output sample (mmaction2 1.1 and 1.2 field names)."""
    for field in ('pred_scores', 'pred_score'):
        value = getattr(sample, field, None)
        if value is not None:
            return value.item if hasattr(value, 'item') and not torch.is_tensor(value) else value
    raise ValueError(f'the model output has no pred_scores: {type(sample).__name__}')
