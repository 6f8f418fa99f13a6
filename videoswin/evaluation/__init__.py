"""Evaluation: offline accuracy of dumped or fused predictions (mmaction2's definitions)."""
from .accuracy import (accuracy_report, confusion_matrix, mean_class_accuracy,  # noqa: F401
                       top_k_accuracy)
