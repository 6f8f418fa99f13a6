"""Random peer models for the exactness oracles: every tensor drawn, nothing left at init."""
import torch

from videoswin.testing import randomise_ as randomise_far_from_init_

TOL = 1e-4


def randomise_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter random (LayerNorm gains around 1), so no tensor can be skipped."""
    return randomise_far_from_init_(model, seed, weight=0.1, gain=0.1).eval()
