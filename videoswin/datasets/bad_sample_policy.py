"""What a dataset does with a sample that cannot be loaded (damaged, truncated, missing).

Policies (``on_bad_sample``):

* ``'replace'`` (training default): the sample is logged once by name, marked bad, and a
  random other sample is returned instead; the epoch goes on. A marked sample is never
  decoded again. ``max_bad_in_a_row`` failures in a row stop the run: that is a broken
  pipeline or data root, not a few damaged files. The replacement is drawn from the
  random state the request came with, whatever the failure consumed, so an exact resume
  stays exact.
* ``'error'`` (test default): stop with the file name. An accuracy must never be
  silently measured over a subset.
* ``'skip'`` (test only): every sample is probed when the dataset is built (first and
  last frame; see :mod:`.video_probe`), the unreadable ones are left out and reported,
  and the accuracy is over the rest. Damage the probe cannot see still stops the run.

Counting with loader workers: the dataset owns a :class:`BadSampleLedger` in shared
memory, created in the main process before the workers start (fork or spawn). Each
worker adds to its own counter slot, so no update is lost; the "known bad" flags let
every worker skip a file another worker found bad. ``BadSampleHook`` reads the ledger
at the end of each epoch.
"""
import logging
import multiprocessing as mp
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from videoswin.engine.seeding import cpu_rng_state, set_cpu_rng_state

from .video_probe import one_line, probe_rawframes, probe_video

POLICIES = ('replace', 'error', 'skip')


class BadSampleError(RuntimeError):
    """A sample could not be loaded and the policy says stop."""


class BadSampleLedger:
    """Shared-memory record of bad samples, written by any loader worker.

    Args:
        num_samples: dataset length (one "known bad" flag per sample).
        slots: counter slots; the main process uses slot 0, worker ``k`` slot ``1 + k``.
    """

    def __init__(self, num_samples: int, slots: int = 1024) -> None:
        self._known_bad = mp.RawArray('b', max(num_samples, 1))
        self._counts = mp.RawArray('q', slots)

    def _slot(self) -> int:
        from torch.utils.data import get_worker_info

        info = get_worker_info()
        return 0 if info is None else 1 + info.id % (len(self._counts) - 1)

    def is_known_bad(self, index: int) -> bool:
        return bool(self._known_bad[index])

    def mark_bad(self, index: int) -> bool:
        """Flag sample ``index`` as bad; True the first time (then it is worth a log line)."""
        first = not self._known_bad[index]
        self._known_bad[index] = 1
        return first

    def count_replacement(self) -> None:
        """One requested sample was bad and has been replaced."""
        self._counts[self._slot()] += 1

    @property
    def total(self) -> int:
        """Requested samples that were bad (each replaced) since the dataset was built."""
        return int(sum(self._counts))

    def known_bad_indices(self) -> List[int]:
        return np.flatnonzero(np.frombuffer(self._known_bad, dtype=np.int8)).tolist()

    def __deepcopy__(self, memo: Dict) -> 'BadSampleLedger':
        return self  # shared state is meant to stay shared (mmengine copies datasets)


