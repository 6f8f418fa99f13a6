"""Speed and memory of our SwinTransformer3D against mmaction2's, same weights, one run.

    python benchmarks/backbone.py [--quick] [--threads 2] [--rounds 5] [--arch tiny]
    python benchmarks/backbone.py --isa avx2     # as on a CPU without AVX-512
    python benchmarks/backbone.py --device cuda --dtype bf16    # the GPU table of the issue

``--isa avx2`` caps ATen, oneDNN and MKL at AVX2 (``ATEN_CPU_CAPABILITY``,
``ONEDNN_MAX_CPU_ISA``, ``MKL_ENABLE_INSTRUCTIONS``), which must be set before torch
is imported: the script re-executes itself with them. Every row names the CPU model
and the instruction set each library runs, and which of our CPU kernels
(:mod:`videoswin.models.layers.cpu_kernels`, ``--cpu-kernels``) were on.

Prints one Markdown table (the one in docs/backbone.md):

* forward, eval, no grad, at 1x3x32x224x224 and 1x3x16x224x224;
* forward + backward (train mode, loss = output.sum()) at 1x3x8x224x224;
* for each: median wall time of both implementations (warm-ups, then interleaved
  rounds with alternating order), the speed-up, and the achieved GFLOP/s (2 FLOPs
  per multiply-add of ``tools/analysis/get_flops.py``; fwd+bwd counted as 3x the
  forward) as a fraction of a large fp32 matmul's GFLOP/s measured in every round;
* peak RSS of fwd+bwd x2 at the training shape and at 32x224, every case in its
  own fresh subprocess, with and without activation checkpointing (ours
  ``use_checkpoint``, mmaction2 ``with_cp``), as peak and as peak minus the RSS
  after the model is built (imports and weights are most of a small run's peak).

Shared machines: every timing also records how much CPU *other* processes used
meanwhile (from /proc/stat); medians are taken over the rounds where that stayed
under 8 % of the machine when at least 3 such rounds exist, else over all rounds,
and the table says which. Compare ratios inside one table, not milliseconds across
runs. ``--quick`` runs small shapes once: a smoke test of every path, not numbers.

On a GPU (``--device cuda``) every timing is bracketed by ``torch.cuda.synchronize()``,
the reference matmul is an 8192^2 one in the benchmark's dtype, and memory is
``torch.cuda.max_memory_allocated`` (reset after the build) instead of RSS.
``--dtype bf16`` runs both implementations under ``torch.autocast(dtype=bfloat16)``.
"""
import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Sequence, Tuple

#: Environment that caps every library at AVX2 (read when torch is imported).
AVX2_ENV = {'ATEN_CPU_CAPABILITY': 'avx2', 'ONEDNN_MAX_CPU_ISA': 'AVX2',
            'MKL_ENABLE_INSTRUCTIONS': 'AVX2'}


def _reexec_for_isa(argv: List[str]) -> None:
    """``--isa avx2``: restart this script with :data:`AVX2_ENV` unless it is set already."""
    if '--isa' in argv and argv[argv.index('--isa') + 1:][:1] == ['avx2'] and any(
            os.environ.get(k) != v for k, v in AVX2_ENV.items()):
        os.execve(sys.executable, [sys.executable, *argv], {**os.environ, **AVX2_ENV})


if __name__ == '__main__':
    _reexec_for_isa(sys.argv)

import torch  # noqa: E402  (after the re-exec: the ISA variables are read at import)

ROOT = Path(__file__).resolve().parents[1]
CLEAN_SHARE = 0.08  # others' share of the machine below which a round counts as clean


class Case(NamedTuple):
    name: str
    shape: Tuple[int, ...]
    train: bool


FULL_CASES = [Case('forward 32x224', (1, 3, 32, 224, 224), False),
              Case('forward 16x224', (1, 3, 16, 224, 224), False),
              Case('fwd+bwd 8x224', (1, 3, 8, 224, 224), True)]
# 224 px even when quick: smaller frames clip the last stage's window in space,
# where our (correct) bias lookup deliberately differs from mmaction2's
QUICK_CASES = [Case('forward 8x224', (1, 3, 8, 224, 224), False),
               Case('forward 4x224', (1, 3, 4, 224, 224), False),
               Case('fwd+bwd 2x224', (1, 3, 2, 224, 224), True)]
TARGETS = {False: 2.0, True: 1.25}  # speed-up targets of the issue (forward, training)


