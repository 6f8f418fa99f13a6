"""Training machinery around mmengine's Runner: the mid-epoch resumable loop and its data
stream, hooks, optimizer-wrapper constructors, the batch contract, seeding by position and the
FSDP strategy (sharding)."""
from . import hooks, loops, optimizers, sharding  # noqa: F401
