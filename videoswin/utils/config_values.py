"""Types and ranges of the numeric config entries, checked before anything is built.

A wrong value (``lr='abc'``, ``max_epochs=-1``, ``num_classes=0``, a seed that is not
an integer) otherwise surfaces late and far from its cause: as a ``TypeError`` inside
the optimizer, a numpy cast error when seeding, a run that trains nothing and exits 0,
or a label check that reports "0 classes (0..-1)". The table below names the entries
by their key, wherever in the config they sit (``optim_wrapper.optimizer.lr``,
``train_dataloader.batch_size``, ``model.cls_head.num_classes``, a pipeline's
``clip_len``...): each key means the same thing in every OpenMMLab class that takes it.
"""
import math
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Tuple

from .errors import ConfigError


@dataclass(frozen=True)
class Expected:
    """What one key accepts: an integer or a real number, within bounds, maybe None."""
    integer: bool
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    none_ok: bool = False
    length: int = 0  # > 0: a sequence of that many such numbers (Adam's betas)

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.none_ok
        if self.length:
            return (isinstance(value, (list, tuple)) and len(value) == self.length
                    and all(self._number_ok(v) for v in value))
        return self._number_ok(value)

    def _number_ok(self, value: Any) -> bool:
        kinds = int if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        if not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self) -> str:
        """E.g. 'an integer >= 1', 'a number in [0, 1)', 'a pair of numbers in [0, 1)'."""
        noun = 'integer' if self.integer else 'number'
        low, high = _number_text(self.low), _number_text(self.high)
        if self.low is not None and self.high is not None:
            bounds = (f" in {'(' if self.low_open else '['}{low}, "
                      f"{high}{')' if self.high_open else ']'}")
        elif self.low is not None:
            bounds = f" {'>' if self.low_open else '>='} {low}"
        elif self.high is not None:
            bounds = f" {'<' if self.high_open else '<='} {high}"
        else:
            bounds = ''
        if self.length:
            text = f"{'a pair of' if self.length == 2 else self.length} {noun}s{bounds}"
        else:
            text = f"{'an' if self.integer else 'a'} {noun}{bounds}"
        return text + (' or None' if self.none_ok else '')


def _number_text(bound: Optional[float]) -> str:
    return str(int(bound)) if bound is not None and float(bound).is_integer() else f'{bound}'


_COUNT = Expected(integer=True, low=1)           # something there must be at least one of
_RATE = Expected(integer=False, low=0, high=1, high_open=True)  # a probability of dropping

#: key -> what it accepts, wherever it appears in the config
NUMERIC_KEYS = {
    # optimizer and schedule
    'lr': Expected(integer=False, low=0),
    'weight_decay': Expected(integer=False, low=0),
    'momentum': Expected(integer=False, low=0, high=1, none_ok=True),  # None: BN's running mean
    'betas': Expected(integer=False, low=0, high=1, high_open=True, length=2),
    'eps': Expected(integer=False, low=0, low_open=True),
    'eta_min': Expected(integer=False, low=0),
    'max_norm': Expected(integer=False, low=0, low_open=True),
    'accumulative_counts': _COUNT,
    # loops and hooks
    'max_epochs': _COUNT,
    'max_iters': _COUNT,
    'val_interval': _COUNT,
    'mid_epoch_interval': Expected(integer=True, low=0),
    # randomness and processes
    'seed': Expected(integer=True, low=0, high=2**32 - 1, none_ok=True),  # numpy's seed range
    'num_threads': Expected(integer=True, low=1, none_ok=True),
    # data
    'batch_size': _COUNT,
    'base_batch_size': _COUNT,
    'num_workers': Expected(integer=True, low=0),
    'clip_len': _COUNT,
    'frame_interval': _COUNT,
    'num_clips': _COUNT,
    # model
    'num_classes': _COUNT,
    'embed_dim': _COUNT,
    'in_channels': _COUNT,
    'drop_path_rate': _RATE,
    'drop_rate': _RATE,
    'attn_drop_rate': _RATE,
    'dropout_ratio': _RATE,
}


def check_values(node: Any, key: str) -> None:
    """Raise :class:`ConfigError` for the first entry under ``node`` (found at dotted
    ``key``) that :data:`NUMERIC_KEYS` names and whose value it does not accept."""
    for path, name, value in _entries(node, key):
        expected = NUMERIC_KEYS[name]
        if not expected.accepts(value):
            raise ConfigError(f'{path}: {value!r} is not {expected.describe()}'
                              f'{_kind_hint(value)}')


def _entries(node: Any, key: str) -> Iterator[Tuple[str, str, Any]]:
    if isinstance(node, dict):
        for child_key, child in node.items():
            path = f'{key}.{child_key}' if key else str(child_key)
            if child_key in NUMERIC_KEYS:
                yield path, child_key, child
            else:
                yield from _entries(child, path)
    elif isinstance(node, (list, tuple)):
        for i, child in enumerate(node):
            yield from _entries(child, f'{key}[{i}]')


def _kind_hint(value: Any) -> str:
    """A number written in quotes (``lr="0.1"`` in a file, ``lr="'0.1'"`` on the
    command line) stays a string; say so, since it prints like a number."""
    if not isinstance(value, str):
        return ''
    try:
        float(value)
    except ValueError:
        return ''
    return ' (it is a string: write the number without quotes)'
