"""The weight-loading parts every backbone family shares: safe reading (files, HF
directories, URLs), the framework for recognising a family's layouts, and applying a
state dict with a one-line :class:`LoadSummary`.

Each backbone converts its own checkpoints beside its class (Swin:
``models/backbones/swin3d_weights.py``; the ViT family: ``vit_image_weights.py``).
Every checkpoint in videoswin is read through :func:`safe_load`; see docs/checkpoints.md.
"""
from .detect import (CheckpointInfo, CheckpointKindError, LayoutReader, read_state_dict,
                     register_layout_reader)
from .io import UnreadableCheckpointError, UnsafeCheckpointError, install_safe_loader, safe_load
from .load import (CheckpointMismatchError, LoadSummary, apply_state_dict,
                   load_backbone_weights, load_model_checkpoint)
from .remote import CheckpointDownloadError, is_url

__all__ = [
    'CheckpointDownloadError', 'CheckpointInfo', 'CheckpointKindError', 'CheckpointMismatchError',
    'LayoutReader', 'LoadSummary', 'UnreadableCheckpointError', 'UnsafeCheckpointError',
    'apply_state_dict', 'install_safe_loader', 'is_url', 'load_backbone_weights',
    'load_model_checkpoint', 'read_state_dict', 'register_layout_reader', 'safe_load'
]
