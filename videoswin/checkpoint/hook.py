"""Make mmengine's own ``load_from`` / ``resume`` understand Swin checkpoint layouts.

mmengine loads ``load_from`` with ``strict=False``: an mmaction2 checkpoint would leave
our final ``norm`` at its initial value (its weights sit under ``norm3``), and a 2D
ImageNet checkpoint would load nothing at all, each with only a long key listing in
the log. This hook runs between reading the file and copying it into the model,
renames the mmaction2 layout in place and stops a checkpoint of the wrong kind with
the message that names the right option. For a model whose backbone is not Swin it only
checks that the file is a whole recognizer's.
"""
from typing import Any, Dict

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from videoswin.registry import HOOKS

from .detect import CheckpointKindError, detect, unwrap_state_dict
from .load import backbone_is_swin, check_plain_recognizer


@HOOKS.register_module()
class CheckpointLayoutHook(Hook):
    """Normalise checkpoints loaded by the Runner (``load_from``, ``resume``) to our layout."""

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: Dict[str, Any]) -> None:
        source = str(getattr(runner, '_load_from', None) or 'load_from checkpoint')
        state_dict, _ = unwrap_state_dict(checkpoint, source)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not backbone_is_swin(model):
            check_plain_recognizer(model, state_dict, source)
            return
        converted, info = detect(state_dict, source)
        if info.dims == 2:
            raise CheckpointKindError(
                f'{source} is a {info.describe()} checkpoint: inflate it with '
                f'model.backbone.pretrained={source!r} and pretrained2d=True (not load_from).')
        if info.scope == 'backbone':
            raise CheckpointKindError(
                f'{source} is a bare 3D backbone (no backbone./cls_head. keys): load it with '
                f'model.backbone.pretrained={source!r} and pretrained2d=False (not load_from).')
        if info.layout == 'mmaction2':
            checkpoint.pop('model', None)
            checkpoint.pop('module', None)
            checkpoint['state_dict'] = converted