# ----------------------------------------------------------------------------- models
def build(impl: str, arch: str, checkpointing: bool = False) -> torch.nn.Module:
    """Our backbone ('ours') or mmaction2's ('mmaction2'), identical random weights."""
    from videoswin.models.backbones.swin3d import SwinTransformer3D
    from videoswin.testing import random_state_dict
    ours = SwinTransformer3D(arch=arch, drop_path_rate=0., use_checkpoint=checkpointing)
    state = random_state_dict(ours, weight=0.02)
    if impl == 'ours':
        ours.load_state_dict(state, strict=True)
        return ours
    from mmaction.models.backbones.swin import SwinTransformer3D as MMActionSwin3D
    reference = MMActionSwin3D(
        arch=dict(embed_dims=ours.embed_dim, depths=list(ours.depths),
                  num_heads=list(ours.num_heads)),
        drop_path_rate=0., pretrained=None, pretrained2d=False, with_cp=checkpointing)
    reference.load_state_dict({('norm3' + k[4:] if k.startswith('norm.') else k): v
                               for k, v in state.items()}, strict=True)
    return reference


def forward_macs(arch: str, shape: Sequence[int]) -> int:
    """Multiply-adds of one forward, from tools/analysis/get_flops.py."""
    spec = importlib.util.spec_from_file_location(
        'get_flops', ROOT / 'tools' / 'analysis' / 'get_flops.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.count_complexity(dict(type='SwinTransformer3D', arch=arch), shape).macs


# ----------------------------------------------------------------------------- timing
def _busy_jiffies() -> Tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine."""
    with open('/proc/stat') as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Sample(NamedTuple):
    wall: float
    cpu: float
    others: float  # share of the machine used by other processes meanwhile


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def timed(fn: Callable[[], None]) -> Sample:
    _sync()
    busy0, total0 = _busy_jiffies()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    fn()
    _sync()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    busy1, total1 = _busy_jiffies()
    ticks = os.sysconf('SC_CLK_TCK')
    machine = max(total1 - total0, 1)
    others = max(0.0, (busy1 - busy0) - cpu * ticks) / machine
    return Sample(wall, cpu, others)


def robust_median(samples: List[Sample]) -> Tuple[float, float, bool]:
    """(median wall, median cpu, clean?) over clean rounds if there are >= 3."""
    clean = [s for s in samples if s.others < CLEAN_SHARE]
    use = clean if len(clean) >= 3 else samples
    return (statistics.median(s.wall for s in use), statistics.median(s.cpu for s in use),
            use is clean)


DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16}


def autocast(device: str, dtype: str):
    """bf16: autocast both implementations; fp32: a no-op context."""
    return torch.autocast(device, dtype=DTYPES[dtype], enabled=dtype != 'fp32')


def run_step(model: torch.nn.Module, clip: torch.Tensor, train: bool,
             dtype: str = 'fp32') -> Callable[[], None]:
    device = clip.device.type

    def step() -> None:
        if train:
            model.train()
            model.zero_grad(set_to_none=True)
            with autocast(device, dtype):
                loss = model(clip).float().sum()
            loss.backward()
        else:
            model.eval()
            with torch.no_grad(), autocast(device, dtype):
                model(clip)
    return step


def matmul_steps(size: int, device: str = 'cpu',
                 dtype: str = 'fp32') -> Dict[str, Callable[[], None]]:
    """Large matmuls: torch.mm, and on CPU in fp32 also oneDNN (what our linears use).

    On AMD CPUs MKL runs AVX2 kernels even where the CPU has AVX-512 and oneDNN is
    about 2x faster; the faster of the two is the machine's practical limit.
    """
    from videoswin.models.layers.onednn_linear import onednn_matmul
    a, b = (torch.randn(size, size, device=device, dtype=DTYPES[dtype]) for _ in range(2))
    cpu_fp32 = device == 'cpu' and dtype == 'fp32'
    steps = {('mkl' if cpu_fp32 else 'torch.mm'): lambda: torch.mm(a, b)}
    if cpu_fp32 and torch.backends.mkldnn.is_available():
        steps['onednn'] = lambda: onednn_matmul(a, b, None)
    return steps


def cpu_model() -> str:
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return 'unknown CPU'


def isa_summary() -> str:
    """'ATen AVX2, oneDNN AVX2, MKL AVX2 (capped)': what each library runs in this process.

    ATen says it directly; oneDNN prints it in its verbose log (a child process with
    ``ONEDNN_VERBOSE=1`` runs one primitive); MKL reports no ISA, only the cap it was
    given (on AMD CPUs it does not pick AVX-512 kernels even uncapped).
    """
    probe = ('import torch; from videoswin.models.layers.onednn_linear import onednn_matmul; '
             'a = torch.randn(8, 8); onednn_matmul(a, a, None)')
    done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          env={**os.environ, 'ONEDNN_VERBOSE': '1'}, cwd=ROOT)
    found = re.search(r'isa:([^\n]+)', done.stdout)
    onednn = found.group(1).strip() if found else 'not reported'
    mkl = os.environ.get('MKL_ENABLE_INSTRUCTIONS')
    return (f'ATen {torch.backends.cpu.get_cpu_capability()}, oneDNN {onednn}, '
            f'MKL {mkl + " (capped)" if mkl else "uncapped"}')


# ----------------------------------------------------------------------------- memory
def _rss_mb(field: str) -> float:
    """A line of /proc/self/status (VmRSS: current, VmHWM: peak since the last reset)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'{field} not in /proc/self/status')


