"""Convert an mmaction2 1.x Video Swin checkpoint to the videoswin (official) layout.

mmaction2 names the backbone's last LayerNorm ``norm3``; the official Video Swin code
and videoswin name it ``norm``. Everything else already matches. Only ``meta`` and
``state_dict`` are written: the result is for ``load_from`` / testing, not resuming.

    python tools/convert/mmaction2_to_videoswin.py IN.pth OUT.pth [--trusted]
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import torch

from videoswin.checkpoint import CheckpointKindError, read_state_dict
from videoswin.models.backbones.swin3d_weights import detect_swin
from videoswin.utils.cli import add_converter_args, run_converter
from videoswin.utils.errors import run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_converter_args(parser, 'mmaction2 checkpoint (.pth)')
    return parser.parse_args(argv)


def convert(src: str, dst: str, trusted: bool = False) -> str:
    """Write ``dst`` with norm3 renamed; return a one-line description of what was done."""
    state_dict, meta = read_state_dict(src, trusted=trusted)
    converted, info = detect_swin(state_dict, src, meta)
    if info.dims != 3:
        raise CheckpointKindError(
            f'{src} is a {info.describe()} checkpoint, not an mmaction2 Video Swin one; 2D '
            'files need no conversion (model.backbone.pretrained=... pretrained2d=True)')
    renamed = sum(1 for key in state_dict if key not in converted)
    meta = dict(meta, converted_from=f'{info.layout} layout ({osp.basename(src)})')
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save({'meta': meta, 'state_dict': converted}, dst)
    note = '' if renamed else ' (already in the videoswin layout; copied as is)'
    return f'{src} -> {dst}: {len(converted)} tensors, {renamed} renamed (norm3 -> norm){note}'


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    run_converter(convert, args)


if __name__ == '__main__':
    run_cli(main)
