"""Convert a HF transformers ViViT (Model 1) checkpoint to a videoswin recognizer.

Reads a ``VivitForVideoClassification`` / ``VivitModel`` ``save_pretrained`` directory or
weights file (transformers 4.x or 5.x key names; q/k/v are fused, the unused pooler is
dropped) and writes ``{'meta', 'state_dict'}`` with ``backbone.*`` and
``cls_head.fc_cls.*`` keys for ``load_from`` or ``tools/test.py``. HF implements only
Model 1 (spatio-temporal); the printed backbone settings say so.

    python tools/convert/vivit_to_videoswin.py SRC OUT.pth [--trusted]
"""
import argparse
from typing import List, Optional


from videoswin.models.backbones.vit_image_weights import (read_hf_config, read_video_checkpoint,
                                                         save_converted_recognizer)
from videoswin.models.backbones.vivit import infer_vivit_args, vivit_state_dict
from videoswin.utils.cli import add_converter_args, run_converter
from videoswin.utils.errors import run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_converter_args(parser, 'HF directory or weights file (model.safetensors, '
                       'pytorch_model.bin)')
    return parser.parse_args(argv)


def convert(src: str, dst: str, trusted: bool = False) -> str:
    """Write ``dst``; return a one-line description including the fitting backbone config."""
    backbone, head = read_video_checkpoint(src, vivit_state_dict, 'ViViT', 'tubelet', trusted)
    args = infer_vivit_args(backbone)
    hf_config = read_hf_config(src)
    if hf_config:
        args['arch']['num_heads'] = hf_config.get('num_attention_heads', args['arch']['num_heads'])
        args.update(num_frames=hf_config.get('num_frames'), img_size=hf_config.get('image_size'))
        if hf_config.get('hidden_act') == 'gelu':
            args['act'] = 'gelu'
    return save_converted_recognizer(src, dst, 'ViViT', backbone, head, args)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    run_converter(convert, args)


if __name__ == '__main__':
    run_cli(main)
