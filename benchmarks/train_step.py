"""End-to-end speed: one training iteration and one 12-view test forward, videoswin vs
mmaction2, on the same Swin-T weights (issue 5 item 8).

* **train**: ``model.train_step`` on a batch of 2 clips of 8x224x224 uint8 frames = data
  preprocessor (normalise, stack) + backbone + head + loss + backward + AdamW step
  through each framework's own optimizer wrapper and Swin parameter groups (the recipe's
  fused AdamW for videoswin, torch's default AdamW for mmaction2, as its config has it).
* **test**: ``model.test_step`` on one video of 4 clips x 3 crops (12 views of
  32x224x224 by default) with prob fusion, both chunked by max_testing_views=4.

videoswin runs the Swin-T Kinetics-400 recipe's model; mmaction2 runs ``Recognizer3D`` +
``SwinTransformer3D`` + ``I3DHead`` as its own Swin-T config builds them, with the videoswin
weights copied in. Before timing, both models' logits on one clip are compared.

Rounds are interleaved (each round times every case once, in alternating order) and
the median is reported. A run during which other processes used more than
``--max-foreign-load`` of the machine is repeated (up to ``--retries`` times), because a
busy neighbour on a 2-core machine slows multi-threaded torch several-fold. The process
CPU-time ratio is printed too: it is less sensitive to neighbours than wall time.

    python benchmarks/train_step.py                 # 5 rounds, fp32, all cores
    python benchmarks/train_step.py --quick         # 1 round, 8-frame test views: a smoke run
    python benchmarks/train_step.py --device cuda   # the same table on a GPU
    python benchmarks/train_step.py --json out.json
"""
import argparse
import copy
import json
import os
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch
from mmaction.registry import MODELS as MMA_MODELS
from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMA_CONSTRUCTORS
from mmaction.structures import ActionDataSample
from mmengine import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper

from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

RECIPE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'configs', 'recognition',
                      'swin', 'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
TARGETS = {'train': 1.25, 'test': 2.0}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=5, help='timed interleaved rounds')
    parser.add_argument('--warmup', type=int, default=2, help='untimed rounds first')
    parser.add_argument('--batch', type=int, default=2, help='training clips per iteration')
    parser.add_argument('--train-frames', type=int, default=8, help='frames per training clip')
    parser.add_argument('--test-frames', type=int, default=32, help='frames per test view')
    parser.add_argument('--size', type=int, default=224, help='crop size (pixels)')
    parser.add_argument('--threads', type=int, default=len(os.sched_getaffinity(0)),
                        help='torch intra-op threads (default: all CPUs)')
    parser.add_argument('--max-foreign-load', type=float, default=0.08,
                        help='repeat a round if other processes used more than this '
                        'fraction of the CPUs during it (1 = ignore)')
    parser.add_argument('--retries', type=int, default=6, help='repeats per round at most')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: 1 round, 1 warm-up, 8-frame test views, no retries')
    parser.add_argument('--json', help='also write the timings to this file')
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.warmup, args.test_frames, args.max_foreign_load = 1, 1, 8, 1.0
    return args


# --------------------------------------------------------------------------- models
def build_pair(test_views_chunk: int = 4) -> Tuple[torch.nn.Module, torch.nn.Module, Config]:
    """(videoswin model, mmaction2 model) with identical weights, both in train mode."""
    register_all_modules()
    cfg = Config.fromfile(RECIPE)
    cfg.model.backbone.pretrained = None
    cfg.model.test_cfg.max_testing_views = test_views_chunk
    torch.manual_seed(0)
    ours = MODELS.build(cfg.model)
    ours.init_weights()

    backbone = dict(cfg.model.backbone)
    # _scope_: build from mmaction2's registry, not ours (the names are the same)
    reference = MMA_MODELS.build(dict(
        _scope_='mmaction', type='Recognizer3D',
        backbone=dict(type='SwinTransformer3D', arch='tiny', pretrained=None, pretrained2d=False,
                      patch_size=backbone['patch_size'], window_size=backbone['window_size'],
                      drop_path_rate=backbone['drop_path_rate'], patch_norm=True),
        cls_head=dict(type='I3DHead', in_channels=768, num_classes=cfg.model.cls_head.num_classes,
                      spatial_type='avg', dropout_ratio=cfg.model.cls_head.dropout_ratio,
                      average_clips='prob'),
        data_preprocessor=dict(cfg.model.data_preprocessor),
        test_cfg=dict(max_testing_views=test_views_chunk)))
    if type(reference.backbone).__module__.startswith('videoswin'):
        raise RuntimeError('the reference model was built from videoswin modules')
    copy_weights(ours, reference)
    return ours.train(), reference.train(), cfg


