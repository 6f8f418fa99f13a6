"""Train a recognizer from a config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm}]

Several processes: ``bash tools/dist_train.sh CONFIG NPROC [ARGS]`` (torchrun) or
``tools/slurm_train.sh``. Without GPUs, distributed runs use gloo by themselves.
A config with ``strategy`` (e.g. FSDP, docs/distributed.md) trains with mmengine's
``FlexibleRunner``.
"""
import argparse

from mmengine.config import Config

from videoswin.engine.runner import build_runner
from videoswin.utils import register_all_modules
from videoswin.utils.cli import add_common_args, load_config
from videoswin.utils.config_check import check_config
from videoswin.utils.errors import run_cli
from videoswin.utils.run_lifetime import is_first_process, lock_work_dir
from videoswin.utils.setup_env import setup_env


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a video recognizer')
    parser.add_argument('config', help='config file')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='CKPT',
                        help='resume from CKPT, or without CKPT from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (float16 on GPU, bfloat16 on CPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate linearly with the global batch '
                        'size (auto_scale_lr.base_batch_size in the config)')
    add_common_args(parser, 'train_cfg.max_epochs=10')
    return parser.parse_args()


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied."""
    cfg = load_config(args)
    if args.amp:
        wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper_type not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper, got {wrapper_type}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
    if args.resume == 'auto':
        cfg.resume = True
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise KeyError(f'{args.config}: --auto-scale-lr needs auto_scale_lr.base_batch_size')
        cfg.auto_scale_lr.enable = True
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = build_config(args)
    check_config(cfg, 'train')
    if is_first_process(cfg.launcher):
        lock_work_dir(cfg.work_dir)  # one run per work dir
    setup_env(cfg)
    runner = build_runner(cfg)  # FlexibleRunner when the config has `strategy` (FSDP)
    runner.train()


if __name__ == '__main__':
    run_cli(main)
