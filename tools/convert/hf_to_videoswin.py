"""Convert a HF transformers 2D Swin to the Microsoft layout, ready to inflate.

Reads a ``save_pretrained`` directory, ``model.safetensors`` or ``pytorch_model.bin``
(transformers 4.x or 5.x key names; ``SwinModel`` or ``SwinForImageClassification``)
and writes ``{'model': state_dict}`` as microsoft/Swin-Transformer does, with q/k/v
fused into ``qkv``. Use the result as ``model.backbone.pretrained`` with
``pretrained2d=True``; the loader reads HF files directly too, so converting is only
needed to share a single ``.pth`` file.

    python tools/convert/hf_to_videoswin.py HF_DIR_OR_FILE OUT.pth [--trusted]
"""
import argparse
import json
import os
import os.path as osp
from typing import List, Optional

import torch

from videoswin.checkpoint import CheckpointKindError
from videoswin.models.backbones.swin3d_layouts import is_rebuilt_buffer
from videoswin.models.backbones.swin3d_weights import read_checkpoint
from videoswin.utils.cli import add_converter_args, run_converter
from videoswin.utils.errors import run_cli

_ARCH_FIELDS = ('embed_dim', 'depths', 'num_heads', 'window_size', 'patch_size', 'image_size')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_converter_args(parser, 'HF save_pretrained directory, model.safetensors or '
                       'pytorch_model.bin')
    return parser.parse_args(argv)


def _hf_config(src: str) -> dict:
    """The architecture fields of the config.json beside the weights, if there is one."""
    directory = src if osp.isdir(src) else osp.dirname(src)
    path = osp.join(directory, 'config.json')
    if not osp.isfile(path):
        return {}
    with open(path) as config_file:
        config = json.load(config_file)
    return {key: config[key] for key in _ARCH_FIELDS if key in config}


def convert(src: str, dst: str, trusted: bool = False) -> str:
    """Write ``dst``; return a one-line description of what was written."""
    state_dict, info = read_checkpoint(src, trusted=trusted)
    if info.layout != 'hf-transformers':
        raise CheckpointKindError(f'{src} is a {info.describe()} checkpoint, not a HF '
                                  'transformers Swin')
    state_dict = {k: v for k, v in state_dict.items() if not is_rebuilt_buffer(k)}
    arch = _hf_config(src)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save({'model': state_dict, 'meta': dict(converted_from='hf-transformers', **arch)},
               dst)
    arch_note = f'; architecture {arch}' if arch else ''
    return (f'{src} -> {dst}: {len(state_dict)} tensors in the Microsoft 2D layout{arch_note}. '
            'Use it as model.backbone.pretrained with pretrained2d=True.')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    run_converter(convert, args)


if __name__ == '__main__':
    run_cli(main)