def copy_weights(ours: torch.nn.Module, reference: torch.nn.Module) -> None:
    """Our parameters into mmaction2's model (whose final norm may be called norm3)."""
    rename = 'backbone.norm3.weight' in reference.state_dict()
    state = {(name.replace('backbone.norm.', 'backbone.norm3.') if rename else name): value
             for name, value in ours.named_parameters()}
    missing, unexpected = reference.load_state_dict(state, strict=False)
    not_loaded = [k for k in missing if k in dict(reference.named_parameters())]
    if not_loaded or unexpected:
        raise RuntimeError(f'weight copy failed: missing {not_loaded[:5]}, '
                           f'unexpected {unexpected[:5]}')


def optim_wrappers(cfg: Config, ours: torch.nn.Module, reference: torch.nn.Module):
    """fp32 AdamW wrappers: the recipe's constructor for ours, mmaction2's for theirs."""
    ours_cfg = copy.deepcopy(cfg.optim_wrapper)
    ours_cfg.type = 'OptimWrapper'
    ours_wrapper = build_optim_wrapper(ours, ours_cfg)
    # mmaction2's Swin recipe optimizer: AdamW with torch's default (per-tensor) kernel
    ref_optimizer = {k: v for k, v in ours_cfg.optimizer.items() if k != 'fused'}
    ref_cfg = dict(type='OptimWrapper', optimizer=ref_optimizer)
    ref_wrapper = MMA_CONSTRUCTORS.build(dict(
        _scope_='mmaction', type='SwinOptimWrapperConstructor', optim_wrapper_cfg=ref_cfg,
        paramwise_cfg=dict(absolute_pos_embed=dict(decay_mult=0.),
                           relative_position_bias_table=dict(decay_mult=0.),
                           norm=dict(decay_mult=0.), backbone=dict(lr_mult=0.1))))(reference)
    return ours_wrapper, ref_wrapper


# ----------------------------------------------------------------------------- data
def train_batch(batch: int, frames: int, size: int, classes: int, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (batch, ), generator=gen).tolist()
    return dict(
        inputs=[torch.randint(0, 256, (1, 3, frames, size, size), dtype=torch.uint8, generator=gen)
                for _ in range(batch)],
        data_samples=[ActionDataSample().set_gt_labels(label) for label in labels])


def test_batch(views: int, frames: int, size: int, seed: int = 1) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return dict(inputs=[torch.randint(0, 256, (views, 3, frames, size, size), dtype=torch.uint8,
                                      generator=gen)],
                data_samples=[ActionDataSample().set_gt_labels(0)])


def max_logit_difference(ours: torch.nn.Module, reference: torch.nn.Module, size: int) -> float:
    """Eval-mode logits of both models on one 8-frame clip (same weights, same input)."""
    clip = torch.randn(1, 3, 8, size, size, device=next(ours.parameters()).device)
    ours.eval(), reference.eval()
    with torch.no_grad():
        a = ours.cls_head(ours.backbone(clip))
        b = reference.cls_head(reference.backbone(clip))
    ours.train(), reference.train()
    return float((a - b).abs().max())


# -------------------------------------------------------------------------- timing
def cpu_jiffies() -> Tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open('/proc/stat') as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def timed(fn: Callable[[], None]) -> Dict[str, float]:
    """Wall seconds of ``fn`` and the fraction of the machine other processes used."""
    busy0, total0 = cpu_jiffies()
    own0 = time.process_time()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    own = time.process_time() - own0
    busy1, total1 = cpu_jiffies()
    ticks = os.sysconf('SC_CLK_TCK')
    cpus = max(1, (total1 - total0)) / max(wall * ticks, 1e-9)  # CPUs the kernel counted
    foreign = ((busy1 - busy0) / ticks - own) / max(wall * cpus, 1e-9)
    return dict(seconds=wall, cpu_seconds=own, foreign_load=max(0.0, foreign))