def memory_child(impl: str, arch: str, checkpointing: bool, shape: Sequence[int],
                 device: str = 'cpu', dtype: str = 'fp32') -> None:
    """Run in a fresh process: memory after build, and peak over fwd+bwd x2 (JSON line).

    CPU: RSS, with the peak counter reset after the build (``/proc/self/clear_refs``),
    so the random weights made for both implementations do not set the peak. GPU:
    ``torch.cuda.memory_allocated`` / ``max_memory_allocated``, reset the same way.
    """
    model = build(impl, arch, checkpointing).to(device)
    clip = torch.randn(*shape, device=device)
    step = run_step(model, clip, train=True, dtype=dtype)
    if device == 'cpu':
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        base = _rss_mb('VmRSS')
    else:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
    for _ in range(2):
        step()
    peak = _rss_mb('VmHWM') if device == 'cpu' else torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(dict(base_mb=base, peak_mb=peak)))


def measure_memory(arch: str, shape: Sequence[int], threads: int, device: str = 'cpu',
                   dtype: str = 'fp32') -> Dict[Tuple[str, bool], Dict]:
    results = {}
    for impl in ('ours', 'mmaction2'):
        for checkpointing in (False, True):
            cmd = [sys.executable, __file__, '--memory-child', impl, '--arch', arch,
                   '--threads', str(threads), '--shape', *map(str, shape),
                   '--device', device, '--dtype', dtype]
            if checkpointing:
                cmd.append('--checkpointing')
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                raise RuntimeError(f'memory run {impl} checkpointing={checkpointing} failed:\n'
                                   f'{done.stderr[-2000:]}')
            results[(impl, checkpointing)] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


