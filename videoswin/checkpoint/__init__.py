"""Checkpoint reading, kind detection, 2D->3D inflation and loading with a summary.

Every checkpoint in videoswin is read through :func:`safe_load`; see docs/checkpoints.md.
"""
from .detect import CheckpointInfo, CheckpointKindError, read_checkpoint
from .io import UnreadableCheckpointError, UnsafeCheckpointError, install_safe_loader, safe_load
from .load import (CheckpointMismatchError, LoadSummary, load_model_checkpoint,
                   load_pretrained)
from .remote import CheckpointDownloadError, is_url

__all__ = [
    'CheckpointDownloadError', 'CheckpointInfo', 'CheckpointKindError', 'CheckpointMismatchError',
    'LoadSummary', 'UnreadableCheckpointError', 'UnsafeCheckpointError',
    'install_safe_loader', 'is_url', 'load_model_checkpoint', 'load_pretrained', 'read_checkpoint',
    'safe_load'
]
