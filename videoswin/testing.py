"""Random weights for exactness tests and benchmarks.

A freshly initialised transformer hides mistakes: LayerNorm gains are exactly 1,
biases and relative-position tables are (near) zero, so a missing gain, a dropped
bias or a misindexed table changes nothing. These helpers draw every tensor far from
its init instead (gains around 1, tables with the spread of trained ones), so two
implementations agree only if every parameter is used the same way.
"""
from typing import Dict

import torch
from torch import nn

TABLE_KEY = 'relative_position_bias_table'


def _draw(name: str, shape: torch.Size, generator: torch.Generator, weight: float,
          gain: float, table: float) -> torch.Tensor:
    noise = torch.randn(shape, generator=generator)
    if TABLE_KEY in name:
        return noise * table
    if 'norm' in name and name.endswith('weight'):
        return 1 + gain * noise
    return noise * weight


def random_state_dict(model: nn.Module, seed: int = 0, *, weight: float = 0.05,
                      gain: float = 0.1, table: float = 0.5) -> Dict[str, torch.Tensor]:
    """``model.state_dict()`` with every floating tensor redrawn (integer buffers such
    as position indices kept): normal noise times ``weight``, ``1 + gain * noise`` for
    norm gains and ``table * noise`` for relative-position bias tables."""
    generator = torch.Generator().manual_seed(seed)
    return {key: _draw(key, value.shape, generator, weight, gain, table)
            if value.is_floating_point() else value
            for key, value in model.state_dict().items()}


def randomise_(model: nn.Module, seed: int = 0, *, weight: float = 0.05, gain: float = 0.1,
               table: float = 0.5) -> nn.Module:
    """Redraw every parameter of ``model`` in place, as :func:`random_state_dict` does."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(_draw(name, param.shape, generator, weight, gain, table))
    return model