# ----------------------------------------------------------------------------- report
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='small shapes, one round')
    parser.add_argument('--threads', type=int, default=2, help='intra-op threads')
    parser.add_argument('--rounds', type=int, default=5, help='interleaved timed rounds')
    parser.add_argument('--arch', default='tiny', help='tiny | small | base | large')
    parser.add_argument('--skip-memory', action='store_true', help='no peak-RSS subprocesses')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp32',
                        help='bf16 = torch.autocast(bfloat16) for both implementations')
    parser.add_argument('--isa', choices=['native', 'avx2'], default='native',
                        help='avx2: cap ATen, oneDNN and MKL at AVX2 (re-executes itself)')
    parser.add_argument('--cpu-kernels', default=os.environ.get('VIDEOSWIN_CPU_KERNELS', 'auto'),
                        help="our CPU kernels: auto | on | off | a list such as linear,backward "
                        "(videoswin.models.layers.cpu_kernels)")
    parser.add_argument('--memory-child', choices=['ours', 'mmaction2'], help=argparse.SUPPRESS)
    parser.add_argument('--checkpointing', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--shape', type=int, nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ['VIDEOSWIN_CPU_KERNELS'] = args.cpu_kernels  # memory children inherit it
    from videoswin.models.layers import cpu_kernels
    cpu_kernels.set_cpu_kernels(args.cpu_kernels)
    if args.memory_child:
        memory_child(args.memory_child, args.arch, args.checkpointing, args.shape,
                     args.device, args.dtype)
        return

    cases = QUICK_CASES if args.quick else FULL_CASES
    rounds, warmups = (1, 1) if args.quick else (args.rounds, 2)
    device, dtype = args.device, args.dtype
    matmul_size = (1024 if args.quick else 2048) if device == 'cpu' else 8192
    impls = {name: build(name, args.arch).to(device) for name in ('ours', 'mmaction2')}
    torch.manual_seed(0)
    clips = {case: torch.randn(case.shape).to(device) for case in cases}
    steps = {(case, name): run_step(model, clips[case], case.train, dtype)
             for case in cases for name, model in impls.items()}
    matmuls = matmul_steps(matmul_size, device, dtype)

    outs = []
    with torch.no_grad(), autocast(device, dtype):  # a guard on what is timed
        for model in impls.values():
            model.eval()  # (mmaction2's train() returns None: no chaining)
            outs.append(model(clips[cases[0]]).float())
    agreement = (outs[0] - outs[1]).abs().max().item()

    print(f'warming up ({warmups} per case and implementation) ...', flush=True)
    for step in list(steps.values()) * warmups + list(matmuls.values()) * 2:
        step()
    samples: Dict = {key: [] for key in list(steps) + list(matmuls)}
    for r in range(rounds):
        for name, matmul in matmuls.items():
            samples[name].append(timed(matmul))
        for case in cases:
            order = ('ours', 'mmaction2') if r % 2 == 0 else ('mmaction2', 'ours')
            for name in order:
                samples[(case, name)].append(timed(steps[(case, name)]))
        print(f'round {r + 1}/{rounds} done', flush=True)

    rates = {name: 2 * matmul_size**3 / robust_median(samples[name])[0] / 1e9 for name in matmuls}
    peak_name = max(rates, key=rates.get)
    mm_gflops = rates[peak_name]
    mm_clean = all(robust_median(samples[name])[2] for name in matmuls)
    if device == 'cpu':
        where = f'{cpu_model()}, {args.threads} threads'
        kernels = ', '.join(sorted(cpu_kernels.enabled_kernels())) or 'none'
        isa = f'{cpu_model()}; {isa_summary()}; our CPU kernels: {kernels}'
    else:
        where = isa = torch.cuda.get_device_name()
    lines = [f'Swin-{args.arch[0].upper()}, {dtype}, {where}, {rounds} rounds; '
             f'outputs agree to {agreement:.1e} max-abs; {dtype} matmul {matmul_size}^2: ' +
             ', '.join(f'{name} {rate:.1f} GFLOP/s' for name, rate in rates.items()) +
             f'{"" if mm_clean else " (contended)"}; "% of matmul" is against the fastest, '
             f'{peak_name}', '',
             '| case | ours ms | mmaction2 ms | speed-up (target) | ours CPU-s / ref CPU-s '
             '| ours GFLOP/s | % of matmul | ' +
             ''.join(f'% of {name} | ' for name in rates if name != peak_name) +
             'ref GFLOP/s | rounds | machine, ISA |',
             '|---|---:|---:|---:|---:|---:|---:|' + '---:|' * (len(rates) - 1) + '---:|---|---|']
    for case in cases:
        flops = 2 * forward_macs(args.arch, case.shape) * (3 if case.train else 1)
        ours_wall, ours_cpu, ours_clean = robust_median(samples[(case, 'ours')])
        ref_wall, ref_cpu, ref_clean = robust_median(samples[(case, 'mmaction2')])
        ours_rate, ref_rate = flops / ours_wall / 1e9, flops / ref_wall / 1e9
        clean = 'clean' if ours_clean and ref_clean else 'contended'
        lines.append(
            f'| {case.name} | {ours_wall * 1e3:.0f} | {ref_wall * 1e3:.0f} | '
            f'{ref_wall / ours_wall:.2f}x ({TARGETS[case.train]:.2f}x) | '
            f'{ours_cpu:.2f} / {ref_cpu:.2f} | {ours_rate:.1f} | '
            f'{100 * ours_rate / mm_gflops:.0f} % | ' +
            ''.join(f'{100 * ours_rate / rate:.0f} % | '
                    for name, rate in rates.items() if name != peak_name) +
            f'{ref_rate:.1f} | {clean} | {isa} |')
    if not args.skip_memory:
        memory_shapes = [next(c.shape for c in cases if c.train)]
        if not args.quick:
            memory_shapes.append(cases[0].shape)  # the paper's 32x224 clip, trained
        measure = 'RSS' if device == 'cpu' else 'allocated GPU memory'
        lines += ['', f'Peak {measure} of fwd+bwd x2, one fresh process per row; base = '
                  f'{measure} after the model is built; ratios against mmaction2 without '
                  'checkpointing:', '',
                  '| shape | impl | checkpointing | base MB | peak MB | peak - base MB | '
                  'peak ratio | (peak - base) ratio |', '|---|---|---|---:|---:|---:|---:|---:|']
        for shape in memory_shapes:
            memory = measure_memory(args.arch, shape, args.threads, device, dtype)
            ref = memory[('mmaction2', False)]
            for (impl, ckpt), m in memory.items():
                lines.append(
                    f'| {"x".join(map(str, shape[2:]))} | {impl} | {"yes" if ckpt else "no"} | '
                    f'{m["base_mb"]:.0f} | {m["peak_mb"]:.0f} | '
                    f'{m["peak_mb"] - m["base_mb"]:.0f} | '
                    f'{m["peak_mb"] / ref["peak_mb"]:.2f} | '
                    f'{(m["peak_mb"] - m["base_mb"]) / (ref["peak_mb"] - ref["base_mb"]):.2f} |')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
