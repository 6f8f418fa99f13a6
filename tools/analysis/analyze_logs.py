"""Plot training curves and summarise iteration times from mmengine's scalar logs.

mmengine writes one JSON object per logged step to ``<work_dir>/<timestamp>/vis_data/scalars.json``:
training rows carry ``iter`` (global iteration), ``epoch``, ``loss``, ``lr``, ``time``,
``data_time``; validation rows carry the metrics (``acc/top1`` ...) and ``step`` (the epoch
for epoch-based training). A work dir may be given instead of a file: the ``scalars.json`` of
all its runs are read in time order, so a resumed training gives one continuous curve.

Examples::

    python tools/analysis/analyze_logs.py plot_curve work_dirs/demo --keys loss acc/top1 \
        --out curve.png
    python tools/analysis/analyze_logs.py cal_train_time \
        work_dirs/demo/20240101_120000/vis_data/scalars.json
"""
import argparse
import datetime
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

import numpy as np


def find_scalar_files(path: Path) -> List[Path]:
    """``path`` itself, or every ``*/vis_data/scalars.json`` of a work dir (oldest first)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(path.glob('*/vis_data/scalars.json'))
        if files:
            return files
        raise FileNotFoundError(f'{path}: no <timestamp>/vis_data/scalars.json inside')
    raise FileNotFoundError(f'{path}: no such file or directory')


def load_scalars(path: Path) -> List[dict]:
    """All rows of one log (a scalars.json file, or a work dir's runs concatenated)."""
    rows = []
    for file in find_scalar_files(path):
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f'{file}, line {number}: not JSON ({error.msg})') from None
            if not isinstance(row, dict) or 'step' not in row:
                raise ValueError(f'{file}, line {number}: expected an mmengine scalar row '
                                 'with a "step" field')
            rows.append(row)
    if not rows:
        raise ValueError(f'{path}: the log is empty')
    return rows


def is_train_row(row: dict) -> bool:
    """Training rows carry the global iteration; validation rows do not."""
    return 'iter' in row


def curve(rows: List[dict], key: str) -> tuple:
    """(x, y, x-axis name) of ``key``; later rows replace earlier ones at the same step.

    Keys logged in both phases (``time``, ``data_time``) are taken from the training rows.
    """
    having = [row for row in rows if key in row]
    if not having:
        return np.array([]), np.array([]), ''
    train = any(is_train_row(row) for row in having)
    points = {row['step']: row[key] for row in having if is_train_row(row) == train}
    by_epoch = any('epoch' in row for row in rows if is_train_row(row))
    x_name = 'iteration' if train or not by_epoch else 'epoch'
    steps = sorted(points)
    return np.array(steps), np.array([points[s] for s in steps], dtype=float), x_name


def plot_curve(args: argparse.Namespace) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    logs = {path: load_scalars(Path(path)) for path in args.logs}
    legends = args.legend or [str(path) for path in args.logs]
    if len(legends) != len(args.logs):
        raise ValueError(f'{len(args.logs)} logs but {len(legends)} --legend entries')
    fig, axes = plt.subplots(len(args.keys), 1, figsize=(8, 3.2 * len(args.keys)),
                             squeeze=False)
    for ax, key in zip(axes[:, 0], args.keys):
        for (path, rows), legend in zip(logs.items(), legends):
            x, y, x_name = curve(rows, key)
            if not len(x):
                available = sorted({k for row in rows for k in row} - {'step'})
                raise ValueError(f'{path}: no "{key}" in the log; available keys: {available}')
            ax.plot(x, y, marker='o' if len(x) < 30 else None, markersize=3, label=legend)
            ax.set_xlabel(x_name)
            if x_name == 'epoch':
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if args.title:
        axes[0, 0].set_title(args.title)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    plt.close(fig)
    print(f'wrote {args.out}')


def epoch_iteration_times(rows: List[dict], include_outliers: bool) -> Dict[int, np.ndarray]:
    """Logged iteration times grouped by epoch (one group for iteration-based runs).

    The first logged time of each epoch includes starting the data loader workers, so it
    is left out unless ``include_outliers``.
    """
    times = defaultdict(list)
    for row in rows:
        if is_train_row(row) and 'time' in row:
            times[row.get('epoch', 1)].append(row['time'])
    if not times:
        raise ValueError('the log has no training rows with a "time" field')
    start = 0 if include_outliers else 1
    return {epoch: np.array(values[start:] if len(values) > start else values)
            for epoch, values in sorted(times.items())}


def cal_train_time(args: argparse.Namespace) -> None:
    for path in args.logs:
        rows = load_scalars(Path(path))
        per_epoch = epoch_iteration_times(rows, args.include_outliers)
        means = {epoch: times.mean() for epoch, times in per_epoch.items()}
        slowest = max(means, key=means.get)
        fastest = min(means, key=means.get)
        all_times = np.concatenate(list(per_epoch.values()))
        data_times = [row['data_time'] for row in rows if is_train_row(row) and 'data_time' in row]
        last_iter = max(row['iter'] for row in rows if is_train_row(row))
        print(f'----- train time of {path} -----')
        print(f'epochs: {len(means)}, last iteration: {last_iter}')
        print(f'slowest epoch {slowest}: {means[slowest]:.4f} s/iter')
        print(f'fastest epoch {fastest}: {means[fastest]:.4f} s/iter')
        print(f'std of the epoch means: {np.std(list(means.values())):.4f} s/iter')
        print(f'average iteration time: {all_times.mean():.4f} s/iter')
        if data_times:
            print(f'average data time: {np.mean(data_times):.4f} s/iter '
                  '(close to the iteration time means the data loader is the bottleneck)')
        total = datetime.timedelta(seconds=round(float(all_times.mean()) * last_iter))
        print(f'estimated time for {last_iter} iterations: {total} (h:mm:ss)')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser('plot_curve', help='plot scalars against iteration/epoch')
    plot.add_argument('logs', nargs='+', help='scalars.json files or work dirs')
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='scalars to plot, one panel each (e.g. loss lr acc/top1)')
    plot.add_argument('--legend', nargs='+', default=None, help='one name per log')
    plot.add_argument('--title', default=None)
    plot.add_argument('--out', required=True, help='image file to write (PNG, PDF, SVG)')
    plot.set_defaults(func=plot_curve)
    timing = commands.add_parser('cal_train_time', help='summarise the iteration times')
    timing.add_argument('logs', nargs='+', help='scalars.json files or work dirs')
    timing.add_argument('--include-outliers', action='store_true',
                        help='keep the first logged time of each epoch')
    timing.set_defaults(func=cal_train_time)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
