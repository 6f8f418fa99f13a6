"""An epoch-based training loop that resumes exactly from a checkpoint taken mid-epoch.

mmengine's ``EpochBasedTrainLoop`` resumes at epoch boundaries: a checkpoint written
in the middle of an epoch makes it replay the whole epoch. This loop instead

1. continues the interrupted epoch at the next batch, skipping the trained part of
   the sampler's order without loading it (``ResumableSampler``);
2. derives the augmentation randomness of every sample from ``(seed, epoch, index)``
   (``SeededDataset``), independent of loader workers and of what they loaded before;
3. reseeds the global generators (dropout, drop-path, mixup, ...) at every iteration
   from ``(seed, iteration)``.

Randomness is then a function of the position in the run, so the position that
every checkpoint already stores (``meta.epoch``, ``meta.iter``), with the model,
optimizer and scheduler states, is all a resume needs: the resumed run ends with
bitwise the same weights as an uninterrupted one (given deterministic kernels).
Mid-epoch checkpoints come from ``AtomicCheckpointHook(mid_epoch_interval=N)``.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dist import get_rank
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader

from videoswin.registry import LOOPS

from .resumable_data import ResumableSampler, SeededDataset
from .seeding import ITERATION_STREAM, derive_seed, seed_all


def make_resumable(dataloader_cfg: dict) -> dict:
    """The dataloader config with its dataset and sampler wrapped for exact resume."""
    cfg = copy.deepcopy(dataloader_cfg)
    if 'batch_sampler' in cfg:
        raise ValueError('ResumableEpochBasedTrainLoop skips whole batches by skipping '
                         'samples, which a custom train_dataloader.batch_sampler may not '
                         'group the same way; remove it or use EpochBasedTrainLoop')
    cfg['dataset'] = dict(type=SeededDataset, dataset=cfg['dataset'])
    cfg['sampler'] = dict(type=ResumableSampler, sampler=cfg['sampler'])
    return cfg


def _seeded_dataset(dataset) -> SeededDataset:
    """Our wrapper, under whatever mmengine put around it (``num_batch_per_epoch``)."""
    while not isinstance(dataset, SeededDataset):
        dataset = dataset.dataset if hasattr(dataset, 'dataset') else dataset._dataset
    return dataset


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that resumes mid-epoch exactly; same arguments.

    Args:
        runner: the runner.
        dataloader: the train dataloader config (a built ``DataLoader`` is refused:
            its dataset and sampler cannot be wrapped any more).
        max_epochs, val_begin, val_interval, dynamic_intervals: as in mmengine.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_epochs: int,
                 val_begin: int = 1,
                 val_interval: int = 1,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        if not isinstance(dataloader, dict):
            raise TypeError('ResumableEpochBasedTrainLoop needs train_dataloader as a config '
                            f'dict, got a built {type(dataloader).__name__}')
        super().__init__(runner, make_resumable(dataloader), max_epochs, val_begin,
                         val_interval, dynamic_intervals)
        self._sync_seeds()

    @property
    def sampler(self) -> ResumableSampler:
        return self.dataloader.sampler

    def _sync_seeds(self) -> None:
        """Give the data stream the run's seed, rank-independent.

        Called again at ``run()``: a resume may have replaced the seed with the
        checkpoint's (mmengine restores ``meta.seed`` when the config has none).
        """
        seed = self.runner.seed
        if self.runner._randomness_cfg.get('diff_rank_seed', False):
            seed -= get_rank()  # every rank must shuffle alike
        self.sampler.set_seed(seed)
        _seeded_dataset(self.dataloader.dataset).seed = seed

    def batches_done_in_epoch(self) -> int:
        """How many batches of the current epoch were trained before this point."""
        per_epoch = len(self.dataloader)
        done = self._iter - self._epoch * per_epoch
        if not 0 <= done <= per_epoch:
            raise RuntimeError(
                f'cannot resume: the checkpoint is at iteration {self._iter} of epoch '
                f'{self._epoch + 1}, but an epoch now has {per_epoch} iterations (the '
                'training set or batch size changed since the checkpoint was written)')
        return done

    def run(self):
        self._sync_seeds()
        return super().run()

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        self.sampler.set_epoch(self._epoch)
        done = self.batches_done_in_epoch()
        if done:
            print_log(f'resuming epoch {self._epoch + 1} at batch {done + 1} of '
                      f'{len(self.dataloader)} (the trained part is skipped, not loaded)',
                      logger='current')
            self.sampler.skip_next(done * self.dataloader.batch_size)
        for idx, data_batch in enumerate(self.dataloader, start=done):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        seed_all(derive_seed(self.runner.seed, ITERATION_STREAM, self._iter))
        super().run_iter(idx, data_batch)
