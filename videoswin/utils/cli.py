"""Command-line pieces shared by the tools: ``--cfg-options`` and the other common
arguments, reading the config they edit, and the error reporting of the checkpoint
tools (converters, ``publish_model.py``).

Every tool that takes a config starts the same way: parse the arguments, register the
modules, :func:`read_config` (or :func:`load_config` for the runner tools), then
``check_config``, and only then build anything; ``run_cli`` turns a failure into one line.
"""
import argparse
import difflib
import os
import os.path as osp
from typing import Any, Callable, Optional, TypeVar

from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from videoswin.checkpoint import (CheckpointDownloadError, CheckpointKindError,
                                  UnreadableCheckpointError, UnsafeCheckpointError)

from .config_check import check_option_keys
from .errors import ConfigError

T = TypeVar('T')

#: Input problems a checkpoint tool reports in one line instead of a traceback: the
#: file is missing, cannot be downloaded, is not a torch file (or a damaged one), needs
#: unpickling beyond the allow-list, or holds the wrong model.
BAD_CHECKPOINT_ERRORS = (FileNotFoundError, CheckpointDownloadError, UnreadableCheckpointError,
                         CheckpointKindError, UnsafeCheckpointError)


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction``, with an item lacking ``=`` named in one line (it
    fails with "not enough values to unpack" otherwise)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        for item in values:
            if '=' not in item or not item.split('=', 1)[0]:
                raise ConfigError(f'{option_string} {item!r}: expected KEY=VALUE, e.g. '
                                  'optim_wrapper.optimizer.lr=0.001')
        super().__call__(parser, namespace, values, option_string)


def add_cfg_options(parser: argparse.ArgumentParser, example: str) -> None:
    """``--cfg-options KEY=VALUE ...`` (read by :func:`read_config`)."""
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, default={},
                        metavar='KEY=VALUE', help=f'override config entries, e.g. {example}')


def add_common_args(parser: argparse.ArgumentParser, cfg_options_example: str) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and the old ``--local-rank``."""
    parser.add_argument('--work-dir', help='where logs (and checkpoints) go '
                        '(default: ./work_dirs/<config name>)')
    add_cfg_options(parser, cfg_options_example)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='how the processes were started')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help='set by old launchers; torchrun uses $LOCAL_RANK')


def load_config(args: argparse.Namespace) -> Config:
    """The config file with ``--cfg-options``, the launcher and the work dir applied."""
    cfg = read_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def read_config(path: str, options: Optional[dict] = None) -> Config:
    """The config file with the ``--cfg-options`` items applied; an item whose first
    part is no key of the config (nor one the runner reads) is refused. A config file
    that does not exist is named with the closest file names beside it."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such config file{_closest_files(path)}')
    cfg = Config.fromfile(path)
    if options:
        check_option_keys(cfg, options)
        cfg.merge_from_dict(options)
    return cfg


def _closest_files(path: str) -> str:
    """`` (did you mean ...?)`` with up to 3 similar names in the same folder, or ''."""
    folder, name = osp.split(path)
    if not osp.isdir(folder or '.'):
        return f' (folder {folder} does not exist either)'
    names = [n for n in os.listdir(folder or '.') if n.endswith('.py')]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.8)
    return f' (did you mean {", ".join(osp.join(folder, n) for n in close)}?)' if close else ''


def exit_on_bad_checkpoint(work: Callable[[], T]) -> T:
    """Run ``work``; a bad input file ends the tool with ``error: <message>`` (the
    messages name the file), exit status 1, and nothing written."""
    try:
        return work()
    except BAD_CHECKPOINT_ERRORS as error:
        raise SystemExit(f'error: {error}') from None


def add_converter_args(parser: argparse.ArgumentParser, src_help: str) -> None:
    """``SRC DST [--trusted]``, the same for every ``tools/convert/`` script."""
    parser.add_argument('src', help=f'{src_help}; a local path or an http(s) URL of a file')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument('--trusted', action='store_true',
                        help='unrestricted unpickling of SRC (only for files you trust)')


def run_converter(convert: Callable[..., str], args: argparse.Namespace, **options: Any) -> None:
    """Run a converter's ``convert(src, dst, **options, trusted=...)`` and log its one-line
    description; a bad SRC ends the tool as :func:`exit_on_bad_checkpoint` says."""
    print_log(exit_on_bad_checkpoint(
        lambda: convert(args.src, args.dst, trusted=args.trusted, **options)), logger='current')
