"""Shut down persistent data-loader workers as soon as their loop is over.

With ``persistent_workers=True`` the workers of the train, val and test loaders
live as long as their ``DataLoader`` iterator. The runner keeps those alive after
``train()``/``test()`` returns, and when the interpreter finally tears them down
(garbage collection of the runner's reference cycles, or exit) the workers no
longer receive their stop signal: each one is joined with torch's 5-second timeout
and then terminated. A tool thus lingered 5 s per worker after its last log line,
and an in-process caller kept the worker processes, their memory and their open
files until then. Shutting them down explicitly takes milliseconds.
"""
from mmengine.hooks import Hook

from videoswin.registry import HOOKS


def release_workers(dataloader) -> bool:
    """Stop the persistent workers of ``dataloader``, if it has any running."""
    iterator = getattr(dataloader, '_iterator', None)
    if iterator is None or not hasattr(iterator, '_shutdown_workers'):
        return False
    iterator._shutdown_workers()
    dataloader._iterator = None
    return True


@HOOKS.register_module()
class ReleaseWorkersHook(Hook):
    """Call :func:`release_workers` on each loop's loader when the loop ends."""

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        release_workers(runner.train_dataloader)
        if runner._val_loop is not None and not isinstance(runner._val_loop, dict):
            release_workers(runner.val_dataloader)

    def after_test(self, runner) -> None:
        release_workers(runner.test_dataloader)
