"""Multi-view testing through tools/test.py on a recipe config (issue 5 item 7).

The Swin-T Kinetics-400 recipe runs unchanged except for what ``--cfg-options`` points
elsewhere: the data (two real H.264 videos) and the model size (one block per stage, C=8).
Its test protocol -- 4 clips of 32 frames at stride 2, short side 224, three 224 crops,
``prob`` fusion -- is the recipe's. The fused scores are compared with a by-hand mean of
per-view softmax, computed view by view with the backbone and head, and re-run with a
different ``max_testing_views``.
"""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.dataset import pseudo_collate

from videoswin.registry import DATASETS, MODELS
from videoswin.utils import register_all_modules
from videoswin.utils.video_io import write_video

register_all_modules()

RECIPE = ('configs/recognition/swin/'
          'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
CLIPS, CROPS = 4, 3


def moving_pattern(seed: int, frames: int = 80, height: int = 240, width: int = 320) -> np.ndarray:
    """A textured frame sliding in a seed-dependent direction: views differ in content."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    base = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))
    dy, dx = rng.integers(-4, 5, size=2)
    return np.stack([np.roll(base, (t * dy, t * dx), axis=(0, 1)) for t in range(frames)])


@pytest.fixture(scope='module')
def tiny_set(tmp_path_factory):
    """Two 80-frame 320x240 H.264 videos and their 'name label' list."""
    root = tmp_path_factory.mktemp('videos')
    lines = []
    for label in range(2):
        write_video(root / f'clip{label}.mp4', moving_pattern(label), fps=25, codec='h264')
        lines.append(f'clip{label}.mp4 {label}')
    (root / 'list.txt').write_text('\n'.join(lines) + '\n')
    return root


def cfg_options(root) -> dict:
    """Data and model size only; the recipe's views, fusion and max_testing_views stay."""
    return {
        'test_dataloader.dataset.ann_file': str(root / 'list.txt'),
        'test_dataloader.dataset.data_prefix.video': str(root),
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'model.backbone.embed_dim': 8,
        'model.backbone.depths': (1, 1, 1, 1),
        'model.backbone.num_heads': (1, 1, 1, 1),
        'model.backbone.pretrained': None,
        'model.cls_head.in_channels': 64,
    }


def shrunken_recipe(root) -> Config:
    cfg = Config.fromfile(RECIPE)
    cfg.merge_from_dict(cfg_options(root))
    return cfg


@pytest.fixture(scope='module')
def checkpoint(tiny_set):
    """Random weights, with a head scaled up so that per-view softmaxes differ clearly."""
    torch.manual_seed(0)
    model = MODELS.build(shrunken_recipe(tiny_set).model)
    model.init_weights()
    torch.nn.init.normal_(model.cls_head.fc_cls.weight, std=2.0)
    path = tiny_set / 'random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def run_test_tool(root, checkpoint) -> torch.Tensor:
    """Fused scores (videos, classes) that tools/test.py dumps."""
    dump = root / 'pred.pkl'
    options = [f'{key}={value}'.replace(' ', '') for key, value in cfg_options(root).items()]
    command = [sys.executable, 'tools/test.py', RECIPE, str(checkpoint), '--work-dir',
               str(root / 'work'), '--dump', str(dump), '--cfg-options', *options]
    done = subprocess.run(command, env=dict(os.environ, OMP_NUM_THREADS='1'),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'top-1 accuracy' in done.stdout
    with open(dump, 'rb') as f:
        dumped = pickle.load(f)
    return torch.stack([torch.as_tensor(sample['pred_scores']['item']) for sample in dumped])


@pytest.mark.slow
def test_test_tool_fuses_4x3_views_by_mean_softmax_whatever_the_view_chunk(tiny_set, checkpoint):
    cfg = shrunken_recipe(tiny_set)
    assert cfg.model.test_cfg.max_testing_views == 4  # the tool runs the recipe's chunking
    tool_scores = run_test_tool(tiny_set, checkpoint)

    # by hand: every view through backbone and head on its own, softmax, mean over views
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(torch.load(checkpoint, weights_only=True)['state_dict'])
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batches = [model.data_preprocessor(pseudo_collate([dataset[i]]), False)
               for i in range(len(dataset))]
    with torch.no_grad():
        view_logits = []
        for batch in batches:
            views = batch['inputs'][0]
            assert views.shape == (CLIPS * CROPS, 3, 32, 224, 224)
            view_logits.append(torch.stack([model.cls_head(model.backbone(view[None]))[0]
                                            for view in views]))
    view_logits = torch.stack(view_logits)
    per_view_prob = view_logits.softmax(dim=-1)
    expected = per_view_prob.mean(dim=1)
    assert tool_scores.shape == expected.shape == (2, 400)
    torch.testing.assert_close(tool_scores, expected, rtol=1e-4, atol=1e-6)

    # max_testing_views only bounds memory: all at once, one by one, chunks of 5 + 5 + 2
    for max_views in (None, 1, 5):
        model.max_testing_views = max_views
        with torch.no_grad():
            fused = torch.cat([model.predict(batch['inputs'])[0].pred_scores.item[None]
                               for batch in batches])
        torch.testing.assert_close(fused, tool_scores, rtol=1e-5, atol=1e-7)

    # the check has teeth: the views disagree, and score fusion would give other numbers
    total_variation = 0.5 * (per_view_prob - expected[:, None]).abs().sum(dim=-1)
    assert total_variation.max() > 0.1
    score_fusion = view_logits.mean(dim=1).softmax(dim=-1)
    assert (score_fusion - expected).abs().max() > 1e-3
