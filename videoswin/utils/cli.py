"""Command-line pieces shared by the tools: ``train.py``/``test.py`` arguments and
the error reporting of the checkpoint tools (converters, ``publish_model.py``)."""
import argparse
import os.path as osp
from typing import Callable, TypeVar

from mmengine.config import Config, DictAction

from videoswin.checkpoint import (CheckpointDownloadError, CheckpointKindError,
                                  UnreadableCheckpointError, UnsafeCheckpointError)

T = TypeVar('T')

#: Input problems a checkpoint tool reports in one line instead of a traceback: the
#: file is missing, cannot be downloaded, is not a torch file (or a damaged one), needs
#: unpickling beyond the allow-list, or holds the wrong model.
BAD_CHECKPOINT_ERRORS = (FileNotFoundError, CheckpointDownloadError, UnreadableCheckpointError,
                         CheckpointKindError, UnsafeCheckpointError)


def add_common_args(parser: argparse.ArgumentParser, cfg_options_example: str) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and the old ``--local-rank``."""
    parser.add_argument('--work-dir', help='where logs (and checkpoints) go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help=f'override config entries, e.g. {cfg_options_example}')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='how the processes were started')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help='set by old launchers; torchrun uses $LOCAL_RANK')


def load_config(args: argparse.Namespace) -> Config:
    """The config file with ``--cfg-options``, the launcher and the work dir applied."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def exit_on_bad_checkpoint(work: Callable[[], T]) -> T:
    """Run ``work``; a bad input file ends the tool with ``error: <message>`` (the
    messages name the file), exit status 1, and nothing written."""
    try:
        return work()
    except BAD_CHECKPOINT_ERRORS as error:
        raise SystemExit(f'error: {error}') from None
