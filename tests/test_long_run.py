"""A training epoch over real videos with 2 loader workers keeps its memory flat and
leaves no process or open file behind: the CI-sized version of benchmarks/long_run.py
(160 clips here; the benchmark runs 2,000, see docs/reliability.md for its figures)."""
import importlib.util
from pathlib import Path

import pytest

from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.utils import register_all_modules

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location('long_run', REPO / 'benchmarks' / 'long_run.py')
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
