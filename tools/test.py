"""Test a checkpoint with the config's test protocol (views x clips, fused scores).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump PRED.pkl]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm}]

Prints top-1, top-5 and mean class accuracy. The checkpoint may be one of ours, an
official Video Swin release or an mmaction2 one, a file or an http(s) URL (downloaded
once; see docs/checkpoints.md). Scores that are not finite (NaN/inf weights) are not
averaged into an accuracy: the run stops naming the checkpoint's first bad tensor.
Several processes: ``bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [ARGS]``.
"""
import argparse
from typing import Dict, Optional, Sequence

from mmengine.config import Config
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from videoswin.checkpoint import LoadSummary, load_model_checkpoint
from videoswin.utils import register_all_modules
from videoswin.utils.cli import add_common_args, load_config
from videoswin.utils.config_check import check_config
from videoswin.utils.errors import run_cli
from videoswin.utils.setup_env import setup_env

METRIC_NAMES = {'acc/top1': 'top-1 accuracy', 'acc/top5': 'top-5 accuracy',
                'acc/mean1': 'mean class accuracy'}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a video recognizer')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--dump', metavar='PRED.pkl',
                        help='also write every prediction (scores and labels) to a pickle')
    add_common_args(parser, 'test_dataloader.batch_size=2')
    return parser.parse_args()


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied."""
    cfg = load_config(args)
    cfg.load_from = None  # loaded below, through the layout-aware loader
    if args.dump:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump {args.dump}: the file name must end in .pkl')
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.test_evaluator = evaluators + [dict(type='DumpResults', out_file_path=args.dump)]
    return cfg


class NonFiniteScoresError(ValueError):
    """The model scored a video NaN/inf: an accuracy over such scores means nothing."""


class FiniteScoresHook(Hook):
    """Stops testing at the first non-finite score, naming the checkpoint's first
    non-finite tensor (the usual cause)."""

    def __init__(self, summary: LoadSummary) -> None:
        self.summary = summary

    def after_test_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or ():
            scores = sample.pred_scores.item
            if not bool(torch.isfinite(scores).all()):
                cause = (f'its weights are not finite: {self.summary.nonfinite}'
                         if self.summary.nonfinite else 'its weights are finite, so the '
                         'overflow happens in the forward pass')
                raise NonFiniteScoresError(
                    f'refusing to score {self.summary.source}: the model scored '
                    f'{sample.metainfo.get("filename", f"test batch {batch_idx}")} '
                    f'{scores.tolist()[:4]}...; {cause}')


def format_metrics(metrics: Dict[str, float]) -> str:
    """One line per metric, accuracy metrics first under readable names."""
    lines = [f'{METRIC_NAMES[key]}: {metrics[key]:.4f}' for key in METRIC_NAMES if key in metrics]
    lines += [f'{key}: {value}' for key, value in metrics.items() if key not in METRIC_NAMES]
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = build_config(args)
    check_config(cfg, 'test')
    setup_env(cfg)
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    summary = load_model_checkpoint(model, args.checkpoint)
    runner.register_hook(FiniteScoresHook(summary), priority='VERY_HIGH')
    metrics = runner.test()
    if is_main_process():
        print(format_metrics(metrics), flush=True)


if __name__ == '__main__':
    run_cli(main)
