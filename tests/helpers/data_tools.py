"""tools/data scripts imported as modules, so tests call their ``main(argv)``."""
import importlib.util

from helpers import REPO_ROOT

TOOLS = REPO_ROOT / 'tools' / 'data'


def tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