def run_rounds(cases: Dict[str, Callable[[], None]], rounds: int, warmup: int,
               max_foreign: float, retries: int) -> Dict[str, List[dict]]:
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name]()
    results: Dict[str, List[dict]] = {name: [] for name in names}
    for index in range(rounds):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            for attempt in range(retries + 1):
                sample = timed(cases[name])
                if sample['foreign_load'] <= max_foreign or attempt == retries:
                    break
            sample['clean'] = sample['foreign_load'] <= max_foreign
            results[name].append(sample)
        print(f'round {index + 1}/{rounds}: ' + ', '.join(
            f'{name} {results[name][-1]["seconds"]:.2f}s' for name in names), flush=True)
    return results


def summarise(results: Dict[str, List[dict]]) -> List[dict]:
    """Median seconds per case; rates are iterations (train) or 12-view videos (test) per s."""
    rows = []
    for kind in ('train', 'test'):
        ours, ref = results[f'videoswin {kind}'], results[f'mmaction2 {kind}']
        med_ours = statistics.median(s['seconds'] for s in ours)
        med_ref = statistics.median(s['seconds'] for s in ref)
        cpu_ours = statistics.median(s['cpu_seconds'] for s in ours)
        cpu_ref = statistics.median(s['cpu_seconds'] for s in ref)
        rows.append(dict(kind=kind, ours_s=med_ours, ref_s=med_ref, cpu_speedup=cpu_ref / cpu_ours,
                         ours_rate=1 / med_ours, ref_rate=1 / med_ref,
                         speedup=med_ref / med_ours, target=TARGETS[kind],
                         clean=sum(s['clean'] for s in ours + ref), runs=len(ours + ref),
                         foreign_load=statistics.median(s['foreign_load'] for s in ours + ref)))
    return rows


def main(argv=None) -> None:
    args = parse_args(argv)
    MMLogger.get_instance('mmengine', log_level='WARNING')  # no per-parameter init log
    torch.set_num_threads(args.threads)
    ours, reference, cfg = build_pair()
    ours, reference = ours.to(args.device), reference.to(args.device)
    diff = max_logit_difference(ours, reference, args.size)
    print(f'same weights: max |logit difference| on one 8x{args.size}^2 clip = {diff:.2e}'
          + ('' if args.size % 224 == 0 else ' (windows clipped in space: videoswin looks the '
             'bias up for the real offsets, see swin3d.py)'))
    ours_optim, ref_optim = optim_wrappers(cfg, ours, reference)
    classes = cfg.model.cls_head.num_classes
    data_train = train_batch(args.batch, args.train_frames, args.size, classes)
    data_test = test_batch(12, args.test_frames, args.size)

    def test_case(model):
        def run():
            model.eval()
            with torch.no_grad():
                model.test_step(data_test)
            model.train()
        return run

    cases = {
        'videoswin train': lambda: ours.train_step(data_train, ours_optim),
        'mmaction2 train': lambda: reference.train_step(data_train, ref_optim),
        'videoswin test': test_case(ours),
        'mmaction2 test': test_case(reference),
    }
    results = run_rounds(cases, args.rounds, args.warmup, args.max_foreign_load, args.retries)
    rows = summarise(results)

    where = args.device if args.device != 'cpu' else f'cpu, {args.threads} threads'
    print(f'\nSwin-T, {where}, fp32. train: batch {args.batch} x '
          f'{args.train_frames}x{args.size}^2, full iteration; test: 12 views (4 clips x 3 crops) '
          f'of {args.test_frames}x{args.size}^2, max_testing_views 4. Median of {args.rounds} '
          'interleaved rounds.\n')
    filtered = args.max_foreign_load < 1
    print('| measurement | videoswin | mmaction2 | speed-up | target | CPU-time speed-up '
          '| clean runs | median foreign load |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|')
    for row in rows:
        unit = 'it/s' if row['kind'] == 'train' else 'videos/s'
        clean = f"{row['clean']}/{row['runs']}" if filtered else 'not filtered'
        print(f"| {row['kind']} | {row['ours_rate']:.3f} {unit} ({row['ours_s']:.2f} s) | "
              f"{row['ref_rate']:.3f} {unit} ({row['ref_s']:.2f} s) | {row['speedup']:.2f}x | "
              f">= {row['target']}x | {row['cpu_speedup']:.2f}x | {clean} | "
              f"{row['foreign_load']:.0%} |")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), logit_difference=diff, rows=rows, raw=results), f,
                      indent=2)


if __name__ == '__main__':
    main()
