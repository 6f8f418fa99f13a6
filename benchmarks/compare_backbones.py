"""Swin-T, TimeSformer, ViViT-FE and DualFormer-T in one framework: size, cost, CPU speed and
accuracy on the synthetic motion dataset after the same short training.

    python benchmarks/compare_backbones.py [--quick] [--work-dir DIR] [--threads N]

Columns of the printed (Markdown) table:

* params (M): the full-size model (Swin-T, TimeSformer-B divided, ViViT-B/16x2 FE,
  DualFormer-T) with a 400-class head.
* GFLOPs/view: multiply-accumulates of one view at the model's published input (32 x 224
  for Swin-T, ViViT-FE, DualFormer-T; 8 x 224 for TimeSformer), counted on the meta device
  with torch's FlopCounterMode (matmuls, convolutions and the matmuls inside attention).
* GFLOPs @8x224 and CPU fwd @8x224: the same full-size models on one 8 x 224 x 224 clip;
  forward time is the median wall time in eval mode without gradients, after warm-up.
  ViViT and DualFormer are built for 8 frames (ViViT's position tables and DualFormer's
  pooling kernels are sized by the clip length).
* synthetic top-1: **scaled-down** variants (``MICRO`` below: narrower and shallower,
  patch 8 for the ViTs) trained from scratch with one recipe (:func:`training_config`:
  AdamW, 30 epochs, 8 x 64 x 64 clips) through the framework's runner, datasets and
  transforms, on ``videoswin.datasets.synthetic`` (label = direction of motion; a
  frame-order-blind model stays at 50 %), tested with 2 clips x 3 crops.

``--quick`` uses 8 clips per class, 2 epochs and one timed forward: it checks that every
path runs (minutes on 2 CPU cores), not the numbers.
"""
import argparse
import os
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner
from torch.utils.flop_counter import FlopCounterMode

from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.registry import MODELS
from videoswin.utils import register_all_modules
from videoswin.utils.setup_env import setup_env

RUNTIME_CONFIG = 'configs/_base_/default_runtime.py'
CLASSES = 400

#: full-size backbones, as published, and the clip each is published for (frames)
FULL = {
    'Swin-T': (dict(type='SwinTransformer3D', arch='tiny', pretrained2d=False), 768, 32),
    'TimeSformer-B': (dict(type='TimeSformer', attention_type='divided_space_time'), 768, 8),
    'ViViT-B FE': (dict(type='ViViT', variant='factorised_encoder'), 768, 32),
    'DualFormer-T': (dict(type='DualFormer', arch='tiny'), 512, 32),
}

#: scaled-down variants for CPU training at 8 x 64 x 64 (backbone, head input channels)
MICRO = {
    'Swin-T': (dict(type='SwinTransformer3D', embed_dim=32, depths=(1, 1, 2, 1),
                    num_heads=(1, 2, 4, 8), window_size=(4, 7, 7), drop_path_rate=0.0,
                    pretrained2d=False), 256),
    'TimeSformer-B': (dict(type='TimeSformer', num_frames=8, img_size=64, patch_size=8,
                           embed_dims=96, num_layers=4, num_heads=4, drop_path_rate=0.0),
                      96),
    'ViViT-B FE': (dict(type='ViViT', variant='factorised_encoder',
                        arch=dict(embed_dims=96, num_layers=4, num_heads=4),
                        temporal_num_layers=2, num_frames=8, img_size=64,
                        tubelet_size=(2, 8, 8)), 96),
    'DualFormer-T': (dict(type='DualFormer', arch=dict(embed_dims=(24, 48, 96, 192),
                                                       num_heads=(1, 2, 4, 8),
                                                       depths=(2, 2, 2, 2)),
                          num_frames=8, img_size=64, window_size=(4, 4, 4),
                          fine_pyramid=((2, 4, 4), (2, 4, 4), (2, 2, 2), (4, 2, 2)),
                          coarse_pyramid=(2, 2, 2), drop_path_rate=0.0), 192),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='tiny dataset, 2 epochs, one timed forward (a smoke run)')
    parser.add_argument('--work-dir', default='work_dirs/compare_backbones',
                        help='dataset, logs and checkpoints go here')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch intra-op threads (default: all cores)')
    parser.add_argument('--epochs', type=int, default=None,
                        help='training epochs (default 30; 2 with --quick)')
    parser.add_argument('--models', nargs='+', default=list(FULL), choices=list(FULL),
                        help='which models to compare')
    return parser.parse_args(argv)


def build_full(name: str, frames: int) -> torch.nn.Module:
    backbone, _, _ = FULL[name]
    if backbone['type'] in ('ViViT', 'DualFormer'):
        backbone = dict(backbone, num_frames=frames)
    return MODELS.build(backbone)


def count_gmacs(model: torch.nn.Module, frames: int) -> float:
    """Multiply-accumulates (G) of one 224 x 224 clip, on the meta device."""
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, frames, 224, 224, device='meta'))
    return counter.get_total_flops() / 2e9


def size_and_cost(name: str) -> Dict[str, float]:
    _, head_in, frames = FULL[name]
    with torch.device('meta'):
        published = build_full(name, frames)
        at_8 = build_full(name, 8)
    params = sum(p.numel() for p in published.parameters()) + head_in * CLASSES + CLASSES
    return dict(params=params / 1e6, gflops=count_gmacs(published, frames),
                gflops_8=count_gmacs(at_8, 8))


