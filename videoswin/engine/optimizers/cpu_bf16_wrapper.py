"""Mixed precision on CPU: an optimizer wrapper that trains under bfloat16 autocast.

mmengine's ``AmpOptimWrapper`` refuses to run without an accelerator. bfloat16 has
float32's exponent range, so no loss scaling is needed and the plain
``OptimWrapper`` step is kept; only the forward runs under autocast.
``tools/train.py --amp`` selects this wrapper when no GPU is present (see
``videoswin.utils.setup_env``). On CPUs without native bf16 instructions it is
slower than float32: use it to check the AMP code path, not for speed.
"""
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast
from torch import nn

from videoswin.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUBF16OptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` adds CPU bfloat16 autocast."""

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        with super().optim_context(model), autocast(device_type='cpu', dtype=torch.bfloat16):
            yield
