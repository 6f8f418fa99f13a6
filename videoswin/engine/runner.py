"""Which runner a config gets: ``FlexibleRunner`` with a ``strategy``, else ``Runner``.

Both compile the network, not the training step, when the config says ``compile``
(:mod:`videoswin.engine.compile`).
"""
from typing import Union

from mmengine.config import Config
from mmengine.runner import FlexibleRunner as MMEngineFlexibleRunner
from mmengine.runner import Runner as MMEngineRunner

from .compile import compile_network
from .sharding import prepare_strategy


class Runner(MMEngineRunner):
    """mmengine's ``Runner``; ``compile`` compiles the backbone, neck and head."""

    def _maybe_compile(self, target: str) -> None:
        compile_network(self.model, self.cfg.get('compile'))


class FlexibleRunner(MMEngineFlexibleRunner):
    """mmengine's ``FlexibleRunner``, given the config's ``compile``: 0.10.7's
    ``from_cfg`` drops it, so ``compile=True`` with a strategy did nothing."""

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'FlexibleRunner':
        runner = super().from_cfg(cfg)
        runner._compile = cfg.get('compile', False)  # read by train(), handed to the strategy
        return runner


def build_runner(cfg: Config) -> Union[Runner, FlexibleRunner]:
    """``FlexibleRunner`` for a config with ``strategy`` (its strategy compiles, see
    :class:`videoswin.engine.sharding.FSDPStrategy`), else :class:`Runner`."""
    if cfg.get('strategy') is None:
        return Runner.from_cfg(cfg)
    prepare_strategy(cfg)
    return FlexibleRunner.from_cfg(cfg)
