"""Draw the confusion matrix of a test run as a PNG.

The input is what ``tools/test.py CONFIG CKPT --dump PRED.pkl`` writes. Rows are the true
classes, columns the predicted ones; by default each row is normalised to sum to 1, so the
diagonal is the per-class recall.

Example::

    python tools/analysis/confusion_matrix.py work_dirs/demo/preds.pkl --out cm.png \\
        --classes data/synthetic/classes.txt
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np

from videoswin.apis.predictions import load_predictions
from videoswin.evaluation import confusion_matrix

# Beyond these sizes, tick labels and cell values overlap into noise.
MAX_TICK_LABELS = 60
MAX_CELL_VALUES = 25


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('preds', help='prediction file written by tools/test.py --dump')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--classes', default=None,
                        help='text file with one class name per line, in label order')
    parser.add_argument('--counts', action='store_true',
                        help='show raw counts instead of row-normalised rates')
    parser.add_argument('--title', default=None)
    return parser.parse_args(argv)


def read_class_names(path: str, num_classes: int) -> List[str]:
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if len(names) != num_classes:
        raise ValueError(f'{path}: {len(names)} class names, but the predictions have '
                         f'{num_classes} classes')
    return names


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its total; rows of classes absent from the truth stay 0."""
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)


def plot_confusion_matrix(matrix: np.ndarray, out: str, names: Optional[List[str]],
                          title: str, counts: bool) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    num_classes = len(matrix)
    side = min(4 + 0.35 * num_classes, 40)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    image = ax.imshow(matrix, cmap='viridis', interpolation='nearest',
                      vmin=0, vmax=None if counts else 1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                 label='videos' if counts else 'fraction of the true class')
    if num_classes <= MAX_TICK_LABELS:
        labels = names or [str(i) for i in range(num_classes)]
        ax.set_xticks(range(num_classes), labels, rotation=90)
        ax.set_yticks(range(num_classes), labels)
    if num_classes <= MAX_CELL_VALUES:
        threshold = matrix.max() / 2
        for (row, col), value in np.ndenumerate(matrix):
            text = f'{int(value)}' if counts else f'{value:.2f}'
            ax.text(col, row, text, ha='center', va='center', fontsize=8,
                    color='black' if value > threshold else 'white')
    ax.set_xlabel('predicted class')
    ax.set_ylabel('true class')
    ax.set_title(title)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        predictions = load_predictions(args.preds)
        names = read_class_names(args.classes, predictions.num_classes) if args.classes else None
    except (ValueError, FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    counts = confusion_matrix(predictions.scores.argmax(axis=1), predictions.labels,
                              predictions.num_classes)
    matrix = counts if args.counts else normalise_rows(counts)
    title = args.title or f'{Path(args.preds).name}: {len(predictions.labels)} videos'
    plot_confusion_matrix(matrix, args.out, names, title, args.counts)
    accuracy = np.trace(counts) / counts.sum()
    print(f'wrote {args.out} ({predictions.num_classes} classes, top-1 {accuracy:.4f})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
