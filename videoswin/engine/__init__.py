"""Training machinery around mmengine's Runner: the mid-epoch resumable loop and its data
stream, hooks, optimizer-wrapper constructors, the batch contract and seeding by position."""
from . import hooks, loops, optimizers  # noqa: F401
