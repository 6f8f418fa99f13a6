"""Before a run: are the first files an annotation list names under the data root?

A wrong ``data_prefix`` (the folder above the videos, another split's folder) makes
every sample fail. In training that shows as ``max_bad_in_a_row`` "bad sample"
warnings and then an error, after the model and the loader workers have started; at
test time as the first sample's error. :func:`check_listed_files` looks at the first
few samples of the list when the config is checked, so the mistake is one line naming
the config key, the root and a listed path, with the folder that would fit when there
is one nearby. A few missing files among present ones are damaged data, left to the
bad-sample policy (:mod:`.bad_sample_policy`).
"""
import json
import os
import os.path as osp
from typing import Callable, List, Optional

from videoswin.registry import DATASETS
from videoswin.utils.errors import ConfigError

from .annotations import parse_rawframe_list, parse_video_list
from .list_dataset import ActionListDataset

NUM_CHECKED = 8


def _joined(data_root: str, path: str) -> str:
    # mmengine's BaseDataset joins data_root to relative paths the same way
    return osp.join(data_root, path) if data_root and not osp.isabs(path) else path


def _dataset_class(obj_type) -> Optional[type]:
    cls = DATASETS.get(obj_type) if isinstance(obj_type, str) else obj_type
    return cls if isinstance(cls, type) and issubclass(cls, ActionListDataset) else None


def first_listed(dataset: dict, ann_file: str, rawframes: bool, count: int) -> List[str]:
    """Up to ``count`` relative paths (videos or frame folders) from the start of the
    annotation file, as the dataset of config ``dataset`` reads them. A Kinetics CSV
    gives none: the dataset matches its rows to the files itself."""
    lowered = ann_file.lower()
    if lowered.endswith('.csv'):
        return []
    if lowered.endswith('.json'):  # an official SSv2 split
        with open(ann_file, encoding='utf-8') as f:
            entries = json.load(f)
        ext = dataset.get('video_ext', '.webm')
        ext = ext if ext.startswith('.') else f'.{ext}'
        return [f"{entry['id']}{ext}" for entry in entries[:count]
                if isinstance(entry, dict) and 'id' in entry]
    multi = bool(dataset.get('multi_class', False))
    if rawframes:
        samples = parse_rawframe_list(ann_file, multi_label=multi, limit=count,
                                      with_offset=bool(dataset.get('with_offset', False)))
        return [sample['frame_dir'] for sample in samples]
    samples = parse_video_list(ann_file, multi_label=multi, limit=count,
                               delimiter=dataset.get('delimiter'))
    return [sample['filename'] for sample in samples]


def _nearby_root(root: str, relative: str, exists: Callable[[str], bool]) -> Optional[str]:
    """The parent of ``root`` or one of its sub-folders, if ``relative`` is there."""
    candidates = [osp.dirname(osp.normpath(root))] if root else []
    if osp.isdir(root or '.'):
        with os.scandir(root or '.') as entries:
            candidates += sorted(e.path for e in entries if e.is_dir())[:100]
    return next((c for c in candidates if exists(osp.join(c, relative))), None)


def check_listed_files(dataset: dict, key: str, count: int = NUM_CHECKED) -> None:
    """Raise :class:`ConfigError` if none of the first ``count`` samples listed by the
    dataset config ``dataset`` (at config key ``key``) exists under its data root.

    Only the datasets of this package (and mmaction2's names for them) are checked;
    a missing annotation file or root folder is the caller's to report.
    """
    cls = _dataset_class(dataset.get('type'))
    data_root = dataset.get('data_root') or ''
    ann_file = _joined(data_root, str(dataset.get('ann_file') or ''))
    if cls is None or not osp.isfile(ann_file):
        return
    prefix = dict(dataset.get('data_prefix') or cls.default_data_prefix)
    kind = 'img' if 'img' in prefix else 'video'
    root = _joined(data_root, prefix.get(kind) or '')
    paths = first_listed(dataset, ann_file, kind == 'img', count)
    exists = osp.isdir if kind == 'img' else osp.isfile
    if not paths or any(exists(osp.join(root, path)) for path in paths):
        return
    what = 'frame folders' if kind == 'img' else 'videos'
    nearby = _nearby_root(root, paths[0], exists)
    if nearby and data_root:
        nearby = osp.relpath(nearby, data_root)  # data_prefix is relative to data_root
    hint = (f"; they are under {nearby}: set data_prefix=dict({kind}='{nearby}')" if nearby
            else "; set it to the folder the list's paths are relative to")
    raise ConfigError(f'{key}.data_prefix.{kind}: none of the first {len(paths)} {what} '
                      f'listed in {ann_file} is under {root or "the current folder"} (e.g. '
                      f'{osp.join(root, paths[0])}){hint}')
