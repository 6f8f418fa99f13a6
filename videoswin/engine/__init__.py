"""Training machinery: optimizer-wrapper constructors and hooks."""
from . import hooks, loops, optimizers, sharding  # noqa: F401
