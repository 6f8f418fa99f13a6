"""``BadSampleHook``: how many damaged samples were replaced this epoch, and which files.

The datasets (``videoswin.datasets.bad_sample_policy``) log each bad file once, from whichever
loader worker meets it, and count every replacement in shared memory. This hook turns
the counts into one line per epoch (summed over all processes when distributed), plus
``train/bad_samples_replaced`` in the message hub's info, and reports the samples
skipped at test time.
"""
from typing import Iterator, List, Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook

from videoswin.registry import HOOKS


def robust_datasets(dataset) -> Iterator:
    """The datasets with a bad-sample ledger inside ``dataset`` (through wrappers)."""
    if dataset is None:
        return
    if hasattr(dataset, 'bad_samples') and hasattr(dataset, 'on_bad_sample'):
        yield dataset
    for child in getattr(dataset, 'datasets', None) or ():  # ConcatDataset
        yield from robust_datasets(child)
    inner = getattr(dataset, 'dataset', None)  # RepeatDataset, ClassBalancedDataset
    if inner is not None and inner is not dataset:
        yield from robust_datasets(inner)


def _summed_over_processes(value: int) -> int:
    total = torch.tensor([value], dtype=torch.int64)
    all_reduce(total)  # a no-op outside distributed runs
    return int(total.item())


@HOOKS.register_module()
class BadSampleHook(Hook):
    """Report the bad samples replaced in training and those skipped in testing.

    Args:
        interval: with an iteration-based loop (no epochs), report every this many
            iterations.
        max_names: file names listed per report.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 1000, max_names: int = 10) -> None:
        self.interval = interval
        self.max_names = max_names
        self._reported_total = 0
        self._reported_bad = set()

    def _train_datasets(self, runner) -> List:
        return list(robust_datasets(getattr(runner.train_dataloader, 'dataset', None)))

    def before_train(self, runner) -> None:
        self._reported_total = self._count(runner)

    def _count(self, runner) -> int:
        datasets = self._train_datasets(runner)
        return sum(d.bad_samples.total for d in datasets if d.bad_samples is not None)

    def _report_training(self, runner, period: str) -> None:
        total = self._count(runner)
        replaced = _summed_over_processes(total - self._reported_total)
        self._reported_total = total
        new_names = []
        for dataset in self._train_datasets(runner):
            if dataset.bad_samples is None:
                continue
            for index in dataset.bad_samples.known_bad_indices():
                name = dataset.sample_name(index)
                if name not in self._reported_bad:
                    self._reported_bad.add(name)
                    new_names.append(name)
        runner.message_hub.update_info('train/bad_samples_replaced', replaced)
        if replaced == 0 and not new_names:
            return
        listing = ', '.join(new_names[:self.max_names])
        if len(new_names) > self.max_names:
            listing += f' and {len(new_names) - self.max_names} more'
        runner.logger.warning(
            f'{period}: {replaced} bad samples replaced by other samples'
            + (f'; newly found bad files: {listing}' if new_names else '')
            + f' ({len(self._reported_bad)} bad files so far)')

    def after_train_epoch(self, runner) -> None:
        self._report_training(runner, f'Epoch {runner.epoch + 1}')  # runner.epoch is 0-based here

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not getattr(runner.train_loop, '_max_epochs', None) and \
                self.every_n_train_iters(runner, self.interval):
            self._report_training(runner, f'Iter {runner.iter + 1}')

    def _report_skipped(self, runner, dataloader, stage: str) -> None:
        for dataset in robust_datasets(getattr(dataloader, 'dataset', None)):
            skipped = dataset.skipped_samples
            if skipped:
                names = ', '.join(name for name, _ in skipped[:self.max_names])
                runner.logger.warning(
                    f'{stage}: {len(skipped)} unreadable samples were skipped; the metrics are '
                    f'over the other {len(dataset)}: {names}'
                    + (f' and {len(skipped) - self.max_names} more' if len(skipped) > self.max_names
                       else ''))
                runner.message_hub.update_info(f'{stage}/skipped_samples', len(skipped))

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._report_skipped(runner, runner.val_dataloader, 'val')

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._report_skipped(runner, runner.test_dataloader, 'test')
