"""Shut down persistent data-loader workers as soon as their loop is over.

With ``persistent_workers=True`` the workers of the train, val and test loaders
live as long as their ``DataLoader`` iterator. The runner keeps those alive after
``train()``/``test()`` returns, and when the interpreter finally tears them down
(garbage collection of the runner's reference cycles, or exit) the workers no
longer receive their stop signal: each one is joined with torch's 5-second timeout
and then terminated. A tool thus lingered 5 s per worker after its last log line,
and an in-process caller kept the worker processes, their memory and their open
files until then. Shutting them down explicitly takes milliseconds.

Torch's shutdown closes each worker's index queue, but the write end of that
queue's pipe is closed later, by the queue's feeder thread; on a loaded machine
that thread can run after the caller has moved on, so the pipes outlive the
loader for a moment. :func:`release_workers` waits for those threads, which makes
"nothing left open after ``train()``" hold deterministically.
"""
from mmengine.hooks import Hook

from videoswin.registry import HOOKS


FEEDER_JOIN_TIMEOUT_S = 5.0


def release_workers(dataloader) -> bool:
    """Stop the persistent workers of ``dataloader``, if it has any running, and
    wait until the pipes of their index queues are closed."""
    iterator = getattr(dataloader, '_iterator', None)
    if iterator is None or not hasattr(iterator, '_shutdown_workers'):
        return False
    iterator._shutdown_workers()
    for queue in getattr(iterator, '_index_queues', ()):
        feeder = getattr(queue, '_thread', None)  # multiprocessing.Queue's feeder thread
        if feeder is not None:
            feeder.join(FEEDER_JOIN_TIMEOUT_S)
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
