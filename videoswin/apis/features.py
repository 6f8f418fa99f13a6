"""Backbone features of whole videos, and the append-only file they are stored in.

A video's feature is the backbone's last feature map (V views, 8C, T', H', W'), averaged
over space (and time, unless ``temporal``) per view, then over the V test views of the
config (clips x crops): (8C,) pooled or (8C, T') per time step. This is the pooled
feature of the recognizer's ``test_cfg.feature_extraction=True`` mode, with the option
of keeping time.

The feature file is a plain sequence of ``.npy`` records: a header (a JSON string with
the settings), then for each video its name (a string array) and its feature (float32).
Each video is appended and flushed as soon as it is done, so an interrupted run loses at
most the video it was writing; reading stops at the last complete record, and a resumed
run cuts the damaged tail off and skips the videos already there. No pickle is involved:
``numpy.load(f)`` in a loop reads the file, or ``load_features``.
"""
import json
import os
from pathlib import Path
from typing import BinaryIO, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .inference import Video, prepare_batch

PathLike = Union[str, Path]
FORMAT = 'videoswin-features'
VERSION = 1


@torch.no_grad()
def pool_backbone_features(feature_map: torch.Tensor, temporal: bool = False) -> torch.Tensor:
    """Average (V, C, T, H, W) backbone maps over space (and time) then over views.

    Returns:
        (C,) or, with ``temporal``, (C, T).
    """
    if feature_map.ndim != 5:
        raise ValueError('expected a (views, C, T, H, W) feature map, got '
                         f'{tuple(feature_map.shape)}')
    per_view = feature_map.mean(dim=(3, 4)) if temporal else feature_map.mean(dim=(2, 3, 4))
    return per_view.mean(dim=0)


@torch.no_grad()
def extract_features(model: nn.Module, video: Video, temporal: bool = False) -> np.ndarray:
    """Pooled backbone feature of one video, over all the test views of the model's config.

    Args:
        model: from ``init_recognizer``; only its data preprocessor and backbone run.
        video: a video file, or frames as a (T, H, W, 3) uint8 RGB array.
        temporal: keep the time axis of the feature map.

    Returns:
        float32 array, (8C,) or (8C, T') where T' is the clip length over the temporal
        patch size.
    """
    model.eval()
    return features_from_batch(model, prepare_batch(model, video), temporal)[0]


@torch.no_grad()
def features_from_batch(model: nn.Module, batch: dict, temporal: bool = False) -> np.ndarray:
    """``extract_features`` for a collated batch of pipeline outputs: (B, 8C[, T'])."""
    inputs = model.data_preprocessor(batch, False)['inputs']  # (B, V, C, T, H, W)
    num_videos = len(inputs)
    views = inputs.reshape((-1, ) + inputs.shape[2:])
    chunk = getattr(model, 'max_testing_views', None) or len(views)  # bounds memory only
    maps = torch.cat([_last_map(model.backbone(part)) for part in views.split(chunk)])
    maps = maps.reshape((num_videos, -1) + maps.shape[1:])
    return torch.stack([pool_backbone_features(m, temporal) for m in maps]).float().cpu().numpy()


def _last_map(output) -> torch.Tensor:
    return output[-1] if isinstance(output, (tuple, list)) else output


class FeatureFile(NamedTuple):
    """The contents of a feature file."""
    header: dict
    names: List[str]
    features: np.ndarray  # (N, 8C) or (N, 8C, T')


def _read_record(file: BinaryIO) -> Optional[np.ndarray]:
    """The next array, or None at the end of the file or at a truncated record."""
    try:
        return np.lib.format.read_array(file, allow_pickle=False)
    except (ValueError, EOFError):
        return None


def _scan(path: Path) -> Tuple[dict, Dict[str, np.ndarray], int]:
    """Header, complete records by name, and the byte offset where they end."""
    with open(path, 'rb') as file:
        first = _read_record(file)
        header = _parse_header(first, path)
        records: Dict[str, np.ndarray] = {}
        end = file.tell()
        while True:
            name = _read_record(file)
            feature = _read_record(file) if name is not None else None
            if feature is None:
                return header, records, end
            if name.dtype.kind != 'U' or name.ndim != 0:
                raise ValueError(f'{path}: record {len(records)} has no video name; '
                                 'the file is damaged')
            records[str(name)] = feature
            end = file.tell()


def _parse_header(record: Optional[np.ndarray], path: Path) -> dict:
    try:
        header = json.loads(str(record))
        if record is not None and record.dtype.kind == 'U' and header.get('format') == FORMAT:
            return header
    except (json.JSONDecodeError, AttributeError):
        pass
    raise ValueError(f'{path}: not a videoswin feature file')


def load_features(path: PathLike) -> FeatureFile:
    """Read a feature file (complete records only); features stacked in file order."""
    path = Path(path)
    header, records, _ = _scan(path)
    shapes = {feature.shape for feature in records.values()}
    if len(shapes) > 1:
        raise ValueError(f'{path}: features of different shapes {sorted(shapes)}')
    features = np.stack(list(records.values())) if records else np.zeros((0, ), np.float32)
    return FeatureFile(header, list(records), features)


class FeatureWriter:
    """Appends (name, feature) records to a feature file, resuming an existing one.

    Args:
        path: the feature file; created with ``header`` if missing.
        header: settings of this run (JSON-serialisable). When the file exists, its header
            must match, so that one file never mixes features of different models or modes.
    """

    def __init__(self, path: PathLike, header: dict) -> None:
        self.path = Path(path)
        self.header = {'format': FORMAT, 'version': VERSION, **header}
        self.done: set = set()
        if self.path.exists() and self.path.stat().st_size:
            existing, records, end = _scan(self.path)
            mismatched = {key: (existing.get(key), value) for key, value in self.header.items()
                          if existing.get(key) != value}
            if mismatched:
                raise ValueError(f'{self.path} was written with other settings '
                                 f'{mismatched} (file vs now); choose another --out')
            with open(self.path, 'r+b') as file:
                file.truncate(end)  # drop a record cut off by an interruption
            self.done = set(records)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + '.partial')
            with open(partial, 'wb') as file:
                np.save(file, np.array(json.dumps(self.header)), allow_pickle=False)
                self._sync(file)
            os.replace(partial, self.path)  # the file never exists without its header

    def append(self, name: str, feature: np.ndarray) -> None:
        with open(self.path, 'ab') as file:
            np.save(file, np.array(name), allow_pickle=False)
            np.save(file, np.ascontiguousarray(feature, dtype=np.float32), allow_pickle=False)
            self._sync(file)
        self.done.add(name)

    @staticmethod
    def _sync(file: BinaryIO) -> None:
        file.flush()
        os.fsync(file.fileno())
