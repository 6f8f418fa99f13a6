"""A training epoch over real videos with 2 loader workers keeps its memory flat and
leaves no process or open file behind: the CI-sized version of benchmarks/long_run.py
(160 clips here; the benchmark runs 2,000, see docs/reliability.md for its figures)."""
import importlib.util
import os

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.engine.hooks.release_workers_hook import release_workers
from videoswin.engine.hooks.resource_monitor_hook import open_files
from videoswin.utils import register_all_modules

from helpers import REPO_ROOT

_spec = importlib.util.spec_from_file_location('long_run', REPO_ROOT / 'benchmarks' / 'long_run.py')
long_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(long_run)

WORKERS = 2
# growth allowed after warm-up, as in the benchmark (its measured figures are in
# docs/reliability.md): the trainer's RSS, and the PSS of trainer + workers
MAX_RSS_GROWTH_MB = 32
MAX_PSS_GROWTH_MB = 64


@pytest.mark.slow
def test_epoch_over_real_videos_keeps_memory_flat_and_leaves_nothing_open(tmp_path):
    data = tmp_path / 'data'
    make_synthetic_dataset(data, num_train=80, num_val=1, num_frames=16, size=(48, 64),
                           ssv2_style=False)
    register_all_modules()
    cfg = long_run.long_run_config(data, tmp_path / 'work_dir', WORKERS, batch_size=4)
    samples, leaked, workers_left, _ = long_run.run(cfg, interval=4)

    assert len(samples) == 10 and all(s.workers == WORKERS for s in samples)
    warm = samples[1]  # after 8 of the 40 iterations
    later = samples[1:]
    assert max(s.rss_mb for s in later) - warm.rss_mb <= MAX_RSS_GROWTH_MB, samples
    assert max(s.pss_mb for s in later) - warm.pss_mb <= MAX_PSS_GROWTH_MB, samples
    assert max(s.open_files for s in later) - warm.open_files <= WORKERS, samples
    assert workers_left == []  # ReleaseWorkersHook stopped the persistent workers
    assert leaked == []  # no clip, pipe or socket left open by the run


class _Zeros(Dataset):
    def __len__(self) -> int:
        return 32

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.zeros(3)


def test_release_workers_returns_only_after_the_index_queue_pipes_are_closed():
    """The pipes of torch's index queues are closed by feeder threads; on a busy
    machine they used to outlive ``release_workers`` (CI once saw two of them)."""
    before = {f for f in open_files(os.getpid()) if f.startswith('pipe:')}
    loader = DataLoader(_Zeros(), batch_size=4, num_workers=2, persistent_workers=True)
    for _ in range(2):
        assert sum(1 for _ in loader) == 8
    queues = loader._iterator._index_queues
    assert release_workers(loader) and loader._iterator is None
    assert not any(q._thread is not None and q._thread.is_alive() for q in queues)
    after = {f for f in open_files(os.getpid()) if f.startswith('pipe:')}
    assert after - before == set()
    assert not release_workers(loader)  # nothing left to stop
