"""The steps of ``benchmarks/gpu_check.sh``; each appends Markdown rows to ``--rows``.

    python benchmarks/gpu_check.py exactness --rows R [--device cuda] [--tiny]
    python benchmarks/gpu_check.py speed     --rows R [--device cuda] [--tiny] [--profile]
    python benchmarks/gpu_check.py train     --rows R [--device cuda] [--tiny] [--compile]

A row is ``| step | check | measured | target | pass? |``; a step exits non-zero when
any of its checks failed, after writing all its rows. ``--device cpu --tiny`` runs
every step on small shapes: a dry run of the script, not numbers.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
sys.path.insert(0, str(ROOT))

from backbone import build  # noqa: E402

from videoswin.models.backbones.swin3d import SwinTransformer3D  # noqa: E402
from videoswin.models.layers.cpu_kernels import cpu_kernels  # noqa: E402
from videoswin.testing import randomise_, with_textbook_attention  # noqa: E402

NARROW = dict(embed_dim=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), drop_path_rate=0.)
LOW = {'bf16': torch.bfloat16, 'fp16': torch.float16}


class Rows:
    """Collects ``| step | check | measured | target | pass |`` rows; remembers failures."""

    def __init__(self, path: str, step: str) -> None:
        self.path, self.step, self.failed = path, step, False

    def add(self, check: str, measured: str, target: str, ok: bool) -> None:
        self.failed |= not ok
        line = f'| {self.step} | {check} | {measured} | {target} | {"yes" if ok else "**NO**"} |'
        print(line, flush=True)
        with open(self.path, 'a') as f:
            f.write(line + '\n')


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


# --------------------------------------------------------------------------- exactness
def fwd_bwd(model: torch.nn.Module, clip: torch.Tensor, upstream: torch.Tensor,
            dtype: torch.dtype = None) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    clip = clip.clone().requires_grad_()
    with torch.autocast(clip.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        out = model(clip)
    out.float().backward(upstream)
    grads = {n: p.grad.float() for n, p in model.named_parameters()}
    grads['input'] = clip.grad.float()
    return out.detach().float(), grads


def worst_relative(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> Tuple[float, str]:
    """Largest per-tensor max|a-b| / max|b| over the gradients, and whose."""
    return max(((a[k] - b[k]).abs().max().item() / b[k].abs().max().clamp_min(1e-12).item(), k)
               for k in b)


def exactness(args: argparse.Namespace, rows: Rows) -> None:
    """Default (CUDA) path vs the textbook formula: fp32 exact, bf16 / fp16 close."""
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 for this check
    torch.backends.cudnn.allow_tf32 = False
    device = args.device
    shape = (1, 3, 10, 64, 64) if args.tiny else (2, 3, 18, 100, 90)
    gen = torch.Generator().manual_seed(0)
    model = randomise_(SwinTransformer3D(**NARROW)).to(device).train()
    clip = torch.randn(shape, generator=gen).to(device)
    with torch.no_grad():
        out_shape = model(clip).shape
    upstream = torch.randn(out_shape, generator=gen).to(device)
    reference = with_textbook_attention(model)
    with cpu_kernels('off'):  # on CPU (dry run) too: the default path, as on the GPU
        paths = {m.execution_path(clip.clone().requires_grad_()) for m in model.modules()
                 if hasattr(m, 'execution_path')}
        ref_out, ref_grads = fwd_bwd(reference, clip, upstream)
        out, grads = fwd_bwd(model, clip, upstream)
        rows.add('attention path', ', '.join(sorted(paths)), 'sdpa', paths == {'sdpa'})
        diff = (out - ref_out).abs().max().item()
        rows.add('fp32 output vs textbook, max abs', f'{diff:.1e}', '<= 1e-4', diff <= 1e-4)
        rel, name = worst_relative(grads, ref_grads)
        rows.add('fp32 gradients vs textbook, worst rel', f'{rel:.1e} ({name})', '<= 1e-4',
                 rel <= 1e-4)
        for label, dtype in LOW.items():
            low_out, low_grads = fwd_bwd(model, clip, upstream, dtype)
            scale = ref_out.abs().max().item()
            err = (low_out - ref_out).abs()
            rows.add(f'{label} autocast output, max / mean abs err vs fp32 range',
                     f'{err.max().item() / scale:.3f} / {err.mean().item() / scale:.4f}',
                     '<= 0.03 / 0.005',
                     err.max().item() <= 0.03 * scale and err.mean().item() <= 0.005 * scale)
            finite = all(torch.isfinite(g).all() for g in low_grads.values())
            norm = (sum((low_grads[k] - ref_grads[k]).square().sum() for k in ref_grads) /
                    sum(g.square().sum() for g in ref_grads.values())).sqrt().item()
            rows.add(f'{label} autocast gradients, norm(g - g32) / norm(g32)', f'{norm:.3f}',
                     'finite, <= 0.05', finite and norm <= 0.05)


# ------------------------------------------------------------------------------- speed
def timed_steps(step: Callable[[], None], device: str, warmup: int, iters: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iters):
        sync(device)
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def speed(args: argparse.Namespace, rows: Rows) -> None:
    """Swin-T fwd+bwd under fp16 autocast (the recipes' AMP): time and peak memory of ours
    vs mmaction2, without and with activation checkpointing."""
    device = args.device
    shape = (1, 3, 4, 64, 64) if args.tiny else (8, 3, 32, 224, 224)
    warmup, iters = (1, 2) if args.tiny else (3, 5)
    cuda = device.startswith('cuda')
    clip = torch.randn(shape, device=device)
    results = {}
    for checkpointing in (False, True):
        for impl in ('ours', 'mmaction2'):
            model = build(impl, 'tiny', checkpointing).to(device)
            model.train()

            def step() -> None:
                model.zero_grad(set_to_none=True)
                with torch.autocast(device.split(':')[0], dtype=torch.float16, enabled=cuda):
                    loss = model(clip).float().mean()
                loss.backward()
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            seconds = timed_steps(step, device, warmup, iters)
            peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float('nan')
            results[impl, checkpointing] = (seconds, peak)
            print(f'{impl} checkpointing={checkpointing}: {seconds * 1e3:.0f} ms, '
                  f'peak {peak:.2f} GiB', flush=True)
            if args.profile and not checkpointing:
                print_profile(f'{impl}, no checkpointing', step, device)
            del model
    where = f'{"x".join(map(str, shape))}, {"fp16 autocast" if cuda else "fp32"}'
    for checkpointing in (False, True):
        (ours_s, ours_m), (ref_s, ref_m) = (results['ours', checkpointing],
                                            results['mmaction2', checkpointing])
        label = 'use_checkpoint' if checkpointing else 'no checkpointing'
        rows.add(f'Swin-T fwd+bwd {where}, {label}: speed-up vs mmaction2',
                 f'{ref_s / ours_s:.2f}x ({ours_s * 1e3:.0f} / {ref_s * 1e3:.0f} ms)',
                 '>= 1.5x' + (' (not checked: --tiny)' if args.tiny else ''),
                 ref_s / ours_s >= 1.5 or args.tiny)
        if cuda:
            rows.add(f'Swin-T fwd+bwd {where}, {label}: peak memory vs mmaction2',
                     f'{ours_m / ref_m:.2f} ({ours_m:.2f} / {ref_m:.2f} GiB)', '<= 0.7',
                     ours_m / ref_m <= 0.7)


def print_profile(label: str, step: Callable[[], None], device: str, top: int = 18) -> None:
    """Where one step's time goes: the operators and kernels of two steps by self time."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                           if device.startswith('cuda') else [])
    with profile(activities=activities) as prof:
        for _ in range(2):
            step()
        sync(device)
    key = 'self_device_time_total' if device.startswith('cuda') else 'self_cpu_time_total'
    print(f'-- profile of 2 steps: {label}', flush=True)
    print(prof.key_averages().table(sort_by=key, row_limit=top, max_name_column_width=60),
          flush=True)


# ------------------------------------------------------------------------------- train
def logged_losses(work_dir: Path) -> List[float]:
    """Losses of the run's scalars.json (LocalVisBackend), in logging order."""
    found = sorted(work_dir.glob('*/vis_data/scalars.json'))
    if not found:
        raise FileNotFoundError(f'{work_dir}: no */vis_data/scalars.json written')
    with open(found[-1]) as f:
        return [json.loads(line)['loss'] for line in f if '"loss"' in line]


def train(args: argparse.Namespace, rows: Rows) -> None:
    """50 iterations of the demo config (Swin micro, synthetic videos) with --amp."""
    work = Path(tempfile.mkdtemp(prefix='gpu_check_train_'))
    per_class, epochs, interval = (8, 1, 2) if args.tiny else (100, 2, 5)
    env = {**os.environ, 'PYTHONPATH': f'{ROOT}{os.pathsep}{os.environ.get("PYTHONPATH", "")}'}
    if not args.device.startswith('cuda'):
        env['CUDA_VISIBLE_DEVICES'] = ''
    subprocess.run([sys.executable, str(ROOT / 'tools/data/make_synthetic.py'), 'data/synthetic',
                    '--num-train', str(per_class), '--num-val', '2', '--no-ssv2'],
                   cwd=work, env=env, check=True)
    command = [sys.executable, str(ROOT / 'tools/train.py'),
               str(ROOT / 'configs/demo/swin-micro_synthetic.py'), '--amp',
               '--work-dir', str(work / 'run'), '--cfg-options',
               f'train_cfg.max_epochs={epochs}', f'default_hooks.logger.interval={interval}',
               f'log_processor.window_size={interval}', 'default_hooks.checkpoint.interval=1000',
               'train_cfg.val_interval=1000']
    if args.compile:
        command.append('compile=True')
    start = time.time()
    subprocess.run(command, cwd=work, env=env, check=True)
    losses = logged_losses(work / 'run')
    label = f'{2 * per_class * epochs // 8} iterations --amp' + (
        ' compile=True' if args.compile else '')
    finite = all(math.isfinite(v) for v in losses)
    first, last = losses[0], losses[-1]
    falls = last < first
    rows.add(f'{label}: loss first -> last logged ({time.time() - start:.0f} s)',
             f'{first:.3f} -> {last:.3f}', 'finite, falls' + (' (not checked: --tiny)'
                                                              if args.tiny else ''),
             finite and (falls or args.tiny))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('step', choices=['exactness', 'speed', 'train'])
    parser.add_argument('--rows', required=True, help='Markdown file the rows are appended to')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--tiny', action='store_true', help='small shapes: a dry run')
    parser.add_argument('--compile', action='store_true', help='train with compile=True')
    parser.add_argument('--profile', action='store_true',
                        help='speed: also print where the time of a step goes (torch.profiler)')
    args = parser.parse_args()
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        sys.exit(f'error: --device {args.device} but torch sees no CUDA device '
                 f'(torch {torch.__version__}); use --device cpu --tiny for a dry run')
    rows = Rows(args.rows, args.step + (' compile' if args.compile else ''))
    {'exactness': exactness, 'speed': speed, 'train': train}[args.step](args, rows)
    if rows.failed:
        sys.exit(f'error: gpu_check {args.step}: a check failed (rows marked **NO** above)')


if __name__ == '__main__':
    main()
