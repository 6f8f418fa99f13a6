"""Shared test code (no tests here). ``pytest.ini`` puts ``tests/`` on ``sys.path``, so a
test at any depth imports ``from helpers... import ...``; test files never import each other."""
import importlib.util
import socket
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS_ROOT = REPO_ROOT / 'tests'


def load_tool(name: str) -> ModuleType:
    """Import ``tools/<name>`` (``.py`` optional) as a module, to call its ``main(argv)``."""
    path = REPO_ROOT / 'tools' / (name if name.endswith('.py') else f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'tool_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
