"""``ActionListDataset``: videos or rawframes from a list file, robust to damaged samples.

The base of every dataset a config names in the ``videoswin`` scope:
:class:`~videoswin.datasets.KineticsDataset`, :class:`~videoswin.datasets.SthV2Dataset`
and mmaction2's names :class:`~videoswin.datasets.VideoDataset` and
:class:`~videoswin.datasets.RawframeDataset`, so they all read the same list files and
share one bad-sample policy. The format follows ``data_prefix``, as in
mmaction2: ``dict(video=root)`` reads ``path label`` lines (VideoDataset's format),
``dict(img=root)`` reads ``frame_dir total_frames label`` lines (RawframeDataset's).
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmaction.datasets import BaseActionDataset

from .annotations import parse_rawframe_list, parse_video_list
from .bad_sample_policy import RobustLoadingMixin


class ActionListDataset(RobustLoadingMixin, BaseActionDataset):
    """Action recognition samples from an annotation list file.

    Args:
        ann_file: the list file.
        pipeline: the transforms.
        data_prefix: ``dict(video=root)`` for videos or ``dict(img=root)`` for rawframes;
            list paths are relative to it. Default: ``default_data_prefix``.
        num_classes: if given, a label outside ``[0, num_classes)`` is an error naming
            the file and line (multi-label datasets also need it for one-hot labels).
        multi_class: several labels per line (no spaces in paths then).
        test_mode: validation / test set.
        on_bad_sample: 'replace' | 'error' | 'skip' (see :mod:`.bad_sample_policy`); default
            'replace' in training, 'error' in testing.
        max_bad_in_a_row: in 'replace' mode, this many failures in a row stop the run.
        probe_workers: threads probing the files in 'skip' mode.
        filename_tmpl: rawframe file names (``img_00001.jpg``).
        start_index: index of the first frame; default 0 for videos, 1 for rawframes.
        class_names: names of the classes in label order, stored in
            ``metainfo['classes']`` (demos and confusion matrices read them).
        delimiter: field separator of video lists (default whitespace; mmaction2's
            ``' '`` means the same). The path is everything before the label.
        with_offset: rawframe lines are ``frame_dir offset total_frames label``.
    """

    default_data_prefix: Dict[str, str] = dict(video='')

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[Dict, Callable]],
                 data_prefix: Optional[Dict] = None,
                 num_classes: Optional[int] = None,
                 multi_class: bool = False,
                 test_mode: bool = False,
                 on_bad_sample: Optional[str] = None,
                 max_bad_in_a_row: int = 50,
                 probe_workers: int = 8,
                 filename_tmpl: str = 'img_{:05}.jpg',
                 start_index: Optional[int] = None,
                 modality: str = 'RGB',
                 class_names: Optional[Sequence[str]] = None,
                 delimiter: Optional[str] = None,
                 with_offset: bool = False,
                 **kwargs) -> None:
        data_prefix = dict(data_prefix if data_prefix is not None else self.default_data_prefix)
        self.rawframes = 'img' in data_prefix
        self.filename_tmpl = filename_tmpl
        self.delimiter = delimiter
        self.with_offset = with_offset
        self._class_names = list(class_names) if class_names is not None else None
        self._init_policy(on_bad_sample, test_mode, max_bad_in_a_row, probe_workers)
        if start_index is None:
            start_index = 1 if self.rawframes else 0
        super().__init__(ann_file, pipeline=pipeline, data_prefix=data_prefix,
                         test_mode=test_mode, multi_class=multi_class,
                         num_classes=num_classes, start_index=start_index,
                         modality=modality, **kwargs)

    @property
    def root(self) -> str:
        """The folder list paths are relative to."""
        return self.data_prefix.get('img' if self.rawframes else 'video') or ''

    def load_data_list(self) -> List[dict]:
        limit = self.num_classes
        if limit is None and self._class_names is not None:
            limit = len(self._class_names)
        if self.rawframes:
            samples = parse_rawframe_list(self.ann_file, limit, self.multi_class,
                                          self.with_offset)
            for sample in samples:
                sample['frame_dir'] = osp.join(self.root, sample['frame_dir'])
        else:
            samples = parse_video_list(self.ann_file, limit, self.multi_class,
                                       self.delimiter)
            for sample in samples:
                sample['filename'] = osp.join(self.root, sample['filename'])
        self._set_classes()
        return samples

    def _set_classes(self, names: Optional[Sequence[str]] = None) -> None:
        names = names if names is not None else self._class_names
        if names is not None:
            self._class_names = list(names)
            self._metainfo['classes'] = tuple(names)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if self.rawframes:
            info['filename_tmpl'] = self.filename_tmpl
        return info
