"""Check every annotation label against the classifier's ``num_classes`` before a run.

A label outside ``[0, num_classes)`` otherwise surfaces at whatever iteration first
draws that sample, as ``IndexError: Target 400 is out of bounds`` from inside the
loss, with nothing naming the video; at test time it silently lowers the accuracy.
Reading the labels costs no decoding.
"""
from typing import Iterable, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from videoswin.registry import HOOKS


class LabelOutOfRangeError(ValueError):
    """An annotation's label does not fit the model's classifier."""


def _labels(label) -> Iterable[int]:
    """The integer class ids in a label (an int, or a list of ints for multi-label)."""
    if isinstance(label, int):
        return (label,)
    if isinstance(label, (list, tuple)) and all(isinstance(x, int) for x in label):
        return label
    return ()  # one-hot or soft labels: their size was fixed by the dataset itself


def check_labels(dataset, num_classes: int, name: str) -> None:
    """Raise :class:`LabelOutOfRangeError` for the first label outside the classes."""
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        for label in _labels(info.get('label')):
            if not 0 <= label < num_classes:
                video = info.get('filename') or info.get('frame_dir') or '?'
                raise LabelOutOfRangeError(
                    f'{name}: sample {index} ({video}) has label {label}, outside the '
                    f'{num_classes} classes of model.cls_head (0..{num_classes - 1}); fix '
                    'the annotation file or cls_head.num_classes')


@HOOKS.register_module()
class LabelCheckHook(Hook):
    """Run :func:`check_labels` on the train and val sets (train) or the test set (test)."""

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_dataloader, 'train_dataloader.dataset')
        if runner._val_loop is not None and not isinstance(runner._val_loop, dict):
            self._check(runner, runner.val_dataloader, 'val_dataloader.dataset')

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader, 'test_dataloader.dataset')

    @staticmethod
    def _check(runner, dataloader, name: str) -> None:
        num_classes = _num_classes(runner.model)
        dataset = dataloader.dataset
        if num_classes is not None and hasattr(dataset, 'get_data_info'):
            check_labels(dataset, num_classes, name)


def _num_classes(model) -> Optional[int]:
    model = model.module if is_model_wrapper(model) else model
    head = getattr(model, 'cls_head', None)
    return getattr(head, 'num_classes', None)
