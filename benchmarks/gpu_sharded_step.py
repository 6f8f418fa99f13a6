"""Time a sharded (FSDP) Swin-L training step on the GPU(s) of one machine.

The model, optimizer (AdamW with the recipe's parameter groups, AMP with a sharded
grad scaler) and FSDP wrapping (one unit per Swin block, each block recomputed in
backward) are built by mmengine's ``FSDPStrategy`` from an FSDP recipe, exactly as
``tools/train.py`` builds them; the batch is random uint8 clips at the recipe's
clip length and crop, so no dataset is needed. The backbone starts from random
weights (the ImageNet file is not downloaded; timing does not depend on the values).

Prints one markdown table row (``--header`` adds the header above it):
| config | GPUs | sharding | batch/GPU | clip | time/iter (s) | clips/s | peak memory (GiB) |
Time/iter is the median over ``--iters`` timed steps after ``--warmup`` steps; peak
memory is ``torch.cuda.max_memory_allocated`` over the timed steps on rank 0.

    python benchmarks/gpu_sharded_step.py                      # Swin-L 224, 1 GPU
    python benchmarks/gpu_sharded_step.py --res 384            # Swin-L 384 (window 8x12x12)
    torchrun --nproc_per_node 8 benchmarks/gpu_sharded_step.py # 8 GPUs, really sharded
    python benchmarks/gpu_sharded_step.py --config CFG --batch 2 --frames 8 --size 64 \\
        --cfg-options model.backbone.depths=[2,2,2,2]          # any FSDP config, smaller

Started without torchrun it makes a world of one process itself. With one process
torch runs FSDP as NO_SHARD (nothing to shard across): the row then measures the FSDP
wrapper, activation checkpointing and AMP on one GPU; the sharding column says which.
Without a GPU it runs on the CPU over gloo (slow; for checking the script).
"""
import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from typing import Dict, List

import torch
import torch.distributed as dist
from mmaction.structures import ActionDataSample
from mmengine.config import Config, DictAction
from mmengine.registry import STRATEGIES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from videoswin.engine.sharding import prepare_strategy  # noqa: E402
from videoswin.utils import register_all_modules  # noqa: E402

RECIPES = {
    224: 'swin-large-p244-w877_in22k-pre_8xb8-fsdp-amp-32x2x1-30e_kinetics400-rgb.py',
    384: 'swin-large-p244-w81212-res384_in22k-pre_8xb8-fsdp-amp-32x2x1-30e_kinetics400-rgb.py',
}
HEADER = ('| config | GPUs | sharding | batch/GPU | clip | time/iter (s) | clips/s '
          '| peak memory (GiB) |\n|---|---|---|---|---|---|---|---|')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--res', type=int, choices=sorted(RECIPES), default=224,
                        help='which Swin-L FSDP recipe (ignored with --config)')
    parser.add_argument('--config', help='an FSDP config (default: the Swin-L recipe)')
    parser.add_argument('--batch', type=int, help='clips per GPU (default: the config\'s)')
    parser.add_argument('--frames', type=int, default=32, help='frames per clip')
    parser.add_argument('--size', type=int, help='crop size (default: 224 or 384 by --res)')
    parser.add_argument('--iters', type=int, default=5, help='timed steps')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    parser.add_argument('--header', action='store_true', help='print the table header too')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='config overrides, e.g. strategy.activation_checkpointing=None')
    return parser.parse_args(argv)


def init_world() -> torch.device:
    """Join torchrun's process group, or make a world of one; the device of this rank."""
    if 'LOCAL_RANK' not in os.environ:
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        os.environ.update(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', LOCAL_WORLD_SIZE='1',
                          MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    if torch.cuda.is_available():
        device = torch.device('cuda', int(os.environ['LOCAL_RANK']))
        torch.cuda.set_device(device)
        dist.init_process_group('nccl', device_id=device)
        return device
    dist.init_process_group('gloo')
    return torch.device('cpu')


def load_config(args: argparse.Namespace) -> Config:
    path = args.config or os.path.join(ROOT, 'configs/recognition/swin/fsdp', RECIPES[args.res])
    cfg = Config.fromfile(path)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model.backbone.pretrained = None  # random weights: no download, same speed
    cfg.launcher = 'pytorch'
    if not torch.cuda.is_available() and cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        cfg.optim_wrapper.type = 'OptimWrapper'  # torch AMP's grad scaler needs a GPU
    prepare_strategy(cfg)
    return cfg


def make_batch(batch: int, frames: int, size: int, num_classes: int) -> Dict[str, List]:
    """What the loader gives ``train_step``: uint8 NCTHW clips and labelled samples."""
    generator = torch.Generator().manual_seed(dist.get_rank())
    inputs = [torch.randint(0, 256, (1, 3, frames, size, size), dtype=torch.uint8,
                            generator=generator) for _ in range(batch)]
    samples = [ActionDataSample().set_gt_labels(i % num_classes) for i in range(batch)]
    return dict(inputs=inputs, data_samples=samples)


def step_times(model, optim_wrapper, data: dict, warmup: int, iters: int,
               device: torch.device) -> List[float]:
    times = []
    for i in range(warmup + iters):
        if i == warmup and device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        model.train_step(data, optim_wrapper=optim_wrapper)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> None:
    args = parse_args(argv)
    register_all_modules()
    device = init_world()
    cfg = load_config(args)
    batch = args.batch or cfg.train_dataloader.batch_size
    size = args.size or args.res
    with tempfile.TemporaryDirectory() as work_dir:
        strategy = STRATEGIES.build(dict(
            cfg.strategy, work_dir=work_dir,
            env_kwargs=dict(launcher='pytorch', randomness=dict(seed=0))))
        model, optim_wrapper = strategy.prepare(
            cfg.model, optim_wrapper=cfg.optim_wrapper,
            dispatch_kwargs=dict(max_iters=args.warmup + args.iters))[:2]
    data = make_batch(batch, args.frames, size, cfg.model.cls_head.num_classes)
    times = step_times(model, optim_wrapper, data, args.warmup, args.iters, device)
    median = statistics.median(times)
    world = dist.get_world_size()
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == 'cuda' else 0.0
    if dist.get_rank() == 0:
        name = os.path.splitext(os.path.basename(cfg.filename))[0]
        devices = f'{world}' if device.type == 'cuda' else f'{world} (CPU)'
        sharding = model.sharding_strategy.name
        if args.header:
            print(HEADER)
        print(f'| {name} | {devices} | {sharding} | {batch} | {args.frames}x{size}x{size} '
              f'| {median:.3f} | {batch * world / median:.2f} | {peak:.1f} |', flush=True)
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
