"""Long-run check: one training epoch over 2,000 short synthetic videos, 2 loader workers.

    python benchmarks/long_run.py [--videos 2000] [--workers 2] [--batch-size 8]
        [--out work_dirs/long_run] [--interval 10]

Trains the demo model (configs/demo/swin-micro_synthetic.py) for one epoch on real
H.264 clips decoded by decord, sampling memory and open files every ``--interval``
iterations (``ResourceMonitorHook``), then checks what the run left behind. Prints
the samples and the verdict:

* memory: after the first 10 % of the epoch (warm-up: allocator pools, decoder and
  autograd buffers filled), the trainer's RSS may never exceed its warm value by more
  than ``--max-rss-growth-mb`` (32), nor the PSS of trainer plus workers by more than
  ``--max-pss-growth-mb`` (64: a worker's share moves with its decoder buffers and with
  the copy-on-write pages it touches, up and down, so it gets a wider band);
* open files: the count (trainer + workers) may not grow by more than one per worker
  (a worker caught reading a clip) after warm-up;
* afterwards: no worker process alive, no file of the dataset open, and no descriptor
  open that was not open before the run (log files of the run excepted).

``tests/engine/hooks/test_long_run.py`` checks the same properties on a 160-clip epoch in CI.
"""
import argparse
import os
import sys
import time
from pathlib import Path

from mmengine.config import Config
from mmengine.runner import Runner

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videoswin.datasets.synthetic import make_synthetic_dataset  # noqa: E402
from videoswin.engine.hooks.resource_monitor_hook import (ResourceMonitorHook,  # noqa: E402
                                                          child_pids, open_files)
from videoswin.utils import register_all_modules  # noqa: E402
from videoswin.utils.setup_env import setup_env  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--videos', type=int, default=2000, help='training clips (even)')
    parser.add_argument('--workers', type=int, default=2, help='loader workers')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--interval', type=int, default=10, help='iterations between samples')
    parser.add_argument('--max-rss-growth-mb', type=float, default=32.0,
                        help="allowed growth of the trainer's RSS after warm-up")
    parser.add_argument('--max-pss-growth-mb', type=float, default=64.0,
                        help='allowed growth of the PSS of trainer + workers after warm-up')
    parser.add_argument('--out', default='work_dirs/long_run', help='data and work dir')
    return parser.parse_args()


def long_run_config(data: Path, work_dir: Path, workers: int, batch_size: int) -> Config:
    """The demo recipe, one epoch, no validation, on ``data``."""
    cfg = Config.fromfile(str(REPO / 'configs/demo/swin-micro_synthetic.py'))
    cfg.merge_from_dict(dict(
        work_dir=str(work_dir),
        train_dataloader=dict(batch_size=batch_size, num_workers=workers,
                              persistent_workers=True,
                              dataset=dict(ann_file=str(data / 'train_list.txt'),
                                           data_prefix=dict(video=str(data / 'train')))),
        train_cfg=dict(max_epochs=1),
        default_hooks=dict(logger=dict(interval=25), checkpoint=dict(interval=1)),
        env_cfg=dict(num_threads=1)))
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    return cfg


def run(cfg: Config, interval: int):
    """Train; return the monitor's samples, the descriptors opened and not closed by
    the run, and the worker processes still alive after it."""
    pid = os.getpid()
    before, children_before = set(open_files(pid)), set(child_pids(pid))
    runner = Runner.from_cfg(cfg)
    monitor = ResourceMonitorHook(interval=interval)
    runner.register_hook(monitor)
    start = time.time()
    runner.train()
    seconds = time.time() - start
    logs = {h.baseFilename for h in runner.logger.handlers if hasattr(h, 'baseFilename')}
    # /dev/shm/pym-* are multiprocessing's heap arenas (the datasets' shared bad-sample
    # counters are allocated there): the process's allocator keeps them, no run left them
    leaked = sorted(f for f in set(open_files(pid)) - before
                    if f not in logs and not f.startswith(str(cfg.work_dir))
                    and not f.startswith('/dev/shm/pym-'))
    workers_left = sorted(set(child_pids(pid)) - children_before)
    return monitor.samples, leaked, workers_left, seconds


def main() -> None:
    args = parse_args()
    out = Path(args.out).resolve()
    data = out / 'data'
    lines = data / 'train_list.txt'
    if not lines.exists() or len(lines.read_text().splitlines()) != args.videos:
        start = time.time()
        make_synthetic_dataset(data, num_train=args.videos // 2, num_val=1, num_frames=16,
                               ssv2_style=False)
        print(f'wrote {args.videos} clips in {time.time() - start:.0f} s')
    register_all_modules()
    cfg = long_run_config(data, out / 'work_dir', args.workers, args.batch_size)
    setup_env(cfg)
    samples, leaked, workers_left, seconds = run(cfg, args.interval)

    print(f'\n{args.videos} clips, {args.workers} workers, batch {args.batch_size}: '
          f'{samples[-1].iteration} iterations in {seconds:.0f} s')
    print(f'{"iter":>6} {"RSS main MB":>12} {"PSS all MB":>11} {"open files":>11} {"workers":>8}')
    for s in samples:
        print(f'{s.iteration:>6} {s.rss_mb:>12.1f} {s.pss_mb:>11.1f} {s.open_files:>11} '
              f'{s.workers:>8}')
    warm = samples[max(1, len(samples) // 10)]
    later = [s for s in samples if s.iteration >= warm.iteration]
    rss_growth = max(s.rss_mb for s in later) - warm.rss_mb
    pss_growth = max(s.pss_mb for s in later) - warm.pss_mb
    fd_growth = max(s.open_files for s in later) - warm.open_files
    dataset_files = [f for f in leaked if f.startswith(str(data))]
    checks = [
        (f'trainer RSS after iteration {warm.iteration}: {warm.rss_mb:.0f} MB, at most '
         f'{rss_growth:+.1f} MB above it (bound {args.max_rss_growth_mb:.0f}), '
         f'{samples[-1].rss_mb:.0f} MB at the end', rss_growth <= args.max_rss_growth_mb),
        (f'PSS trainer + workers after iteration {warm.iteration}: {warm.pss_mb:.0f} MB, at '
         f'most {pss_growth:+.1f} MB above it (bound {args.max_pss_growth_mb:.0f}), '
         f'{samples[-1].pss_mb:.0f} MB at the end', pss_growth <= args.max_pss_growth_mb),
        (f'open-file growth after warm-up: {fd_growth:+d} (bound {args.workers}); '
         f'{min(s.open_files for s in later)}..{max(s.open_files for s in later)} open',
         fd_growth <= args.workers),
        (f'worker processes alive after the run: {len(workers_left)}', not workers_left),
        (f'descriptors left open by the run: {len(leaked)} ({len(dataset_files)} on clips) '
         f'{leaked[:5]}', not leaked),
    ]
    print()
    for text, ok in checks:
        print(f'[{"ok" if ok else "FAIL"}] {text}')
    sys.exit(0 if all(ok for _, ok in checks) else 1)


if __name__ == '__main__':
    main()
