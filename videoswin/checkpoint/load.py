"""Applying a state dict to a module, with one line saying what happened.

Every backbone family loads through :func:`apply_state_dict`, on two routes matching the
two config options:

* ``model.backbone.pretrained=PATH`` -> the backbone's ``init_weights`` converts the file
  beside its class (Swin: ``models/backbones/swin3d_weights.py``; TimeSformer, ViViT,
  DualFormer: their modules with ``vit_image_weights.py``), then applies it here
  (:func:`load_backbone_weights` for the three peers).
* ``load_from=PATH`` / a tool's ``CHECKPOINT`` -> :func:`load_model_checkpoint`: a
  whole video recognizer. A backbone family that registered a layout reader (Swin:
  official, mmaction2 ``norm3``, ours) has its file recognised and converted; a
  recognizer with another backbone (TimeSformer, ViViT, DualFormer) is loaded key for
  key, as saved.

A checkpoint of the wrong kind for its route stops with one message naming the right
option. Every load logs one line: ``loaded N, inflated N, ignored N [...], missing N``.
Keys the model needs but the file lacks are an error unless ``strict=False``; so are
shape mismatches (named) and, for whole models, keys the model does not have.
"""
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch import nn

from .detect import (CheckpointInfo, CheckpointKindError, StateDict, is_recognizer_state_dict,
                     layout_reader_for, plain_recognizer_info, read_state_dict)
from .remote import expand_path

