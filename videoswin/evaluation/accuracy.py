"""Accuracy of class scores: top-k and mean class accuracy as mmaction2 defines them.

``tools/test.py`` prints mmaction2's ``AccMetric``; the analysis tools score dumped and
fused predictions offline. Both must agree to the last digit, so the offline scores call
mmaction2's functions rather than restating them.
"""
from typing import Tuple

import numpy as np
from mmaction.evaluation.functional import mean_class_accuracy as _mmaction_mean_class
from mmaction.evaluation.functional import top_k_accuracy as _mmaction_top_k


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows of (N, K) ``scores`` whose true label is among the ``k`` highest."""
    return float(_mmaction_top_k(scores, labels, (min(k, scores.shape[1]), ))[0])


def mean_class_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean per-class recall over the classes that occur as truth or prediction.

    A class that is predicted but never true counts with recall 0 (mmaction2's
    ``acc/mean1``, the number ``tools/test.py`` prints).
    """
    return float(_mmaction_mean_class(scores, labels.astype(np.int64)))


def confusion_matrix(pred_labels: np.ndarray, labels: np.ndarray,
                     num_classes: int) -> np.ndarray:
    """(K, K) counts over all ``num_classes``: row = true class, column = predicted class.

    mmaction2's ``confusion_matrix`` keeps only the classes that occur; a plot needs
    every class in its place, hence this full-size version.
    """
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, pred_labels), 1)
    return matrix


def accuracy_report(scores: np.ndarray, labels: np.ndarray,
                    topk: Tuple[int, ...] = (1, 5)) -> dict:
    """``{'top1': .., 'top5': .., 'mean_class_accuracy': ..}`` of (N, K) scores."""
    report = {f'top{k}': top_k_accuracy(scores, labels, k) for k in topk}
    report['mean_class_accuracy'] = mean_class_accuracy(scores, labels)
    return report
