"""The one switch for the backbone's CPU-only speed-ups.

The default computation, on every device and under ``torch.compile``, is plain
PyTorch: ``nn.Linear``, ``F.scaled_dot_product_attention`` with ordinary autograd,
whole tensors. Three kernels are faster on some CPUs and are used only there:

* ``'linear'``: linear layers through oneDNN instead of MKL
  (:mod:`videoswin.models.layers.onednn_linear`). MKL never picks its AVX-512 kernels on
  AMD CPUs; oneDNN does. With AVX2 only, the two are on par.
* ``'backward'``: a hand-written attention backward that recomputes the
  probabilities window by window (:mod:`videoswin.models.layers.window_attention_cpu`).
  A bias that needs a gradient sends CPU SDPA down its slow generic path.
* ``'chunked'``: inference a few windows / tokens at a time, so the 3C- and 4C-wide
  intermediates never exist whole (glibc serves tens of MB with fresh, page-faulting
  ``mmap`` calls every time).

``'auto'`` (the default) enables, per instruction set that ATen runs
(``torch.backends.cpu.get_cpu_capability()``), the kernels that measured faster there
(``benchmarks/cpu_kernels.py``, docs/backbone.md); ``'on'`` enables all three, ``'off'``
none, and a comma-separated list (``'linear,backward'``) exactly those. The mode comes
from ``VIDEOSWIN_CPU_KERNELS`` at import, or :func:`set_cpu_kernels` / :func:`cpu_kernels`.
Whatever the mode, the kernels run only for fp32 CPU tensors, in eager mode, outside
autocast.
"""
import os
from contextlib import contextmanager
from typing import FrozenSet, Iterator

import torch
from torch import nn

KERNELS: FrozenSet[str] = frozenset({'linear', 'backward', 'chunked'})
MODES = ('auto', 'on', 'off')

#: Kernels that measured faster than the default path, per ATen CPU capability (Swin-T,
#: AMD EPYC, 2026-12-04, docs/backbone.md; ``benchmarks/cpu_kernels.py`` re-measures).
#: With AVX2 only none of the three won, so the default path runs there; ``'chunked'``
#: lost on both. Unknown ISAs get none.
FASTER_ON = {
    'AVX512': frozenset({'linear', 'backward'}),
    'AVX2': frozenset(),
}

#: Target size of the widest intermediate of one chunk (``'chunked'``) and of one
#: block of probabilities in the hand-written backward: fits in L2, keeps GEMMs big.
CHUNK_BYTES = 2 << 20


def _check(mode: str) -> str:
    if mode not in MODES and not set(mode.split(',')) <= KERNELS:
        raise ValueError(f'cpu kernels mode {mode!r}: expected one of {MODES} or a '
                         f'comma-separated list of {sorted(KERNELS)}')
    return mode


_mode = _check(os.environ.get('VIDEOSWIN_CPU_KERNELS', 'auto'))
_ISA = torch.backends.cpu.get_cpu_capability()  # fixed for the process (ATEN_CPU_CAPABILITY)


def set_cpu_kernels(mode: str) -> str:
    """Set the mode ('auto' | 'on' | 'off' | 'k1,k2') for every model; returns the old one."""
    global _mode
    previous, _mode = _mode, _check(mode)
    return previous


@contextmanager
def cpu_kernels(mode: str) -> Iterator[None]:
    """``with cpu_kernels('off'): ...`` runs the default path everywhere inside."""
    previous = set_cpu_kernels(mode)
    try:
        yield
    finally:
        set_cpu_kernels(previous)


def enabled_kernels() -> FrozenSet[str]:
    """The kernels the current mode enables on this CPU."""
    if _mode == 'auto':
        return FASTER_ON.get(_ISA, frozenset())
    if _mode in ('on', 'off'):
        return KERNELS if _mode == 'on' else frozenset()
    return frozenset(_mode.split(','))


def use(kernel: str, x: torch.Tensor) -> bool:
    """Whether ``kernel`` runs for input ``x`` (fp32 CPU, eager, no autocast, enabled)."""
    return (x.device.type == 'cpu' and x.dtype == torch.float32
            and not torch.compiler.is_compiling() and not torch.is_autocast_enabled('cpu')
            and kernel in enabled_kernels())


def needs_grad(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether autograd records ``module(x)`` (grad mode on and something requires grad)."""
    return torch.is_grad_enabled() and (
        x.requires_grad or any(p.requires_grad for p in module.parameters()))


def chunked_inference(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``module(x)`` runs the ``'chunked'`` kernel: eval mode, nothing to
    differentiate (so nothing random and no graph to keep), and :func:`use` allows it."""
    return not module.training and not needs_grad(module, x) and use('chunked', x)
