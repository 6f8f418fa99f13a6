"""Shared test set-up: one intra-op thread per pytest worker, and small real videos."""
import os

import numpy as np
import pytest
import torch

# Several pytest workers share two cores: one thread each avoids oversubscription,
# which on this machine makes torch several times slower.
if os.environ.get('PYTEST_XDIST_WORKER'):
    torch.set_num_threads(1)


@pytest.fixture(scope='session')
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
