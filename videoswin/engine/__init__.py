"""Training machinery: optimizer-wrapper constructors and hooks."""
from . import hooks, optimizers  # noqa: F401
