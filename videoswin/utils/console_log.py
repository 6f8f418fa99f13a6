"""Keep the terminal to what a user reads; the full record stays in the run's log file.

mmengine's runner logs, at every start, the whole system environment, the whole
config and the list of hooks to both the terminal and the log file: about 400 lines
per tool before the first training line (``bash tools/quickstart.sh`` printed 867
lines; with this, 70). Here those records, and mmengine's deprecation notes about its
own internals, go to the log file only, and the terminal gets one line naming that
file. ``train.py`` also writes the config to the work dir (mmengine's ``dump_config``).
"""
import logging

from mmengine.runner import Runner

#: start of the messages kept out of the terminal (and still in the log file)
FILE_ONLY_PREFIXES = (
    '\n' + '-' * 60 + '\nSystem environment:',  # Runner._log_env
    'Config:\n',
    'Hooks will be executed in the following order:',
    '"FileClient" will be deprecated in future.',
    '"HardDiskBackend" is the alias of "LocalBackend"',
)


class FileOnly(logging.Filter):
    """Drops, from the handler it is attached to, the records of FILE_ONLY_PREFIXES."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(FILE_ONLY_PREFIXES)


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(
        handler, logging.FileHandler)


def quiet_runner_console() -> None:
    """Make every Runner built from now on keep FILE_ONLY_PREFIXES off the terminal."""
    if getattr(Runner.build_logger, 'quiets_console', False):
        return
    original = Runner.build_logger

    def build_logger(self, *args, **kwargs):
        logger = original(self, *args, **kwargs)
        consoles = [h for h in logger.handlers if _is_console(h)]
        for handler in consoles:
            if not any(isinstance(f, FileOnly) for f in handler.filters):
                handler.addFilter(FileOnly())
        files = [h.baseFilename for h in logger.handlers if isinstance(h, logging.FileHandler)]
        if consoles and files:
            logger.info(f'environment, full config and hooks: {files[0]}')
        return logger

    build_logger.quiets_console = True
    Runner.build_logger = build_logger
