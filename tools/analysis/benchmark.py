"""Throughput of a config's data loader and of its model, measured separately.

The data loader is timed on its own (decode + transforms + collate, with the config's
workers), then the model's test forward is timed on one real batch from that loader,
already on the device, so neither number includes the other. Clips are counted as
views: a Kinetics test sample of 4 clips x 3 crops is 12 clips. If the loader's clips/s
is below the model's, data loading is the bottleneck.

Examples::

    python tools/analysis/benchmark.py configs/demo/CONFIG.py
    python tools/analysis/benchmark.py CONFIG.py --split train --num-iters 50
    python tools/analysis/benchmark.py CONFIG.py --shape 1 3 32 224 224   # model only, no data
"""
import argparse
import sys
import time
from typing import Callable, Iterator, List

import torch

from videoswin.utils.cli import add_cfg_options, exit_on_bad_checkpoint, read_config
from videoswin.utils.errors import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--checkpoint', default=None,
                        help='weights to load (speed does not depend on them)')
    parser.add_argument('--split', default='test', choices=['train', 'val', 'test'],
                        help='whose data loader to time and to take the model batch from')
    parser.add_argument('--num-iters', type=int, default=10, help='timed batches / forwards')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed batches / forwards first (worker start, allocator)')
    parser.add_argument('--shape', type=int, nargs=5, default=None,
                        metavar=('N', 'C', 'T', 'H', 'W'),
                        help='time only the model, on random clips of this shape')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    add_cfg_options(parser, 'test_dataloader.num_workers=4')
    return parser.parse_args(argv)


def count_clips(batch: dict) -> int:
    """Clips in a collated batch: views (clips x crops) summed over its videos."""
    inputs = batch['inputs']
    if torch.is_tensor(inputs):
        return inputs.shape[0] * (inputs.shape[1] if inputs.dim() == 6 else 1)
    return sum(sample.shape[0] if sample.dim() == 5 else 1 for sample in inputs)


def time_data_loader(batches: Iterator[dict], num_iters: int, warmup: int) -> dict:
    """Seconds and clips of ``num_iters`` batches after ``warmup`` untimed ones."""
    for _ in range(warmup):
        next(batches)
    clips, videos = 0, 0
    start = time.perf_counter()
    for _ in range(num_iters):
        batch = next(batches)
        clips += count_clips(batch)
        videos += len(batch['inputs'])
    return dict(seconds=time.perf_counter() - start, clips=clips, videos=videos)


def time_calls(fn: Callable[[], object], num_iters: int, warmup: int,
               synchronize: Callable[[], None]) -> List[float]:
    """Wall times of ``num_iters`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    synchronize()
    times = []
    for _ in range(num_iters):
        start = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - start)
    return times


def endless(loader) -> Iterator[dict]:
    """Loops over the loader, so small datasets still give ``num_iters`` batches."""
    while True:
        yield from loader


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.runner import Runner

    from videoswin.apis import init_recognizer
    from videoswin.utils import register_all_modules
    from videoswin.utils.config_check import check_config
    from videoswin.utils.setup_env import setup_env

    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    check_config(cfg, 'test' if args.split == 'test' else 'train',
                 check_paths=args.shape is None)
    setup_env(cfg)
    device = torch.device(args.device)
    synchronize = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    model = exit_on_bad_checkpoint(lambda: init_recognizer(cfg, args.checkpoint, device=device))
    print(f'config: {args.config}, device: {device}, torch threads: {torch.get_num_threads()}')

    if args.shape is None:
        key = f'{args.split}_dataloader'
        if key not in cfg:
            print(f'error: {args.config} has no {key}; use --split or --shape', file=sys.stderr)
            return 1
        batches = endless(Runner.build_dataloader(cfg[key]))
        data = time_data_loader(batches, args.num_iters, args.warmup)
        print(f'data loader ({args.split}, {cfg[key].get("num_workers", 0)} workers): '
              f'{data["clips"] / data["seconds"]:.2f} clips/s, '
              f'{data["videos"] / data["seconds"]:.2f} videos/s '
              f'({data["videos"]} videos, {data["clips"]} clips in {data["seconds"]:.2f} s)')
        batch = model.data_preprocessor(next(batches), False)
        inputs, samples = batch['inputs'], batch['data_samples']
    else:
        inputs, samples = torch.randn(*args.shape, device=device), None
    clips = count_clips(dict(inputs=inputs))

    @torch.no_grad()
    def forward():
        return model(inputs, samples, mode='predict')

    times = torch.tensor(time_calls(forward, args.num_iters, args.warmup, synchronize))
    median = times.median().item()
    print(f'model forward (inputs {tuple(inputs.shape)}): {clips / median:.2f} clips/s, '
          f'{median * 1000:.1f} ms per batch of {clips} clips '
          f'(median of {args.num_iters}, min {times.min().item() * 1000:.1f} ms)')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
