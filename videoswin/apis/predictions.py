"""Reading the predictions ``tools/test.py --dump`` writes, and scoring them.

``--dump`` uses mmengine's ``DumpResults``: a pickled list with one dict per test video,
made by ``ActionDataSample.to_dict()``. With mmaction2 1.1 a dict looks like
``{'pred_scores': {'item': tensor(K)}, 'gt_labels': {'item': tensor([label])},
'pred_labels': {...}, 'num_classes': K, ...}``; mmaction2 1.2 flattened this to
``{'pred_score': tensor(K), 'gt_label': tensor([label])}``. Both are read.

Pickle runs code named in the file, so the files are read with an unpickler that only
rebuilds tensors, numpy arrays and plain containers: a prediction file shared by
someone else cannot execute anything on load.
"""
import _codecs
import collections
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch

PathLike = Union[str, Path]


def _load_tensor_storage(data: bytes) -> Any:
    """Stand-in for ``torch.storage._load_from_bytes`` that refuses arbitrary objects."""
    return torch.load(io.BytesIO(data), weights_only=True)


def _safe_globals() -> dict:
    allowed = {
        ('torch._utils', '_rebuild_tensor_v2'): torch._utils._rebuild_tensor_v2,
        ('torch.storage', '_load_from_bytes'): _load_tensor_storage,
        ('collections', 'OrderedDict'): collections.OrderedDict,
        ('_codecs', 'encode'): _codecs.encode,
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): np.dtype,
        ('numpy.core.multiarray', '_reconstruct'): np._core.multiarray._reconstruct,
        ('numpy._core.multiarray', '_reconstruct'): np._core.multiarray._reconstruct,
        ('numpy.core.multiarray', 'scalar'): np._core.multiarray.scalar,
        ('numpy._core.multiarray', 'scalar'): np._core.multiarray.scalar,
    }
    for name in np.dtypes.__all__:
        allowed[('numpy.dtypes', name)] = getattr(np.dtypes, name)
    return allowed


class _PredictionUnpickler(pickle.Unpickler):

    def __init__(self, file, path: Path):
        super().__init__(file)
        self._path = path
        self._allowed = _safe_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f'refusing to load {module}.{name}; a prediction file holds '
                'only tensors, arrays and plain containers') from None


@dataclass(frozen=True)
class Predictions:
    """Class scores and ground truth of one test run.

    Attributes:
        scores: (N, K) float array, one row per test video, in the dumped order.
        labels: (N,) int array of ground-truth class indices.
        filenames: the video of each row when the dump recorded it, else None.
    """
    scores: np.ndarray
    labels: np.ndarray
    filenames: Optional[List[str]] = None

    @property
    def num_classes(self) -> int:
        return self.scores.shape[1]


def _field(sample: dict, nested: str, flat: str, path: Path, index: int) -> torch.Tensor:
    if nested in sample:
        value = sample[nested]
        value = value['item'] if isinstance(value, dict) else value
    elif flat in sample:
        value = sample[flat]
    else:
        raise ValueError(f'{path}: sample {index} has neither {nested!r} nor {flat!r} '
                       f'(keys: {sorted(sample)}); is this a tools/test.py --dump file?')
    return torch.as_tensor(value)


def load_predictions(path: PathLike) -> Predictions:
    """Read a ``tools/test.py --dump`` file (single-label classification)."""
    path = Path(path)
    with open(path, 'rb') as file:
        try:
            samples = _PredictionUnpickler(file, path).load()
        except Exception as error:  # pickle raises many types on a damaged or foreign file
            raise ValueError(f'{path}: not a readable prediction file ({error})') from None
    if not isinstance(samples, list) or not samples or not all(
            isinstance(s, dict) for s in samples):
        raise ValueError(f'{path}: expected a non-empty list of per-video dicts, '
                         f'got {type(samples).__name__}')
    scores, labels = [], []
    for index, sample in enumerate(samples):
        score = _field(sample, 'pred_scores', 'pred_score', path, index).float()
        label = _field(sample, 'gt_labels', 'gt_label', path, index).reshape(-1)
        if label.numel() != 1:
            raise ValueError(f'{path}: sample {index} has {label.numel()} ground-truth labels; '
                             'only single-label predictions are supported')
        if score.ndim != 1:
            raise ValueError(f'{path}: sample {index} has scores of shape {tuple(score.shape)}, '
                             'one row per view; test with average_clips="prob" or "score"')
        scores.append(score.numpy())
        labels.append(int(label))
    if len({len(s) for s in scores}) != 1:
        raise ValueError(f'{path}: samples have different numbers of class scores')
    filenames = [s.get('filename') for s in samples]
    return Predictions(
        scores=np.stack(scores).astype(np.float64),
        labels=np.asarray(labels, dtype=np.int64),
        filenames=filenames if all(isinstance(f, str) for f in filenames) else None)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) scores."""
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fuse_predictions(predictions: Sequence[Predictions], coefficients: Sequence[float],
                     apply_softmax: bool = False) -> Predictions:
    """Weighted sum of the scores of several models tested on the same videos.

    Args:
        predictions: one entry per model; the same videos in the same order.
        coefficients: one weight per model.
        apply_softmax: turn each model's scores into probabilities first (for
            models tested with ``average_clips='score'``, whose scores are logits).
    """
    if len(predictions) != len(coefficients):
        raise ValueError(f'{len(predictions)} prediction files but {len(coefficients)} '
                         'coefficients; give one coefficient per file')
    first = predictions[0]
    for index, other in enumerate(predictions[1:], start=1):
        if other.scores.shape != first.scores.shape or not np.array_equal(
                other.labels, first.labels):
            raise ValueError(f'prediction {index} does not cover the same videos as prediction 0 '
                             f'(scores {other.scores.shape} vs {first.scores.shape}, or other '
                             'ground-truth labels); test the models on the same list')
    fused = sum(c * (softmax(p.scores) if apply_softmax else p.scores)
                for c, p in zip(coefficients, predictions))
    return Predictions(scores=fused, labels=first.labels, filenames=first.filenames)
