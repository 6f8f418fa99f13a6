"""Make mmengine's own ``load_from`` / ``resume`` load like the rest of videoswin.

mmengine loads ``load_from`` with ``strict=False`` and no summary: a checkpoint of
another architecture trains on silently with whatever happened to fit, an mmaction2
checkpoint leaves our final ``norm`` at its initial value (its weights sit under
``norm3``), a 2D ImageNet file loads nothing. This hook runs between reading the file
and mmengine's copy into the model, and loads it our way instead:

* a file of the wrong kind stops with the message naming the right option;
* ``resume`` needs a training checkpoint (epoch, iteration, optimizer, message hub);
* the weights go through :func:`~videoswin.checkpoint.load.apply_state_dict`: the one
  summary line, a warning for NaN/inf weights, and a stop when the backbone does not fit
  (unless ``model.backbone.load_what_fits=True``). A different classification head
  (K400 -> SSv2) is allowed and reported. A resumed run must fit exactly.

mmengine's copy that follows then gets the model's own, already loaded, tensors.
"""
from typing import Any, Dict

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn
from torch.distributed.fsdp import FullyShardedDataParallel

from videoswin.checkpoint.detect import CheckpointKindError, unwrap_state_dict
from videoswin.checkpoint.load import LoadSummary, load_recognizer_state
from videoswin.registry import HOOKS

#: What mmengine's ``Runner.resume`` reads besides the weights.
TRAINING_ENTRIES = ('meta.epoch', 'meta.iter', 'optimizer', 'message_hub')


def missing_training_entries(checkpoint: Dict[str, Any]) -> list:
    """The :data:`TRAINING_ENTRIES` a checkpoint lacks."""
    meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), dict) else {}
    present = {f'meta.{key}' for key in meta} | set(checkpoint)
    return [entry for entry in TRAINING_ENTRIES if entry not in present]


def loads_what_fits(model: nn.Module) -> bool:
    """The backbone's ``load_what_fits`` switch (False for backbones without it)."""
    return bool(getattr(getattr(model, 'backbone', None), 'load_what_fits', False))


def check_resumable(checkpoint: Dict[str, Any], source: str) -> None:
    """Stop with the file's name when it cannot continue a run."""
    lacking = missing_training_entries(checkpoint)
    if lacking:
        raise CheckpointKindError(
            f'{source} is not a training checkpoint (it lacks {", ".join(lacking)}; '
            f'it holds {sorted(checkpoint)}): --resume/resume=True continue a run from '
            f'its own epoch_N.pth; to start from these weights use load_from={source!r}')


def load_into(model: nn.Module, checkpoint: Dict[str, Any], source: str,
              resuming: bool) -> LoadSummary:
    """Load a Runner checkpoint into ``model`` with the checks of the module docstring."""
    if resuming:
        check_resumable(checkpoint, source)
    state_dict, meta = unwrap_state_dict(checkpoint, source)
    strict = resuming or not loads_what_fits(model)
    # a new run may change the head (K400 -> SSv2); a resumed one must fit exactly
    tolerated = (lambda key: False) if resuming else (lambda key: not key.startswith('backbone.'))
    return load_recognizer_state(model, state_dict, source, meta, strict, tolerated)


@HOOKS.register_module()
class CheckpointLayoutHook(Hook):
    """Load the Runner's ``load_from`` / ``resume`` checkpoint the videoswin way."""

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: Dict[str, Any]) -> None:
        source = str(getattr(runner, '_load_from', None) or 'load_from checkpoint')
        resuming = bool(getattr(runner, '_resume', False))
        if isinstance(runner.model, FullyShardedDataParallel):
            # Each rank holds flat shards, so the parameters have no per-tensor shapes to
            # check here: the FSDP strategy loads the full state dict itself.
            if resuming:
                check_resumable(checkpoint, source)
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        load_into(model, checkpoint, source, resuming)
        checkpoint.pop('model', None)
        checkpoint.pop('module', None)
        checkpoint['state_dict'] = dict(model.state_dict())
