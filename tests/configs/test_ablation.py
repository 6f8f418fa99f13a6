"""An ablation config written the way a user would: inherit, override, train, test."""
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from videoswin.checkpoint import safe_load
from videoswin.datasets.synthetic import make_synthetic_dataset

from helpers import REPO_ROOT


def run_tool(args, cwd: Path) -> str:
    result = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_window_and_depth_ablation_trains_and_tests_end_to_end(tmp_path):
    make_synthetic_dataset(tmp_path / 'data/synthetic', num_train=4, num_val=2, ssv2_style=False)
    config = tmp_path / 'swin-micro_w244_d1121.py'
    config.write_text(textwrap.dedent(f'''\
        # Ablation: a smaller window and a deeper stage 3 than the demo model.
        _base_ = ['{REPO_ROOT}/configs/demo/swin-micro_synthetic.py']
        model = dict(backbone=dict(window_size=(2, 4, 4), depths=(1, 1, 2, 1)))
        train_dataloader = dict(batch_size=4)
        train_cfg = dict(max_epochs=1, val_interval=1)
        '''))
    run_tool([REPO_ROOT / 'tools/train.py', config, '--work-dir', 'work'], cwd=tmp_path)

    checkpoint = tmp_path / 'work/epoch_1.pth'
    state = safe_load(str(checkpoint))['state_dict']
    # the overrides reached the model: one more block in stage 3, a (2, 4, 4) window
    assert 'backbone.layers.2.blocks.1.attn.qkv.weight' in state
    assert 'backbone.layers.1.blocks.1.attn.qkv.weight' not in state
    table_rows = (2 * 2 - 1) * (2 * 4 - 1) * (2 * 4 - 1)
    assert state['backbone.layers.0.blocks.0.attn.relative_position_bias_table'].shape[0] == table_rows

    out = run_tool([REPO_ROOT / 'tools/test.py', config, checkpoint, '--work-dir', 'work',
                    '--dump', 'work/preds.pkl'], cwd=tmp_path)
    metrics = dict(re.findall(r'^(top-1 accuracy|top-5 accuracy|mean class accuracy): ([\d.]+)$',
                              out, flags=re.M))
    assert set(metrics) == {'top-1 accuracy', 'top-5 accuracy', 'mean class accuracy'}
    assert all(0.0 <= float(value) <= 1.0 for value in metrics.values())

    with open(tmp_path / 'work/preds.pkl', 'rb') as file:
        predictions = pickle.load(file)
    labels = [int(line.split()[1]) for line in
              (tmp_path / 'data/synthetic/val_list.txt').read_text().splitlines()]
    assert [int(p['gt_labels']['item']) for p in predictions] == labels
    # 2 classes, fused over 2 clips x 3 crops into one probability vector per video
    for prediction in predictions:
        scores = prediction['pred_scores']['item']
        assert scores.shape == (2,) and abs(float(scores.sum()) - 1) < 1e-5
    top1 = sum(int(p['pred_scores']['item'].argmax()) == label
               for p, label in zip(predictions, labels)) / len(labels)
    assert abs(top1 - float(metrics['top-1 accuracy'])) < 1e-6
