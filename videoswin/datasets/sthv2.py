"""``SthV2Dataset``: Something-Something V2 from a list file or the official JSON."""
from pathlib import Path
from typing import List, Optional

from videoswin.registry import DATASETS

from .annotations import AnnotationError
from .list_dataset import ActionListDataset
from .sthv2_annotations import (LABELS_FILE_NAME, class_names_in_order, read_sthv2_labels,
                                read_sthv2_split)


@DATASETS.register_module()
class SthV2Dataset(ActionListDataset):
    """SSv2 videos (``<id>.webm``) or extracted frames. ``ann_file`` is either

    * a list file (``<id>.webm label``; rawframes ``<id> total_frames label``), as
      written by ``tools/data/build_sthv2_list.py``, or
    * an official split JSON (``something-something-v2-{train,validation,test}.json``,
      videos only): each entry's template, brackets stripped, is looked up in the
      labels file.

    Args:
        labels_file: ``something-something-v2-labels.json``; by default the one next to
            ``ann_file``. With a list file it only names the classes (optional).
        video_ext: the videos' file ending with a JSON (``.webm``; ``.mp4`` if converted).
        **kwargs: see :class:`~videoswin.datasets.list_dataset.ActionListDataset`.
    """

    def __init__(self, ann_file: str, pipeline: list, labels_file: Optional[str] = None,
                 video_ext: str = '.webm', **kwargs) -> None:
        self.labels_file = labels_file
        self.video_ext = video_ext if video_ext.startswith('.') else f'.{video_ext}'
        super().__init__(ann_file, pipeline, **kwargs)

    def _labels_path(self) -> Optional[Path]:
        if self.labels_file is not None:
            return Path(self.labels_file)
        sibling = Path(self.ann_file).with_name(LABELS_FILE_NAME)
        return sibling if sibling.is_file() else None

    def load_data_list(self) -> List[dict]:
        labels_path = self._labels_path()
        labels = read_sthv2_labels(labels_path) if labels_path is not None else None
        if labels is not None:
            if self.num_classes is not None and len(labels) != self.num_classes:
                raise AnnotationError(f'{labels_path}: {len(labels)} classes but num_classes '
                                      f'is {self.num_classes}')
            self._class_names = class_names_in_order(labels)
        if not str(self.ann_file).lower().endswith('.json'):
            return super().load_data_list()
        if self.rawframes:
            raise ValueError(f'{self.ann_file}: the official JSON names videos; for '
                             'rawframes give a list file of "<id> total_frames label" lines')
        if labels is None:
            raise FileNotFoundError(f'{self.ann_file}: the labels file {LABELS_FILE_NAME} is '
                                    'not next to it; pass labels_file=')
        samples = read_sthv2_split(self.ann_file, labels)
        self._set_classes()
        return [dict(filename=str(Path(self.root, video_id + self.video_ext)), label=label)
                for video_id, label in samples]
