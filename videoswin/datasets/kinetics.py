"""``KineticsDataset``: Kinetics-400/600/700 from a list file or the official CSV."""
import logging
from pathlib import Path
from typing import List, Optional, Sequence, Union

from mmengine.logging import print_log

from videoswin.registry import DATASETS

from .annotations import AnnotationError, read_class_names
from .kinetics_annotations import (VIDEO_EXTENSIONS, index_video_files, kinetics_class_names,
                                   match_clips, read_kinetics_csv)
from .list_dataset import ActionListDataset


@DATASETS.register_module()
class KineticsDataset(ActionListDataset):
    """Kinetics clips. ``ann_file`` is either

    * a list file (``path label`` / rawframes ``frame_dir total_frames label``, as written
      by ``tools/data/build_kinetics_list.py`` or mmaction2's tools), or
    * an official CSV (``*.csv``): its rows are matched to the files under
      ``data_prefix['video']`` in any of the downloaders' layouts; rows whose video is
      missing are left out and counted in a warning.

    Args:
        class_index: the class-index file (one name per line, label order) or the names.
            With a CSV and no class index, the CSV's own labels sorted alphabetically are
            used -- the standard index, provided the CSV contains every class (the
            official train and validation CSVs do). With ``num_classes`` given, a
            different number of classes is an error.
        video_extensions: file endings searched for with a CSV.
        **kwargs: see :class:`~videoswin.datasets.list_dataset.ActionListDataset`.
    """

    def __init__(self, ann_file: str, pipeline: list,
                 class_index: Union[None, str, Sequence[str]] = None,
                 video_extensions: Sequence[str] = VIDEO_EXTENSIONS, **kwargs) -> None:
        self.class_index = class_index
        self.video_extensions = tuple(video_extensions)
        self.missing_videos: List[str] = []
        super().__init__(ann_file, pipeline, **kwargs)

    def _given_class_names(self) -> Optional[List[str]]:
        if self.class_index is None:
            return None
        if isinstance(self.class_index, (str, Path)):
            return read_class_names(self.class_index)
        return list(self.class_index)

    def load_data_list(self) -> List[dict]:
        given = self._given_class_names()
        if not str(self.ann_file).lower().endswith('.csv'):
            self._class_names = given if given is not None else self._class_names
            return super().load_data_list()
        if self.rawframes:
            raise ValueError(f'{self.ann_file}: a Kinetics CSV names videos; for rawframes '
                             'build a list file with tools/data/build_kinetics_list.py')
        clips = read_kinetics_csv(self.ann_file)
        names = given if given is not None else kinetics_class_names(clips)
        if self.num_classes is not None and len(names) != self.num_classes:
            source = 'the class index' if given is not None else 'its labels'
            raise AnnotationError(
                f'{self.ann_file}: {source} make {len(names)} classes but num_classes is '
                f'{self.num_classes}; pass class_index=<the training class-index file>')
        index = index_video_files(self.root, self.video_extensions)
        found, missing = match_clips(clips, index, names, source=self.ann_file)
        self.missing_videos = [clip.stem for clip in missing]
        if clips and not found:
            raise FileNotFoundError(
                f'{self.ann_file}: none of its {len(clips)} clips has a video under '
                f'{self.root} (looked for {clips[0].stem}.mp4 and the like in any sub-folder); '
                'set data_prefix=dict(video=...) to the folder holding the videos')
        if missing:
            print_log(f'{self.ann_file}: {len(missing)} of {len(clips)} clips have no video '
                      f'under {self.root} and are left out (e.g. {missing[0].stem})',
                      logger='current', level=logging.WARNING)
        self._set_classes(names)
        return [dict(filename=str(Path(self.root, relative)), label=label)
                for relative, label in found]