def forward_seconds(name: str, repeats: int, warmups: int) -> float:
    """Median wall time of one full-size forward on a 1 x 3 x 8 x 224 x 224 clip."""
    model = build_full(name, 8).eval()
    clip = torch.randn(1, 3, 8, 224, 224)
    times = []
    with torch.no_grad():
        for index in range(warmups + repeats):
            start = time.perf_counter()
            model(clip)
            if index >= warmups:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_config(name: str, data_root: str, work_dir: str, epochs: int) -> Config:
    """One recipe for every model: this model's scaled-down backbone, trained from scratch.

    8 frames at stride 4 (the whole 32-frame clip), random 64 x 64 crops of the 64 x 80
    frames, flip (the motion is vertical, so labels survive it); AdamW lr 1e-3, weight decay
    0.05, batch 16, linear warm-up over the first 10 % then cosine; gradient clip 5.
    Test: 2 clips x 3 crops, mean of softmax.
    """
    cfg = Config.fromfile(RUNTIME_CONFIG)
    backbone, head_in = MICRO[name]
    cfg.model = dict(
        type='VideoRecognizer', backbone=backbone,
        cls_head=dict(type='VideoClsHead', in_channels=head_in, num_classes=2,
                      dropout_ratio=0.0, average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], format_shape='NCTHW'))
    sample = dict(type='SampleFrames', clip_len=8, frame_interval=4, num_clips=1)
    train_pipeline = [dict(type='DecordInit'), sample, dict(type='DecordDecode'),
                      dict(type='RandomCrop', size=64), dict(type='Flip', flip_ratio=0.5),
                      dict(type='FormatShape', input_format='NCTHW'),
                      dict(type='PackActionInputs')]
    test_pipeline = [dict(type='DecordInit'), dict(sample, num_clips=2, test_mode=True),
                     dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 64)),
                     dict(type='ThreeCrop', crop_size=64),
                     dict(type='FormatShape', input_format='NCTHW'),
                     dict(type='PackActionInputs')]

    def loader(split: str, pipeline: list, batch: int, train: bool) -> dict:
        return dict(batch_size=batch, num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=train),
                    dataset=dict(type='VideoDataset', ann_file=osp.join(data_root,
                                                                        f'{split}_list.txt'),
                                 data_prefix=dict(video=osp.join(data_root, split)),
                                 pipeline=pipeline, test_mode=not train))

    cfg.train_dataloader = loader('train', train_pipeline, 16, True)
    cfg.val_dataloader = loader('val', test_pipeline, 4, False)
    cfg.test_dataloader = loader('val', test_pipeline, 4, False)
    cfg.val_evaluator = cfg.test_evaluator = dict(type='AccMetric')
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs, val_interval=epochs)
    cfg.val_cfg, cfg.test_cfg = dict(type='ValLoop'), dict(type='TestLoop')
    cfg.optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                             clip_grad=dict(max_norm=5.0))
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=max(1, epochs / 10),
             convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', T_max=epochs, eta_min=0, by_epoch=True, begin=0,
             end=epochs, convert_to_iter_based=True)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=8)
    cfg.randomness = dict(seed=0)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    return cfg


def synthetic_top1(name: str, data_root: str, work_dir: str, epochs: int,
                   threads: int) -> Dict[str, float]:
    cfg = training_config(name, data_root, osp.join(work_dir, name.replace(' ', '_')), epochs)
    cfg.env_cfg.num_threads = threads
    setup_env(cfg)
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    metrics = runner.test()
    params = sum(p.numel() for p in runner.model.parameters()) / 1e6
    top1 = next(v for k, v in metrics.items() if k.endswith('top1'))
    return dict(top1=100 * float(top1), micro_params=params, train_s=train_seconds)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    register_all_modules()
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    data_root = osp.join(args.work_dir, 'data_quick' if args.quick else 'data')
    if not osp.isfile(osp.join(data_root, 'val_list.txt')):
        per_class = (8, 4) if args.quick else (64, 24)
        print_log(f'writing the synthetic dataset to {data_root}', logger='current')
        make_synthetic_dataset(data_root, seed=0, num_train=per_class[0], num_val=per_class[1],
                               num_frames=32, ssv2_style=False)
    epochs = args.epochs or (2 if args.quick else 30)
    repeats, warmups = (1, 1) if args.quick else (5, 2)
    rows = []
    for name in args.models:
        row = dict(name=name, **size_and_cost(name))
        row['fwd_s'] = forward_seconds(name, repeats, warmups)
        torch.set_num_threads(threads)
        row.update(synthetic_top1(name, data_root, args.work_dir, epochs, threads))
        rows.append(row)
    print(format_table(rows, threads, args.quick))


def format_table(rows: List[dict], threads: int, quick: bool) -> str:
    lines = [
        '| model | params (M) | GFLOPs/view (published input) | GFLOPs @8x224 | '
        f'CPU fwd @8x224 (s, {threads} threads) | micro params (M) | synthetic top-1 (%) |',
        '|---|---:|---:|---:|---:|---:|---:|',
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['params']:.1f} | {r['gflops']:.1f} | "
                     f"{r['gflops_8']:.1f} | {r['fwd_s']:.2f} | {r['micro_params']:.2f} | "
                     f"{r['top1']:.1f} |")
    lines.append('\nGFLOPs = multiply-accumulates. Top-1: scaled-down variants (see MICRO) trained '
                 'from scratch with one recipe; chance is 50 %. TimeSformer starts exactly blind '
                 'to frame order (zero time embedding, permutation-equivariant attention), so '
                 'it must learn the direction through its time embedding alone.')
    if quick:
        lines.append('\n(--quick: smoke run; the numbers are not measurements)')
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
