"""Convert an official or HF transformers TimeSformer checkpoint to a videoswin recognizer.

Reads an official facebookresearch/TimeSformer ``.pyth`` (PySlowFast ``model_state``,
``model.`` keys) or a HF ``TimesformerForVideoClassification`` / ``TimesformerModel``
``save_pretrained`` directory or weights file, and writes ``{'meta', 'state_dict'}`` with
``backbone.*`` (official TimeSformer names) and ``cls_head.fc_cls.*`` keys, for
``load_from`` or ``tools/test.py``. Prints the backbone settings that fit the weights
(official files do not record the head count: 64-channel heads are assumed, as in every
released model, unless ``--num-heads`` says otherwise).

    python tools/convert/timesformer_to_videoswin.py SRC OUT.pth [--trusted] [--num-heads N]
"""
import argparse
from typing import List, Optional


from videoswin.models.backbones.timesformer import (infer_timesformer_args,
                                                     timesformer_state_dict)
from videoswin.models.backbones.vit_image_weights import (read_hf_config, read_video_checkpoint,
                                                         save_converted_recognizer)
from videoswin.utils.cli import add_converter_args, run_converter
from videoswin.utils.errors import run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_converter_args(parser, 'official .pyth/.pth, or HF directory / weights file')
    parser.add_argument('--num-heads', type=int, default=None,
                        help='attention heads (default: from the HF config, else channels / 64)')
    return parser.parse_args(argv)


def convert(src: str, dst: str, num_heads: Optional[int] = None, trusted: bool = False) -> str:
    """Write ``dst``; return a one-line description including the fitting backbone config."""
    backbone, head = read_video_checkpoint(src, timesformer_state_dict, 'TimeSformer',
                                           trusted=trusted)
    args = infer_timesformer_args(backbone)
    hf_config = read_hf_config(src)
    if hf_config:
        args.update(num_heads=hf_config.get('num_attention_heads', args['num_heads']),
                    num_frames=hf_config.get('num_frames', args.get('num_frames')))
    if num_heads:
        args['num_heads'] = num_heads
    return save_converted_recognizer(src, dst, 'TimeSformer', backbone, head, args)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    run_converter(convert, args, num_heads=args.num_heads)


if __name__ == '__main__':
    run_cli(main)
