"""Which CPU kernels win on this CPU: the measurement behind ``cpu_kernels.FASTER_ON``.

    python benchmarks/cpu_kernels.py [--threads 2] [--rounds 5]
    python benchmarks/cpu_kernels.py --isa avx2     # as on a CPU without AVX-512
    python benchmarks/cpu_kernels.py --quick        # small shapes, one round: a smoke run

Times our Swin-T (same weights as ``benchmarks/backbone.py``) on the cases each kernel
of :mod:`videoswin.models.layers.cpu_kernels` applies to, with the default path, each
kernel alone, and all of them, next to mmaction2's backbone, in interleaved rounds
(median wall time; the rounds other processes disturbed are filtered as in
``backbone.py``; process CPU time beside it). Prints a Markdown table and the
``FASTER_ON`` entry for this ISA: the kernels at least ``MARGIN`` (2 %) faster than the
default path in some case they apply to and not more than that slower in any.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import backbone  # noqa: E402  (imports torch; --isa avx2 re-executes before any timing)

#: case -> (shape, shape with --quick, train?)
CASES = {'forward': ((1, 3, 16, 224, 224), (1, 3, 4, 224, 224), False),
         'fwd+bwd': ((1, 3, 8, 224, 224), (1, 3, 2, 224, 224), True)}
#: the noise band of one run: a kernel earns its place in FASTER_ON by being at least this
#: much faster than the default path in some case and no more than this slower in any
MARGIN = 0.02
#: which cases each kernel changes (the others run the default path whatever the switch)
APPLIES = {'linear': ('forward', 'fwd+bwd'), 'backward': ('fwd+bwd', ),
           'chunked': ('forward', )}


def main() -> None:
    backbone._reexec_for_isa(sys.argv)
    import torch
    from videoswin.models.layers import cpu_kernels
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--isa', choices=['native', 'avx2'], default='native')
    parser.add_argument('--quick', action='store_true', help='small shapes, one round')
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    torch.set_num_threads(args.threads)
    models = {name: backbone.build(name, 'tiny') for name in ('ours', 'mmaction2')}
    torch.manual_seed(0)
    clips = {case: torch.randn(quick if args.quick else shape)
             for case, (shape, quick, _) in CASES.items()}
    modes = ['off', *sorted(cpu_kernels.KERNELS), 'on']
    steps: Dict[Tuple[str, str], callable] = {}
    for case, (_, _, train) in CASES.items():
        steps[case, 'mmaction2'] = backbone.run_step(models['mmaction2'], clips[case], train)
        for mode in modes:
            if mode in APPLIES and case not in APPLIES[mode]:
                continue
            step = backbone.run_step(models['ours'], clips[case], train)

            def with_mode(step=step, mode=mode) -> None:
                with cpu_kernels.cpu_kernels(mode):
                    step()
            steps[case, mode] = with_mode
    keys = list(steps)
    for key in keys * (1 if args.quick else 2):  # warm-up
        steps[key]()
    samples: Dict[Tuple[str, str], List] = {key: [] for key in keys}
    for r in range(args.rounds):
        for key in keys if r % 2 == 0 else keys[::-1]:
            samples[key].append(backbone.timed(steps[key]))
        print(f'round {r + 1}/{args.rounds} done', flush=True)

    isa = torch.backends.cpu.get_cpu_capability()
    lines = [f'{backbone.cpu_model()}; {backbone.isa_summary()}; {args.threads} threads, '
             f'{args.rounds} rounds', '',
             '| case | kernels | ours ms | CPU s | vs default path | vs mmaction2 | rounds |',
             '|---|---|---:|---:|---:|---:|---|']
    faster = set(cpu_kernels.KERNELS)
    wins = set()  # kernels at least MARGIN faster in some case
    for case in CASES:
        default = backbone.robust_median(samples[case, 'off'])[0]
        reference = backbone.robust_median(samples[case, 'mmaction2'])[0]
        for mode in ['mmaction2'] + modes:
            if (case, mode) not in samples:
                continue
            wall, cpu, clean = backbone.robust_median(samples[case, mode])
            if mode in cpu_kernels.KERNELS and wall > default * (1 + MARGIN):
                faster.discard(mode)  # slower where it applies
            if mode in cpu_kernels.KERNELS and wall * (1 + MARGIN) <= default:
                wins.add(mode)
            shape = 'x'.join(map(str, clips[case].shape[2:]))
            lines.append(f'| {case} {shape} | {mode} | {wall * 1e3:.0f} | {cpu:.2f} | '
                         f'{default / wall:.2f}x | {reference / wall:.2f}x | '
                         f'{"clean" if clean else "contended"} |')
    lines += ['', f"FASTER_ON['{isa}'] = frozenset({sorted(faster & wins)})"]
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