#: The config switch that lets a backbone take a checkpoint that only partly fits.
LOAD_WHAT_FITS = 'model.backbone.load_what_fits'


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys or shapes do not fit the model."""


@dataclass
class LoadSummary:
    """What a load did. ``str()`` is the one line that is logged.

    Attributes:
        source: the checkpoint path.
        kind: what the checkpoint was detected to be.
        loaded: tensors copied into the model.
        inflated: of those, tensors inflated from 2D.
        ignored: checkpoint keys not used (2D classifier, other heads; when loading what
            fits also unknown or mis-shaped keys).
        missing: model keys the checkpoint did not provide (kept at their initial values;
            mis-shaped keys count here and in ``ignored``).
        mismatched: keys present in both with different shapes (not loaded).
        nonfinite: the first loaded tensor holding NaN/inf, described, or None.
        meta: the checkpoint's ``meta`` dict ({} if none).
    """
    source: str
    kind: str
    loaded: int
    inflated: int = 0
    ignored: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)
    nonfinite: Optional[str] = None
    meta: Dict[str, Any] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        def part(name: str, keys: List[str]) -> str:
            return f'{name} {len(keys)}' + (f' {summarise_keys(keys)}' if keys else '')

        parts = [f'loaded {self.loaded}', f'inflated {self.inflated}',
                 part('ignored', [k for k in self.ignored if k not in self.mismatched]),
                 part('missing', [k for k in self.missing if k not in self.mismatched])]
        if self.mismatched:
            parts.append(part('shape-mismatched', self.mismatched))
        return f'{self.source} ({self.kind}): ' + ', '.join(parts)


def first_nonfinite(state: StateDict) -> Optional[str]:
    """``'key' (n of N values NaN/inf)`` for the first floating tensor that is not finite."""
    for key, value in state.items():
        if value.is_floating_point() or value.is_complex():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                return f'{key} ({bad} of {value.numel()} values NaN/inf)'
    return None


def summarise_keys(keys: List[str], limit: int = 3) -> str:
    """A few key names, indices that vary folded to ``*``: ``[layers.3.blocks.*.x (x2), ...]``."""
    index = re.compile(r'(?<=\.)\d+(?=\.)')
    groups: Dict[str, List[List[str]]] = {}
    for key in keys:
        groups.setdefault(index.sub('*', key), []).append(index.findall(key))
    shown = []
    for pattern, indices in list(groups.items())[:limit]:
        for column in zip(*indices):  # an index shared by the whole group is kept
            pattern = pattern.replace('*', column[0] if len(set(column)) == 1 else '#', 1)
        name = pattern.replace('#', '*')
        shown.append(name if len(indices) == 1 else f'{name} (x{len(indices)})')
    if len(groups) > limit:
        shown.append(f'+{len(groups) - limit} more')
    return '[' + ', '.join(shown) + ']'


def _shape_report(keys: List[str], state: StateDict, target: StateDict, limit: int = 4) -> str:
    lines = [f'{k} (checkpoint {tuple(state[k].shape)}, model {tuple(target[k].shape)})'
             for k in keys[:limit]]
    if len(keys) > limit:
        lines.append(f'+{len(keys) - limit} more')
    return '; '.join(lines)


def apply_state_dict(module: nn.Module, state: StateDict, info: CheckpointInfo, strict: bool,
                     inflated: Sequence[str] = (),
                     ignorable: Callable[[str], bool] = lambda key: False,
                     rebuilt: Callable[[str], bool] = lambda key: False,
                     tolerated: Callable[[str], bool] = lambda key: False,
                     optional: Callable[[str], bool] = lambda key: False) -> LoadSummary:
    """Copy ``state`` into ``module`` after checking names and shapes; log the summary.

    ``inflated`` names the keys converted (from 2D, or otherwise adapted); ``ignorable``
    marks checkpoint keys that are expected to be unused, ``optional`` model keys the file
    need not provide (they keep their own init) and ``tolerated`` model or file keys whose
    absence or shape never fails a strict load (a new classification head). Keys
    ``rebuilt`` marks (Swin's relative_position_index and attn_mask buffers) are neither
    taken from the file nor counted as missing. A tensor with NaN/inf is warned about.
    """
    target = module.state_dict()
    state = {k: v for k, v in state.items() if not rebuilt(k)}
    mismatched = [k for k in state if k in target and state[k].shape != target[k].shape]
    unexpected = [k for k in state if k not in target]
    missing = [k for k in target if k not in state and not rebuilt(k)]
    if strict:
        check_fit(module, state, target, info, [k for k in mismatched if not tolerated(k)],
                  [k for k in missing if not (tolerated(k) or optional(k))],
                  [k for k in unexpected if not (ignorable(k) or tolerated(k))])
    skipped = set(mismatched)
    usable = {k: v for k, v in state.items() if k in target and k not in skipped}
    with torch.no_grad():
        module.load_state_dict(usable, strict=False)
    # a mis-shaped key is both unused from the file and left at its initial value
    summary = LoadSummary(info.path, info.describe(), loaded=len(usable),
                          inflated=sum(1 for key in inflated if key in usable),
                          ignored=unexpected + mismatched, missing=missing + mismatched,
                          mismatched=mismatched, nonfinite=first_nonfinite(usable),
                          meta=info.meta)
    needed = [k for k in missing if not optional(k)]
    level = logging.WARNING if (needed or mismatched) else logging.INFO
    print_log(str(summary), logger='current', level=level)
    if summary.nonfinite:
        print_log(f'{info.path}: the weights are not finite: {summary.nonfinite}; the model '
                  'will output NaN', logger='current', level=logging.WARNING)
    return summary


def check_fit(module: nn.Module, state: StateDict, target: StateDict, info: CheckpointInfo,
              mismatched: List[str], missing: List[str], unknown: List[str]) -> None:
    """Raise :class:`CheckpointMismatchError` naming what does not fit, if anything."""
    if not (mismatched or missing or unknown):
        return
    problems = []
    if mismatched:
        problems.append('shapes differ for ' + _shape_report(mismatched, state, target))
    if missing:
        problems.append(f'{len(missing)} model keys missing from the file '
                        f'{summarise_keys(missing)}')
    if unknown:
        problems.append(f'{len(unknown)} keys the model does not have '
                        f'{summarise_keys(unknown)}')
    # only a backbone with the switch (Swin) can load what fits
    remedy = (f', or load what fits ({LOAD_WHAT_FITS}=True in a config, strict=False in '
              'Python)' if hasattr(getattr(module, 'backbone', module), 'load_what_fits')
              else '')
    raise CheckpointMismatchError(
        f'{info.path} ({info.describe()}) does not fit {type(module).__name__}: '
        + '; '.join(problems) + f'. Check the model config matches the checkpoint{remedy}.')


def pretrained_source(pretrained: Optional[str], init_cfg: Any, owner: str) -> Optional[str]:
    """The checkpoint a backbone starts from: its ``pretrained``, or mmengine's
    ``init_cfg=dict(type='Pretrained', checkpoint=...)``, which is read the same safe,
    summarised way (mmengine's own initialiser would ignore the Swin layouts).

    Raises:
        ValueError: both name different files, or ``prefix`` is other than 'backbone.'.
    """
    entries = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    from_init = [e for e in entries if isinstance(e, dict) and e.get('type') == 'Pretrained']
    if not from_init:
        return pretrained
    entry = from_init[0]
    if entry.get('prefix') not in (None, 'backbone.'):
        raise ValueError(f'{owner}: init_cfg Pretrained prefix={entry["prefix"]!r} is not '
                         "supported: the backbone part of a checkpoint is found by itself")
    checkpoint = entry.get('checkpoint')
    if not isinstance(checkpoint, str):
        raise ValueError(f'{owner}: init_cfg Pretrained needs checkpoint=PATH_OR_URL')
    if pretrained not in (None, checkpoint):
        raise ValueError(f'{owner}: pretrained={pretrained!r} and init_cfg Pretrained '
                         f'checkpoint={checkpoint!r} disagree; set only one')
    return checkpoint


def check_plain_recognizer(model: nn.Module, state: StateDict, path: str) -> None:
    """A recognizer whose backbone is not Swin takes only a whole recognizer's keys."""
    if not is_recognizer_state_dict(state):
        backbone = type(getattr(model, 'backbone', model)).__name__
        raise CheckpointKindError(
            f'{path}: not a whole-recognizer checkpoint for a {backbone} backbone: no '
            f'backbone.* keys; first keys: {sorted(state)[:4]}')


def load_plain_recognizer(model: nn.Module, state: StateDict, path: str,
                          meta: Dict[str, Any], strict: bool,
                          tolerated: Callable[[str], bool] = lambda key: False) -> LoadSummary:
    """Load a recognizer state dict key for key (every backbone but Swin).

    Nothing is renamed and every key, buffers included, is read from the file: this is
    ``load_state_dict`` with the strict checks and the summary line of the Swin route.
    """
    check_plain_recognizer(model, state, path)
    return apply_state_dict(model, state, plain_recognizer_info(path, meta), strict,
                            rebuilt=lambda key: False, tolerated=tolerated)


def load_model_checkpoint(model: nn.Module, path: str, strict: bool = True, *,
                          trusted: bool = False) -> LoadSummary:
    """Load a whole video recognizer checkpoint (official, mmaction2 ``norm3``, ours).

    With a backbone whose family registered a layout reader (``SwinTransformer3D``) the
    file's kind is detected and converted (see :mod:`videoswin.checkpoint.detect`); with
    any other backbone (TimeSformer, ViViT, DualFormer, ...) its ``backbone.``/``cls_head.``
    keys are loaded as saved.

    Args:
        model: a recognizer with ``backbone`` and ``cls_head`` children (or a DDP
            wrapper of one).
        path: the checkpoint file.
        strict: missing keys, mis-shaped keys and unknown keys are errors.
        trusted: unrestricted unpickling (see :func:`videoswin.checkpoint.safe_load`).
    """
    model = model.module if is_model_wrapper(model) else model
    path = expand_path(path)
    state, meta = read_state_dict(path, trusted=trusted)
    return load_recognizer_state(model, state, path, meta, strict)


def load_recognizer_state(model: nn.Module, state: StateDict, path: str, meta: Dict[str, Any],
                          strict: bool,
                          tolerated: Callable[[str], bool] = lambda key: False) -> LoadSummary:
    """Load a whole recognizer's state dict read from ``path`` (see
    :func:`load_model_checkpoint`); ``tolerated`` as in :func:`apply_state_dict`."""
    reader = layout_reader_for(model)
    if reader is None:
        return load_plain_recognizer(model, state, path, meta, strict, tolerated)
    state, info = reader.detect(state, path, meta)
    if info.dims == 2:
        raise CheckpointKindError(
            f'{path} is a {info.describe()} checkpoint, not a video model: inflate it with '
            f'model.backbone.pretrained={path!r} and pretrained2d=True (not load_from).')
    if info.scope == 'backbone':
        raise CheckpointKindError(
            f'{path} is a bare 3D backbone (no backbone./cls_head. keys): load it with '
            f'model.backbone.pretrained={path!r} and pretrained2d=False (not load_from).')
    return apply_state_dict(model, state, info, strict, tolerated=tolerated,
                            rebuilt=reader.rebuilt)


def load_backbone_weights(backbone: nn.Module, state: StateDict, info: CheckpointInfo,
                          adapted: Sequence[str] = ()) -> LoadSummary:
    """Initialise a backbone from weights already converted to its layout.

    The route of ``pretrained`` for backbones that start from a related model (a video
    transformer from an image ViT): every shape must fit, while keys the file lacks keep
    the backbone's own init and keys it has beyond the backbone are ignored, both named
    in the summary. ``adapted`` are the keys converted on the way (counted as inflated).
    """
    return apply_state_dict(backbone, state, info, strict=True, inflated=adapted,
                            ignorable=lambda key: True, optional=lambda key: True)