class RobustLoadingMixin:
    """``__getitem__`` and ``filter_data`` implementing the policies above.

    For subclasses of mmengine's ``BaseDataset``; call :meth:`_init_policy` before
    ``super().__init__``.
    """

    def _init_policy(self, on_bad_sample: Optional[str], test_mode: bool,
                     max_bad_in_a_row: int, probe_workers: int) -> None:
        policy = on_bad_sample or ('error' if test_mode else 'replace')
        if policy not in POLICIES:
            raise ValueError(f'on_bad_sample must be one of {POLICIES}, got {policy!r}')
        if test_mode and policy == 'replace':
            raise ValueError("on_bad_sample='replace' is for training: at test time it would "
                             "measure the accuracy on other videos; use 'error' or 'skip'")
        if not test_mode and policy == 'skip':
            raise ValueError("on_bad_sample='skip' is for testing; training replaces bad "
                             "samples ('replace')")
        self.on_bad_sample = policy
        self.max_bad_in_a_row = max_bad_in_a_row
        self.probe_workers = probe_workers
        self.skipped_samples: List[Tuple[str, str]] = []
        self.bad_samples: Optional[BadSampleLedger] = None

    # -- naming ---------------------------------------------------------------------
    @staticmethod
    def _name_of(info: Dict) -> str:
        return str(info.get('filename') or info.get('frame_dir') or info.get('sample_idx', '?'))

    def sample_name(self, index: int) -> str:
        """The file (or frame folder) of sample ``index``, for messages."""
        return self._name_of(self.get_data_info(index))

    # -- building ---------------------------------------------------------------------
    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        self.bad_samples = BadSampleLedger(len(self))

    def filter_data(self) -> List[dict]:
        data_list = super().filter_data()
        if self.on_bad_sample != 'skip':
            return data_list
        reasons = self._probe_all(data_list)
        kept = [info for info, reason in zip(data_list, reasons) if reason is None]
        self.skipped_samples = [(self._name_of(info), reason)
                                for info, reason in zip(data_list, reasons) if reason is not None]
        if self.skipped_samples:
            listing = '; '.join(f'{name} ({reason})' for name, reason in self.skipped_samples[:20])
            if len(self.skipped_samples) > 20:
                listing += f' and {len(self.skipped_samples) - 20} more'
            print_log(f'{type(self).__name__}: skipping {len(self.skipped_samples)} of '
                      f'{len(data_list)} samples that cannot be read; the results are over '
                      f'the other {len(kept)}: {listing}', logger='current', level=logging.WARNING)
        return kept

    def _probe_backend(self) -> str:
        names = {type(t).__name__ for t in getattr(self.pipeline, 'transforms', [])}
        if 'RawFrameDecode' in names:
            return 'rawframes'
        if 'DecordInit' in names:
            return 'decord'
        return 'pyav'

    def _probe_all(self, data_list: List[dict]) -> List[Optional[str]]:
        backend = self._probe_backend()
        template = getattr(self, 'filename_tmpl', 'img_{:05}.jpg')
        start_index = getattr(self, 'start_index', 1)

        def probe(info: dict) -> Optional[str]:
            if backend == 'rawframes':
                return probe_rawframes(info['frame_dir'], info['total_frames'], template,
                                       start_index)
            return probe_video(info['filename'], backend=backend)

        print_log(f'{type(self).__name__}: probing {len(data_list)} samples for unreadable '
                  f'files ({backend}) ...', logger='current')
        bar = ProgressBar(len(data_list)) if len(data_list) >= 100 else None
        reasons = []
        with ThreadPoolExecutor(max_workers=max(1, self.probe_workers)) as pool:
            for reason in pool.map(probe, data_list):  # decoders release the GIL
                reasons.append(reason)
                if bar is not None:
                    bar.update()
        return reasons

    # -- loading ----------------------------------------------------------------------
    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        if self.on_bad_sample == 'replace':
            return self._load_replacing(idx)
        try:
            data = self.prepare_data(idx)
        except Exception as err:
            raise BadSampleError(
                f'cannot load {self.sample_name(idx)}: {one_line(err)}. Testing stops rather '
                'than score a subset. Find all unreadable files with tools/data/check_videos.py; '
                "to leave them out (and report how many), set on_bad_sample='skip' on the "
                'dataset.') from err
        if data is None:
            raise BadSampleError(f'the test pipeline returned None for {self.sample_name(idx)}')
        return data

    def _load_replacing(self, idx: int) -> dict:
        """The sample ``idx``, or if it is bad a random good one (counted once per call).

        The replacement does not depend on how or when the sample failed: on open,
        part-way through decoding after the pipeline drew its crops, or not at all
        because an earlier epoch or another worker marked it bad. A resumed run, whose
        ledger starts empty, decodes again what the uninterrupted run knew to be bad;
        it must still draw the same replacement and the same augmentations. So every
        attempt starts from the random state the request came with, and attempt ``k``
        loads the ``k``-th index drawn from that state.
        """
        start = cpu_rng_state()
        requested_bad, last_failure = False, 'the pipeline returned None'
        for attempt in range(self.max_bad_in_a_row + 1):
            if attempt:
                set_cpu_rng_state(start)
                idx = self._replacement(attempt)
            if self.bad_samples.is_known_bad(idx):
                requested_bad = requested_bad or not attempt
                last_failure = f'{self.sample_name(idx)} is known to be bad'
                continue
            try:
                data = self.prepare_data(idx)
            except Exception as err:
                requested_bad = requested_bad or not attempt
                last_failure = f'{self.sample_name(idx)}: {one_line(err)}'
                if self.bad_samples.mark_bad(idx):
                    print_log(f'bad sample {last_failure}; replaced by another sample, now '
                              'and in later epochs', logger='current', level=logging.WARNING)
                continue
            if data is not None:
                if requested_bad:
                    self.bad_samples.count_replacement()
                return data
            # mmengine's convention: None asks for another sample
        raise BadSampleError(
            f'{self.max_bad_in_a_row + 1} samples in a row could not be loaded (last: '
            f'{last_failure}). This is a broken pipeline or data root rather than a few '
            'damaged videos.')

    def _replacement(self, attempt: int) -> int:
        """The ``attempt``-th index ``_rand_another`` draws from the current random state."""
        for _ in range(attempt):
            idx = self._rand_another()
        return idx
