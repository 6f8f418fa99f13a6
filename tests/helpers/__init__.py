"""Shared test code (no tests here). ``pytest.ini`` puts ``tests/`` on ``sys.path``, so a
test at any depth imports ``from helpers... import ...``; test files never import each other."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS_ROOT = REPO_ROOT / 'tests'
