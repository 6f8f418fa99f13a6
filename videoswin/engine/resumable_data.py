"""A training data stream that can restart mid-epoch and still yield the same batches.

Two thin wrappers, installed by :class:`videoswin.engine.loops.ResumableEpochBasedTrainLoop`
around the configured sampler and dataset:

* :class:`ResumableSampler` tags every index with its epoch (a :class:`SampleKey`) and
  can drop the first ``n`` indices of its next pass, so a resumed epoch starts at the
  right sample without decoding the ones already trained on.
* :class:`SeededDataset` seeds the augmentation random generators from
  ``(seed, epoch, index)`` before loading each sample. A sample's crops and flips then
  do not depend on which worker loads it, on how many workers there are, or on what
  that worker loaded before: the condition for a resumed epoch to reproduce the
  uninterrupted one when ``num_workers > 0``.
"""
from itertools import islice
from typing import Any, Iterator, NamedTuple, Optional, Union

from mmengine.registry import DATA_SAMPLERS, DATASETS
from torch.utils.data import Dataset, Sampler

from .seeding import DATA_STREAM, derive_seed, forked_rng


_FORWARDED = ('metainfo', 'get_data_info', 'full_init')


class SampleKey(NamedTuple):
    """What the sampler hands to the dataset: the epoch and the dataset index."""
    epoch: int
    index: int


class ResumableSampler(Sampler):
    """Wraps any index sampler; yields :class:`SampleKey` and can skip ahead.

    Args:
        dataset: the (wrapped) dataset, passed on to the inner sampler.
        sampler: the inner sampler or its config (e.g. ``DefaultSampler``).
        seed: seed for the inner sampler's shuffling.
    """

    def __init__(self, dataset: Dataset, sampler: Union[dict, Sampler],
                 seed: Optional[int] = None) -> None:
        if isinstance(sampler, dict):
            sampler = DATA_SAMPLERS.build(sampler, default_args=dict(dataset=dataset, seed=seed))
        self.sampler = sampler
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)

    def set_seed(self, seed: int) -> None:
        """Fix the inner sampler's shuffling seed (mmengine's samplers keep it in ``seed``)."""
        if hasattr(self.sampler, 'seed'):
            self.sampler.seed = seed

    def skip_next(self, num_samples: int) -> None:
        """Leave out the first ``num_samples`` indices of the next pass only."""
        self._skip = int(num_samples)

    def __iter__(self) -> Iterator[SampleKey]:
        epoch, skip, self._skip = self.epoch, self._skip, 0
        return (SampleKey(epoch, int(i)) for i in islice(iter(self.sampler), skip, None))

    def __len__(self) -> int:
        """The length of a whole pass (a skipped pass is shorter, once)."""
        return len(self.sampler)


class SeededDataset(Dataset):
    """Loads each :class:`SampleKey` with the random generators seeded from the key.

    Plain integer indices (someone reading the dataset directly) pass through
    unseeded. Like mmengine's dataset wrappers it offers ``metainfo``,
    ``get_data_info`` and ``full_init`` of the wrapped dataset, which is ``.dataset``.

    Args:
        dataset: the dataset or its config.
        seed: the run's data seed; the loop sets it before the first epoch.
    """

    def __init__(self, dataset: Union[dict, Dataset], seed: Optional[int] = None) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Union[SampleKey, int]) -> Any:
        if not isinstance(key, SampleKey):
            return self.dataset[key]
        if self.seed is None:
            raise RuntimeError('SeededDataset.seed is unset: the train loop sets it before '
                               'the first epoch')
        with forked_rng(derive_seed(self.seed, DATA_STREAM, key.epoch, key.index)):
            return self.dataset[key.index]

    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails; the wrapper has these exactly when
        # the wrapped dataset has them (``dataset`` is absent while unpickling)
        if name in _FORWARDED and 'dataset' in self.__dict__:
            return getattr(self.dataset, name)
        raise AttributeError(f'{type(self).__name__} has no attribute {name!r} (see .dataset)')
