"""tools/analysis/get_flops.py counts the paper's GFLOPs: multiply-adds, attention included.

The oracle is an analytic count written here from the architecture (conv + linear
layers + the two attention matmuls per window), independent of the tool's tracing.
"""
import math
import re
import subprocess
import sys

import pytest

from videoswin.models.backbones.swin3d import SwinTransformer3D
from videoswin.utils import register_all_modules

from helpers import REPO_ROOT, load_tool

register_all_modules()

TOOL = REPO_ROOT / 'tools' / 'analysis' / 'get_flops.py'

#: Paper Table 1 / official model zoo, GFLOPs per 32x224x224 view, and backbone params (M).
PAPER = {
    'tiny': ('swin_tiny.py', (8, 7, 7), 87.9, 27.85),
    'small': ('swin_small.py', (8, 7, 7), 165.9, 49.51),
    'base': ('swin_base.py', (8, 7, 7), 281.6, 87.64),
    'base-w16': ('swin_base.py', (16, 7, 7), 320.6, 88.66),
}
SIZES = {'swin_tiny.py': (96, (2, 2, 6, 2), (3, 6, 12, 24)),
         'swin_small.py': (96, (2, 2, 18, 2), (3, 6, 12, 24)),
         'swin_base.py': (128, (2, 2, 18, 2), (4, 8, 16, 32))}


def analytic_macs(embed_dim, depths, window, shape, patch=(2, 4, 4)) -> int:
    """Multiply-adds of Video Swin, from the architecture alone.

    qkv and proj run on the window-padded tokens, the MLP on the real ones; each
    window of n tokens costs 2 * n * n * C for q.k^T and attn.v over all heads.
    """
    batch, channels, *clip = shape
    grid = [math.ceil(size / p) for size, p in zip(clip, patch)]
    dim = embed_dim
    macs = math.prod(grid) * dim * channels * math.prod(patch)
    for stage, depth in enumerate(depths):
        clipped = [min(w, size) for w, size in zip(window, grid)]
        padded = math.prod(math.ceil(size / w) * w for size, w in zip(grid, clipped))
        tokens, n = math.prod(grid), math.prod(clipped)
        macs += depth * (4 * dim * dim * padded + 2 * padded * n * dim + 8 * dim * dim * tokens)
        if stage < len(depths) - 1:
            grid = [grid[0], math.ceil(grid[1] / 2), math.ceil(grid[2] / 2)]
            macs += math.prod(grid) * 4 * dim * 2 * dim
            dim *= 2
    return batch * macs


def swin_model_cfg(config: str, window) -> dict:
    embed, depths, heads = SIZES[config]
    return dict(type='VideoRecognizer',
                backbone=dict(type='SwinTransformer3D', embed_dim=embed, depths=depths,
                              num_heads=heads, window_size=window),
                cls_head=dict(type='VideoClsHead', in_channels=8 * embed, num_classes=400))


@pytest.mark.parametrize('variant', sorted(PAPER))
def test_swin_gflops_and_params_match_the_paper_at_32x224(variant):
    config, window, paper_gflops, paper_params = PAPER[variant]
    shape = (1, 3, 32, 224, 224)
    result = load_tool('analysis/get_flops').count_complexity(swin_model_cfg(config, window), shape)
    embed, depths, _ = SIZES[config]
    assert result.macs == analytic_macs(embed, depths, window, shape)
    assert result.macs / 1e9 == pytest.approx(paper_gflops, rel=0.01)
    assert result.backbone_params / 1e6 == pytest.approx(paper_params, abs=0.005)
    assert result.macs_by_group['attention matmul'] > 0.1 * result.macs


@pytest.mark.slow
def test_cli_prints_params_and_gflops_for_a_config_file(tmp_path):
    """Any config with a `model` dict, odd input sizes (padding, clipped windows)."""
    config = tmp_path / 'narrow_swin.py'
    config.write_text(
        "default_scope = 'videoswin'\n"
        "model = dict(type='SwinTransformer3D', embed_dim=32, depths=(2, 2, 2, 2),\n"
        "             num_heads=(1, 2, 4, 8), window_size=(8, 7, 7))\n")
    shape = (2, 3, 18, 100, 90)
    done = subprocess.run([sys.executable, str(TOOL), str(config), '--shape', *map(str, shape)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    gflops = float(re.search(r'GFLOPs:\s+([\d.]+)', done.stdout).group(1))
    params = float(re.search(r'Params:\s+([\d.]+) M', done.stdout).group(1))
    expected = analytic_macs(32, (2, 2, 2, 2), (8, 7, 7), shape) / 1e9
    assert gflops == pytest.approx(expected, abs=0.006)
    assert 'attention matmul' in done.stdout
    model = SwinTransformer3D(embed_dim=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
    assert params == pytest.approx(sum(p.numel() for p in model.parameters()) / 1e6, abs=0.006)


@pytest.mark.parametrize('config,shape,paper_gflops', [
    # Swin-L at 384 pixels (window 8x12x12): the paper's 2107 GFLOPs per view
    ('swin/swin-large-p244-w81212-res384_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py',
     (1, 3, 32, 384, 384), 2107),
    # Something-Something v2, Swin-B with window 16x7x7: 321 GFLOPs per view
    ('swin/swin-base-p244-w1677_k400-in22k-pre_8xb8-amp-u32-60e_sthv2-rgb.py',
     (1, 3, 32, 224, 224), 321),
    ('timesformer/timesformer-hr-divst-p16-res448_in21k-pre_8xb8-16x16x1-15e_kinetics400-rgb.py',
     (1, 3, 16, 448, 448), None),
])
def test_without_shape_the_input_is_one_view_of_the_test_pipeline(config, shape, paper_gflops):
    from mmengine.config import Config

    tool = load_tool('analysis/get_flops')
    cfg = Config.fromfile(str(REPO_ROOT / 'configs/recognition' / config))
    assert tool.config_view_shape(cfg) == shape
    if paper_gflops is not None:
        window = tuple(cfg.model.backbone.window_size)
        embed, depths = cfg.model.backbone.embed_dim, cfg.model.backbone.depths
        assert analytic_macs(embed, depths, window, shape) / 1e9 == pytest.approx(
            paper_gflops, rel=0.01)


def test_a_config_without_a_test_pipeline_asks_for_shape(tmp_path):
    config = tmp_path / 'model_only.py'
    config.write_text("model = dict(type='SwinTransformer3D', embed_dim=32, depths=(2, 2, 2, 2),\n"
                      "             num_heads=(1, 2, 4, 8))\n")
    done = subprocess.run([sys.executable, str(TOOL), str(config)], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 1, done.stderr
    assert re.search(r'^error: ConfigError: the config has no test pipeline .*pass --shape '
                     r'N C T H W', done.stderr, flags=re.M), done.stderr
    assert 'Traceback' not in done.stderr
