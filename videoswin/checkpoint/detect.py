"""What a checkpoint file holds: reading its state dict safely, and the framework by
which each backbone family recognises its own layouts.

Reading (:func:`read_state_dict`) is the same for every family: a file, a HF
``save_pretrained`` directory (sharded or not) or an http(s) URL, read through
:func:`~videoswin.checkpoint.io.safe_load`, the weights found inside whatever container
the trainer wrote. Recognising layouts is the family's own business: a backbone module
registers a :class:`LayoutReader` beside its class (Swin's lives in
``models/backbones/swin3d_weights.py``), and :func:`layout_reader_for` finds the one for
a model. A recognizer whose backbone registered none is read as saved (layout 'plain').
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from .io import safe_load
from .remote import expand_path, is_url

StateDict = Dict[str, torch.Tensor]
# Weight files of a HF ``save_pretrained`` directory, in the order HF itself prefers.
HF_WEIGHT_FILES = ('model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin',
                   'pytorch_model.bin.index.json')
# Top-level entries that hold the weights: mmengine / mmcv / official Video Swin,
# PySlowFast (official TimeSformer), Microsoft Swin / DeiT, DeepSpeed.
_CONTAINERS = ('state_dict', 'model_state', 'model', 'module')
PLAIN_LAYOUT = 'plain'


class CheckpointKindError(ValueError):
    """The checkpoint is not what this loading route expects (or of no layout we know)."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint file turned out to be.

    Attributes:
        path: the file or directory read.
        dims: 2 for an image (ImageNet) model, 3 for a video one.
        layout: 'microsoft', 'hf-transformers', 'official' or 'mmaction2' (Swin), or
            'plain': a recognizer of another backbone, whose keys are used as saved.
        scope: 'recognizer' (``backbone.``/``cls_head.`` keys) or 'backbone'.
        meta: the checkpoint's ``meta`` dict, if it has one.
        label: what to call the file instead of the Swin wording (e.g. 'image ViT').
    """
    path: str
    dims: int
    layout: str
    scope: str
    meta: Dict[str, Any] = field(default_factory=dict, compare=False)
    label: str = ''

    def describe(self) -> str:
        """The kind, as the summary line and the error messages name it."""
        if self.label:
            return self.label
        if self.layout == PLAIN_LAYOUT:
            return 'video recognizer, plain layout (no Swin conversions)'
        what = '2D image Swin' if self.dims == 2 else f'3D video {self.scope}'
        return f'{what}, {self.layout} layout'


def _hf_weight_file(directory: str) -> str:
    for name in HF_WEIGHT_FILES:
        candidate = osp.join(directory, name)
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(f'{directory} is a directory but holds none of '
                            f'{", ".join(HF_WEIGHT_FILES)} (a HF save_pretrained directory)')


def _read_file(path: str, trusted: bool) -> Any:
    """A weights file; a HF ``*.index.json`` names its shards, which are read and merged."""
    if not path.endswith('.index.json'):
        return safe_load(path, trusted=trusted)
    with open(path) as index_file:
        shards = sorted(set(json.load(index_file)['weight_map'].values()))
    merged: StateDict = {}
    for shard in shards:
        merged.update(safe_load(osp.join(osp.dirname(path), shard), trusted=trusted))
    return merged


def unwrap_state_dict(checkpoint: Any, path: str) -> Tuple[StateDict, Dict[str, Any]]:
    """Find the state dict inside whatever container the file holds; return it and meta."""
    if not isinstance(checkpoint, dict):
        raise CheckpointKindError(f'{path}: expected a dict of tensors (or a checkpoint dict '
                                  f'holding one), got {type(checkpoint).__name__}')
    meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), dict) else {}
    for container in _CONTAINERS:
        if isinstance(checkpoint.get(container), dict):
            checkpoint = checkpoint[container]
            break
    not_tensors = [k for k, v in checkpoint.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointKindError(
            f'{path}: not a state dict; entries {sorted(not_tensors)[:5]} are not tensors '
            f'(looked inside {"/".join(_CONTAINERS)})')
    if checkpoint and all(k.startswith('module.') for k in checkpoint):
        checkpoint = {k[len('module.'):]: v for k, v in checkpoint.items()}
    return dict(checkpoint), meta


def is_recognizer_state_dict(state_dict: StateDict) -> bool:
    """True when the keys are a whole recognizer's (``backbone.``-prefixed), of any backbone."""
    return any(key.startswith('backbone.') for key in state_dict)


def plain_recognizer_info(path: str, meta: Optional[Dict[str, Any]] = None) -> CheckpointInfo:
    """What a recognizer checkpoint read without Swin conversions is."""
    return CheckpointInfo(path, 3, PLAIN_LAYOUT, 'recognizer', meta or {})


def read_state_dict(path: str, trusted: bool = False) -> Tuple[StateDict, Dict[str, Any]]:
    """Read a checkpoint file, HF directory or URL of a file safely; return its state dict
    (keys as saved, containers and ``module.`` unwrapped) and its ``meta``.

    Raises:
        FileNotFoundError: nothing at ``path`` (or a directory without HF weights).
        CheckpointKindError: the file holds no state dict.
        UnsafeCheckpointError: the file needs types outside the safe-load allow-list.
    """
    path = expand_path(path)
    if osp.isdir(path):
        weights = _hf_weight_file(path)
    elif is_url(path) or osp.isfile(path):
        weights = path
    else:
        raise FileNotFoundError(f'checkpoint not found: {path}')
    return unwrap_state_dict(_read_file(weights, trusted), path)


#: Recognises a family's files and brings them to its layout: (state dict, path, meta)
#: -> (converted state dict, info). Raises :class:`CheckpointKindError` for a file it
#: cannot place.
Detector = Callable[[StateDict, str, Dict[str, Any]], Tuple[StateDict, CheckpointInfo]]


@dataclass(frozen=True)
class LayoutReader:
    """How one backbone family's whole-model checkpoints are recognised and converted.

    Attributes:
        backbone: the backbone class whose recognizers this reader serves.
        detect: the family's :data:`Detector`.
        rebuilt: buffers the model builds itself: never read from a file, never missing.
    """
    backbone: type
    detect: Detector
    rebuilt: Callable[[str], bool]


_READERS: List[LayoutReader] = []


def register_layout_reader(reader: LayoutReader) -> LayoutReader:
    """Make ``reader`` serve recognizers whose backbone is a ``reader.backbone``."""
    _READERS.append(reader)
    return reader


def layout_reader_for(model: nn.Module) -> Optional[LayoutReader]:
    """The reader of ``model``'s backbone family; None reads the file as saved.

    A model without a ``backbone`` child gets the first registered reader, so that a file
    of a known kind (e.g. a 2D image Swin) gets that kind's message.
    """
    backbone = getattr(model, 'backbone', None)
    if backbone is None:
        return _READERS[0] if _READERS else None
    return next((r for r in _READERS if isinstance(backbone, r.backbone)), None)
