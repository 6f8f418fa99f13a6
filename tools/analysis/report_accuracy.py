"""Fuse the class scores of several models and report top-1/top-5/mean class accuracy.

Each ``--preds`` file is what ``tools/test.py CONFIG CKPT --dump FILE.pkl`` writes; the
models must have been tested on the same list. The fused score of a video is
``sum_i coefficient_i * score_i``.

Example::

    python tools/analysis/report_accuracy.py --preds swin_t.pkl swin_b.pkl --coefficients 1 1
"""
import argparse
import sys

from videoswin.apis.predictions import fuse_predictions, load_predictions
from videoswin.evaluation import accuracy_report


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--preds', nargs='+', required=True,
                        help='prediction files written by tools/test.py --dump')
    parser.add_argument('--coefficients', nargs='+', type=float, default=None,
                        help='one weight per prediction file (default: all 1)')
    parser.add_argument('--apply-softmax', action='store_true',
                        help='softmax each model\'s scores before fusing (use when the '
                        'models were tested with average_clips="score", i.e. logits)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    coefficients = args.coefficients or [1.0] * len(args.preds)
    if len(coefficients) != len(args.preds):
        print(f'error: {len(args.preds)} --preds but {len(coefficients)} --coefficients',
              file=sys.stderr)
        return 2
    try:
        predictions = [load_predictions(path) for path in args.preds]
        fused = fuse_predictions(predictions, coefficients, apply_softmax=args.apply_softmax)
    except (ValueError, FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    if len(predictions) > 1:
        for path, single in zip(args.preds, predictions):
            print(f'{path}: ' + _format(accuracy_report(single.scores, single.labels)))
    label = 'fused' if len(predictions) > 1 else args.preds[0]
    print(f'{label} ({len(fused.labels)} videos, {fused.num_classes} classes): '
          + _format(accuracy_report(fused.scores, fused.labels)))
    return 0


def _format(report: dict) -> str:
    return '  '.join(f'{name}: {value:.4f}' for name, value in report.items())


if __name__ == '__main__':
    sys.exit(main())
