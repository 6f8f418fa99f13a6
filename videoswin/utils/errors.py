"""One clear line for the error that ends a tool; the full traceback one switch away.

Tools wrap their ``main`` in :func:`run_cli`::

    if __name__ == '__main__':
        run_cli(main)

A failure then prints ``error: <Type>: <message>`` on stderr and exits with status 1,
instead of a screen of traceback through mmengine's builders. ``--debug`` anywhere on
the command line (removed before ``main`` parses it) or ``VIDEOSWIN_DEBUG=1`` lets the
exception through with its traceback. When the run has a log file, the traceback is
written there as well.
"""
import logging
import os
import re
import sys
from typing import Any, Callable, Optional, Tuple

DEBUG_FLAG = '--debug'
DEBUG_ENV = 'VIDEOSWIN_DEBUG'
MAX_LINE = 800

# mmengine's builders re-raise as "class `Name` in /path/to/module.py: <message>"
_BUILDER_PREFIX = re.compile(r'class `(\w+)` in \S+?\.py: ')


class ConfigError(ValueError):
    """A config entry that cannot work; the message names the key."""


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, builder prefixes shortened to a class chain.

    ``class `VideoRecognizer` in /x/recognizer.py: class `SwinTransformer3D` in
    /x/swin3d.py: __init__() got ...`` becomes
    ``VideoRecognizer > SwinTransformer3D: __init__() got ...``.
    """
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        message = exc.args[0]  # str(KeyError) would add quotes around it
    else:
        message = str(exc)
    if not message and exc.__cause__ is not None:
        return one_line(exc.__cause__)
    name = type(exc).__name__
    name, message = worker_exception(message) or (name, message)
    chain = _BUILDER_PREFIX.findall(message)
    if chain:
        message = ' > '.join(chain) + ': ' + _BUILDER_PREFIX.sub('', message)
    message = '; '.join(part.strip() for part in message.splitlines() if part.strip())
    if len(message) > MAX_LINE:
        message = message[:MAX_LINE - 3] + '...'
    return f'{name}: {message}' if message else name


# -- errors raised in DataLoader workers -----------------------------------------------
# torch re-raises a worker's exception in the main process with the worker's whole
# traceback as its message: "Caught BadSampleError in DataLoader worker process 0.\n
# Original Traceback (most recent call last):\n  File ...\nmodule.BadSampleError: ...".
# The line a user needs (the file, what was wrong, what to do) is the last part.
_WORKER_WRAPPER = re.compile(r'Caught \w+ in DataLoader worker process \d+\.\s*\n'
                             r'Original Traceback \(most recent call last\):')
_TRACEBACK_HEADER = 'Traceback (most recent call last):'
_QUALIFIED_TYPE = re.compile(r'^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)(?::\s?(.*))?$', re.S)


def worker_exception(message: str) -> Optional[Tuple[str, str]]:
    """``(type name, message)`` of the exception a loader worker raised, or None when
    ``message`` is not torch's re-raised worker traceback."""
    if not _WORKER_WRAPPER.match(message):
        return None
    lines = message.rstrip().splitlines()
    header = max(i for i, line in enumerate(lines) if line.endswith(_TRACEBACK_HEADER))
    own = lines[header + 1:]
    while own and (not own[0].strip() or own[0].startswith(' ')):  # the frames
        own = own[1:]
    match = _QUALIFIED_TYPE.match('\n'.join(own)) if own else None
    if match is None:
        return None
    return match.group(1), (match.group(2) or '').strip()


def _log_file_handlers() -> list:
    try:
        from mmengine.logging import MMLogger
    except ImportError:
        return []
    if not MMLogger._instance_dict:
        return []
    logger = MMLogger.get_current_instance()
    return [h for h in logger.handlers if isinstance(h, logging.FileHandler)]


def _traceback_to_log_file(exc: BaseException) -> Optional[str]:
    """Write the traceback to the current run's log file(s); return one of them."""
    handlers = _log_file_handlers()
    if not handlers:
        return None
    record = logging.LogRecord('videoswin', logging.ERROR, __file__, 0, 'the run failed:',
                               None, (type(exc), exc, exc.__traceback__))
    for handler in handlers:
        handler.handle(record)
    return handlers[0].baseFilename


def debug_requested(argv: Optional[list] = None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    return DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, '') not in ('', '0')


def run_cli(main: Callable[[], Any]) -> Any:
    """Call ``main()``; turn an uncaught exception into one line on stderr and exit 1."""
    debug = debug_requested()
    if DEBUG_FLAG in sys.argv:
        sys.argv = [arg for arg in sys.argv if arg != DEBUG_FLAG]
    if debug:
        return main()
    try:
        return main()
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr, flush=True)
        sys.exit(130)
    except Exception as exc:  # noqa: B902 - the point is to catch everything
        log_file = _traceback_to_log_file(exc)
        hint = (f'traceback in {log_file}, or rerun with {DEBUG_FLAG}' if log_file
                else f'rerun with {DEBUG_FLAG} for the traceback')
        print(f'error: {one_line(exc)} ({hint})', file=sys.stderr, flush=True)
        sys.exit(1)
