"""Datasets and the transforms mmaction2 does not provide."""
from . import transforms  # noqa: F401
