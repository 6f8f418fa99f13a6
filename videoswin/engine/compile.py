"""``compile=True`` in a config: ``torch.compile`` the network, not the training step.

mmengine (0.10.7) compiles ``model.train_step``, which also holds the AMP context
(``mmengine.runner.amp.autocast``, whose version checks dynamo cannot trace: training
with ``--amp`` and ``compile=True`` stopped with ``InternalTorchDynamoError``), the loss
parsing, ``backward`` and the optimizer step. Here only the tensor-to-tensor parts of
the recognizer are compiled, in place (``nn.Module.compile``, so state-dict keys and
checkpoints are unchanged); the step around them stays eager, with autocast entered
before the compiled code runs, as torch.compile expects.
"""
from typing import Dict, List, Union

from mmengine.logging import print_log
from torch import nn

#: the recognizer's parts that run on tensors only (no data samples)
NETWORK_PARTS = ('backbone', 'neck', 'cls_head')


def compile_options(compile_cfg: Union[bool, Dict, None]) -> Union[Dict, None]:
    """``torch.compile`` keyword arguments of a config's ``compile`` value, or None for off.

    A dict is passed on (``mode``, ``dynamic``, ``backend``, ...), without mmengine's
    ``target``: what is compiled is fixed here. ``dynamic`` defaults to False (``True``
    gives just that): the recipes' shapes are fixed, so a new shape (the last, smaller
    batch of an epoch, validation) is compiled for its own, rather than every kernel
    turning to symbolic shapes after the first change.
    """
    if compile_cfg is None or compile_cfg is False:
        return None
    if compile_cfg is True:
        return {'dynamic': False}
    if not isinstance(compile_cfg, dict):
        raise TypeError(f'compile: expected a bool or a dict of torch.compile options, got '
                        f'{type(compile_cfg).__name__}')
    return {'dynamic': False, **{k: v for k, v in compile_cfg.items() if k != 'target'}}


def compile_network(model: nn.Module, compile_cfg: Union[bool, Dict, None]) -> List[str]:
    """Compile ``model``'s backbone, neck and head in place; returns the parts compiled.

    ``model`` may be wrapped (DDP, FSDP, mmengine's wrappers): the parts are looked up
    on ``model.module`` then.
    """
    options = compile_options(compile_cfg)
    if options is None:
        return []
    network = getattr(model, 'module', model)
    compiled = []
    for name in NETWORK_PARTS:
        part = getattr(network, name, None)
        if isinstance(part, nn.Module):
            part.compile(**options)
            compiled.append(name)
    if not compiled:
        raise ValueError(f'compile: {type(network).__name__} has none of {NETWORK_PARTS} to '
                         'compile')
    print_log(f'torch.compile: {", ".join(compiled)} (the first iterations are slow while '
              'they compile)', logger='current')
    return compiled
