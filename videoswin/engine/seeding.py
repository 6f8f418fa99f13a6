"""Random state as a function of position: seeds derived from (run seed, counters).

A run that reseeds its generators from where it is (iteration, epoch, sample index)
instead of carrying generator state from step to step can be stopped and restarted
anywhere and still draw the same numbers: nothing but the counters, which every
checkpoint holds, has to be restored. See ``videoswin.engine.loops``.
"""
import random
from contextlib import contextmanager
from typing import Iterator, Tuple

import numpy as np
import torch

_UINT63 = (1 << 63) - 1
# first key of every derived seed, so that two streams never share a seed
DATA_STREAM = 0
ITERATION_STREAM = 1


def derive_seed(*keys: int) -> int:
    """A 63-bit seed that depends on every key, well mixed (numpy's SeedSequence).

    Neighbouring keys (iteration 7 and 8, sample 3 and 4) give unrelated seeds,
    which a plain ``seed + iteration`` would not for some generators.
    """
    entropy = [int(k) & _UINT63 for k in keys]
    low, high = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return ((int(high) << 32) | int(low)) & _UINT63


def seed_all(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)


RngState = Tuple[object, dict, torch.Tensor]


def cpu_rng_state() -> RngState:
    """The states of the three CPU generators (``random``, numpy's global one, torch's)."""
    return random.getstate(), np.random.get_state(legacy=False), torch.random.get_rng_state()


def set_cpu_rng_state(state: RngState) -> None:
    """Put back a state taken by :func:`cpu_rng_state`."""
    py_state, np_state, torch_state = state
    random.setstate(py_state)
    np.random.set_state(np_state)
    torch.random.set_rng_state(torch_state)


@contextmanager
def forked_rng(seed: int) -> Iterator[None]:
    """Run the body with the three CPU generators (``random``, numpy's global one,
    torch's CPU one) seeded by ``seed``, then put their previous states back, so the
    caller's random stream is untouched. Device generators are left alone."""
    saved = cpu_rng_state()
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.random.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        set_cpu_rng_state(saved)
