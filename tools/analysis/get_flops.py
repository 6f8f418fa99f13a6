"""Count the parameters and the multiply-adds of a model for one input clip.

    python tools/analysis/get_flops.py CONFIG [--shape N C T H W] [--cfg-options KEY=VALUE ...]

Without ``--shape`` the input is one view of the config's test pipeline: 1 x 3 x
clip_len x crop height x crop width (32 x 384 x 384 for the 384-pixel recipes).

GFLOPs are reported the way the Video Swin paper does: multiply-adds (MACs) of the
backbone for one view, with the two attention matmuls (q.k^T and attn.v) included.
mmengine's and fvcore's counters trace the model with the JIT and, depending on the
version, miss the fused ``scaled_dot_product_attention`` kernel; here the model is
built on torch's ``meta`` device (no memory, no arithmetic) and run under
``torch.utils.flop_counter.FlopCounterMode``, which sees every matmul, attention
included, in a few seconds even for Swin-L. Normalisations, softmax, GELU and
additions are not counted (nor by the paper).
"""
import argparse
from collections import defaultdict
from typing import Dict, NamedTuple, Sequence, Tuple

import torch
from mmengine.config import Config
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from videoswin.apis.inference import find_test_pipeline
from videoswin.registry import MODELS
from videoswin.utils import register_all_modules
from videoswin.utils.cli import add_cfg_options, read_config
from videoswin.utils.config_check import check_config
from videoswin.utils.errors import ConfigError, run_cli
from videoswin.utils.setup_env import setup_env

#: How torch's operator names are grouped in the printed breakdown.
OPERATOR_GROUPS = {
    'addmm': 'linear', 'mm': 'linear', 'linear': 'linear',
    'bmm': 'attention matmul', 'baddbmm': 'attention matmul',
    '_scaled_dot_product_flash_attention': 'attention matmul',
    '_scaled_dot_product_efficient_attention': 'attention matmul',
    '_scaled_dot_product_cudnn_attention': 'attention matmul',
    'convolution': 'conv', '_convolution': 'conv',
}


class Complexity(NamedTuple):
    """Parameter counts and multiply-adds of one forward pass."""
    params: int
    backbone_params: int
    macs: int
    macs_by_group: Dict[str, int]


def count_complexity(model_cfg: dict, shape: Sequence[int]) -> Complexity:
    """Build ``model_cfg`` on the meta device and count one forward of a ``shape`` input.

    For a recognizer (anything with a ``backbone``) the backbone is what runs, as
    in the paper; any other model runs as a whole.
    """
    with torch.device('meta'):
        model = MODELS.build(model_cfg)
    model.eval()
    target: nn.Module = getattr(model, 'backbone', model)
    clip = torch.empty(*shape, device='meta')
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        target(clip)
    by_group: Dict[str, int] = defaultdict(int)
    for op, flops in counter.get_flop_counts()['Global'].items():
        name = str(op).split('.')[-1]
        by_group[OPERATOR_GROUPS.get(name, name)] += flops // 2  # FLOPs -> multiply-adds
    return Complexity(
        params=sum(p.numel() for p in model.parameters()),
        backbone_params=sum(p.numel() for p in target.parameters()),
        macs=counter.get_total_flops() // 2,
        macs_by_group=dict(by_group))


def config_view_shape(cfg: Config) -> Tuple[int, int, int, int, int]:
    """(1, 3, T, H, W) of one view of the config's test pipeline: T is the frame
    sampler's ``clip_len``, H x W the last crop (or a fixed ``Resize``) before it."""
    try:
        steps = find_test_pipeline(cfg)
    except ValueError as error:
        raise ConfigError(f'{error}; pass --shape N C T H W') from None
    clip_len, size = None, None
    for step in steps:
        clip_len = step.get('clip_len', clip_len)
        if 'crop_size' in step:
            size = step['crop_size']
        elif str(step.get('type')).endswith('Resize') and _fixed_size(step.get('scale')):
            size = step['scale']
    if clip_len is None or size is None:
        raise ConfigError('cannot tell the clip length and crop size from the test pipeline '
                          f"(clip_len {clip_len}, crop {size}); pass --shape N C T H W")
    width, height = (size, size) if isinstance(size, int) else size  # mmaction2: (w, h)
    return 1, 3, int(clip_len), int(height), int(width)


def _fixed_size(scale) -> bool:
    return isinstance(scale, (list, tuple)) and len(scale) == 2 and min(scale) > 0


def format_report(config: str, shape: Sequence[int], result: Complexity) -> str:
    """The lines printed by the tool."""
    breakdown = ' | '.join(f'{name} {macs / 1e9:.2f}' for name, macs in
                           sorted(result.macs_by_group.items(), key=lambda kv: -kv[1]))
    bar = '=' * 60
    return '\n'.join([
        bar,
        f'Config:      {config}',
        f'Input shape: {tuple(shape)}',
        f'Params:      {result.params / 1e6:.2f} M (backbone {result.backbone_params / 1e6:.2f} M)',
        f'GFLOPs:      {result.macs / 1e9:.2f} (multiply-adds, attention matmuls included)',
        f'  by operator (G): {breakdown}',
        bar,
    ])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Parameters and GFLOPs (multiply-adds) of a model')
    parser.add_argument('config', help='config file with a `model` dict')
    parser.add_argument('--shape', type=int, nargs=5, default=None,
                        metavar=('N', 'C', 'T', 'H', 'W'),
                        help='input clip shape (default: one view of the test pipeline)')
    add_cfg_options(parser, 'model.backbone.window_size=[16,7,7]')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    if 'model' not in cfg:
        raise ConfigError(f'{args.config}: no `model` dict in this config')
    check_config(cfg, 'test', check_paths=False)
    shape = args.shape or config_view_shape(cfg)
    setup_env(cfg)
    print(format_report(args.config, shape, count_complexity(cfg.model, shape)))


if __name__ == '__main__':
    run_cli(main)
