"""An ablation config written the way a user would: inherit, override, train, test."""
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from helpers.swin_files import TINY, write_microsoft_swin_2d
from videoswin.checkpoint import CheckpointMismatchError, safe_load
from videoswin.models.backbones.swin3d_weights import inflate_state_dict
from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

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


ABLATION = REPO_ROOT / 'configs/ablation/swin-tiny-p244-w477-d2222_k400.py'


@pytest.fixture(scope='module')
def swin_t_2d(tmp_path_factory) -> Path:
    """An ImageNet Swin-T file of the real size (random weights), Microsoft layout."""
    return write_microsoft_swin_2d(tmp_path_factory.mktemp('imagenet') / 'swin_t_2d.pth',
                                   arch=TINY)


@pytest.mark.slow
def test_the_shipped_ablation_config_loads_what_fits_from_imagenet_swin_t(swin_t_2d):
    register_all_modules()
    cfg = Config.fromfile(str(ABLATION))
    assert cfg.model.backbone.load_what_fits is True
    assert cfg.model.backbone.pretrained.endswith('/swin_tiny_patch4_window7_224.pth')
    cfg.model.backbone.pretrained = str(swin_t_2d)
    backbone = MODELS.build(cfg.model).backbone
    assert backbone.depths == (2, 2, 2, 2) and backbone.window_size == (4, 7, 7)

    backbone.init_weights()

    expected, _ = inflate_state_dict(safe_load(str(swin_t_2d))['model'], (2, 4, 4), (4, 7, 7))
    state = backbone.state_dict()
    for key, value in state.items():
        if not key.endswith(('relative_position_index', 'attn_mask')):
            assert torch.equal(value, expected[key]), key  # every block both have, inflated
    assert not any(key.startswith('layers.2.blocks.2.') for key in state)
    # the default stays strict: the same file without the switch stops
    strict = MODELS.build(dict(cfg.model, backbone=dict(cfg.model.backbone,
                                                        load_what_fits=False))).backbone
    with pytest.raises(CheckpointMismatchError, match='load_what_fits=True'):
        strict.init_weights()


@pytest.mark.slow
def test_the_shipped_ablation_config_trains_from_a_2d_file(tmp_path, swin_t_2d):
    """tools/train.py on a child of the shipped config: synthetic data, 8-frame 64 px clips."""
    make_synthetic_dataset(tmp_path / 'data/synthetic', num_train=2, num_val=1, ssv2_style=False)
    config = tmp_path / 'ablation_smoke.py'
    config.write_text(textwrap.dedent(f'''\
        _base_ = ['{ABLATION}']
        model = dict(backbone=dict(pretrained='{swin_t_2d}'), cls_head=dict(num_classes=2))
        pipeline = [
            dict(type='VideoInit'),
            dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
            dict(type='VideoDecode', short_side=64),
            dict(type='CenterCrop', crop_size=64),
            dict(type='FormatShape', input_format='NCTHW'),
            dict(type='PackActionInputs')]
        loader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                      dataset=dict(num_classes=2, pipeline=pipeline, ann_file=None,
                                   data_prefix=dict(video=None)))
        train_dataloader = dict(loader, dataset=dict(
            loader['dataset'], ann_file='data/synthetic/train_list.txt',
            data_prefix=dict(video='data/synthetic/train')))
        val_dataloader = dict(loader, dataset=dict(
            loader['dataset'], ann_file='data/synthetic/val_list.txt',
            data_prefix=dict(video='data/synthetic/val')))
        test_dataloader = val_dataloader
        optim_wrapper = dict(type='OptimWrapper')
        train_cfg = dict(max_epochs=1, val_interval=10)
        '''))
    out = run_tool([REPO_ROOT / 'tools/train.py', config, '--work-dir', 'work'], cwd=tmp_path)

    log = out + ''.join(p.read_text() for p in (tmp_path / 'work').rglob('*.log'))
    assert re.search(r'swin_t_2d\.pth \(2D image Swin, microsoft layout\): loaded \d+, '
                     r'inflated 9, ignored 54 \[layers\.2\.blocks\.\*\.norm1\.weight \(x4\)', log)
    state = safe_load(str(tmp_path / 'work/epoch_1.pth'))['state_dict']
    assert 'backbone.layers.2.blocks.1.attn.qkv.weight' in state
    assert 'backbone.layers.2.blocks.2.attn.qkv.weight' not in state
