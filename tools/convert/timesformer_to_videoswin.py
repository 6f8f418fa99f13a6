"""Convert an official or HF transformers TimeSformer checkpoint to a videoswin recognizer.

Reads an official facebookresearch/TimeSformer ``.pyth`` (PySlowFast ``model_state``,
``model.`` keys) or a HF ``TimesformerForVideoClassification`` / ``TimesformerModel``
``save_pretrained`` directory or weights file, and writes ``{'meta', 'state_dict'}`` with
``backbone.*`` (official TimeSformer names) and ``cls_head.fc_cls.*`` keys, for
``load_from`` or ``tools/test.py``. Prints the backbone settings that fit the weights
(official files do not record the head count: 64-channel heads are assumed, as in every
released model, unless ``--num-heads`` says otherwise).

    python tools/convert/timesformer_to_videoswin.py SRC OUT.pth [--num-heads N]
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import torch
from mmengine.logging import print_log

from videoswin.models.backbones.timesformer import (infer_timesformer_args,
                                                     timesformer_state_dict)
from videoswin.models.backbones.vit_weights import read_hf_config, read_state_dict


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official .pyth/.pth, or HF directory / weights file')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument('--num-heads', type=int, default=None,
                        help='attention heads (default: from the HF config, else channels / 64)')
    return parser.parse_args(argv)


def convert(src: str, dst: str, num_heads: Optional[int] = None) -> str:
    """Write ``dst``; return a one-line description including the fitting backbone config."""
    backbone, head = timesformer_state_dict(read_state_dict(src))
    if 'patch_embed.proj.weight' not in backbone:
        raise ValueError(f'{src} holds no TimeSformer weights (no patch embedding found)')
    args = infer_timesformer_args(backbone)
    hf_config = read_hf_config(src)
    if hf_config:
        args.update(num_heads=hf_config.get('num_attention_heads', args['num_heads']),
                    num_frames=hf_config.get('num_frames', args.get('num_frames')))
    if num_heads:
        args['num_heads'] = num_heads
    state_dict = {f'backbone.{k}': v for k, v in backbone.items()}
    state_dict.update({f'cls_head.fc_cls.{k}': v for k, v in head.items()})
    meta = dict(converted_from=osp.basename(osp.normpath(src)), backbone=args)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save({'meta': meta, 'state_dict': state_dict}, dst)
    classes = f'{head["weight"].shape[0]}-class head' if head else 'no head'
    return (f'{src} -> {dst}: {len(backbone)} backbone tensors, {classes}. '
            f'Backbone config: dict(type=\'TimeSformer\', '
            + ', '.join(f'{k}={v!r}' for k, v in args.items()) + ')')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    print_log(convert(args.src, args.dst, args.num_heads), logger='current')


if __name__ == '__main__':
    main()
