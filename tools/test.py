"""Test a checkpoint with the config's test protocol (views x clips, fused scores).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump PRED.pkl]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm}]

Prints top-1, top-5 and mean class accuracy. The checkpoint may be one of ours, an
official Video Swin release or an mmaction2 one (see docs/checkpoints.md).
Several processes: ``bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [ARGS]``.
"""
import argparse
from typing import Dict

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from videoswin.checkpoint import load_model_checkpoint
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
    load_model_checkpoint(model, args.checkpoint)
    metrics = runner.test()
    if is_main_process():
        print(format_metrics(metrics), flush=True)


if __name__ == '__main__':
    run_cli(main)
