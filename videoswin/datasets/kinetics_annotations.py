"""The official Kinetics annotation CSVs (K400 / K600 / K700) and the downloaded video files.

CSV columns: ``label,youtube_id,time_start,time_end,split`` (K400 adds ``is_cc``; test
CSVs have no ``label``). A clip is saved by the common downloaders as
``<youtube_id>_<time_start:06d>_<time_end:06d>.mp4``, either under a class folder
(``<split>/<class name>/...``, the class name with its spaces or with underscores) or
flat (``<split>/...``). Videos are found by file name anywhere under the video root, so
every one of these layouts works without being named.

The standard class index is the class names sorted alphabetically (label 0 is
``abseiling`` in K400). Names are kept verbatim, spaces included.
"""
import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .annotations import AnnotationError

PathLike = Union[str, Path]
VIDEO_EXTENSIONS = ('.mp4', '.mkv', '.webm', '.avi', '.mov')
KNOWN_CLASS_COUNTS = {'kinetics400': 400, 'kinetics600': 600, 'kinetics700': 700}
SPLIT_ALIASES = {'validate': 'val', 'validation': 'val'}


@dataclass(frozen=True)
class KineticsClip:
    """One CSV row. ``label`` is None in test CSVs; ``line`` is the CSV line number."""
    youtube_id: str
    time_start: int
    time_end: int
    split: str
    label: Optional[str]
    line: int

    @property
    def stem(self) -> str:
        """The downloaders' file name without extension."""
        return f'{self.youtube_id}_{self.time_start:06d}_{self.time_end:06d}'


def _seconds(value: str, where: str, column: str) -> int:
    try:
        number = float(value)
    except ValueError:
        raise AnnotationError(f'{where}: {column} {value!r} is not a number') from None
    if number != int(number) or number < 0:
        raise AnnotationError(f'{where}: {column} {value!r} is not a whole number of seconds')
    return int(number)


def read_kinetics_csv(path: PathLike) -> List[KineticsClip]:
    """All rows of an official Kinetics CSV, validated."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'annotation file {path} does not exist')
    clips = []
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or ())
        missing = {'youtube_id', 'time_start', 'time_end'} - columns
        if missing:
            raise AnnotationError(f'{path}:1: not a Kinetics CSV: the header lacks '
                                  f'{sorted(missing)} (got {reader.fieldnames})')
        for row in reader:
            where = f'{path}:{reader.line_num}'
            required = ('youtube_id', 'time_start', 'time_end')
            if None in row or any(row.get(c) is None for c in required):
                raise AnnotationError(f'{where}: expected {len(reader.fieldnames)} columns '
                                      f'{reader.fieldnames}')
            youtube_id = row['youtube_id'].strip()
            if not youtube_id:
                raise AnnotationError(f'{where}: empty youtube_id')
            start = _seconds(row['time_start'], where, 'time_start')
            end = _seconds(row['time_end'], where, 'time_end')
            if end <= start:
                raise AnnotationError(f'{where}: time_end {end} is not after time_start {start}')
            label = (row.get('label') or '').strip() or None
            split = (row.get('split') or '').strip()
            clips.append(KineticsClip(youtube_id, start, end, SPLIT_ALIASES.get(split, split),
                                      label, reader.line_num))
    return clips


def kinetics_class_names(clips: Iterable[KineticsClip]) -> List[str]:
    """The standard class index: the distinct labels sorted alphabetically."""
    return sorted({clip.label for clip in clips if clip.label is not None})


def index_video_files(root: PathLike,
                      extensions: Sequence[str] = VIDEO_EXTENSIONS) -> Dict[str, List[str]]:
    """File stem -> relative paths (POSIX) of every video under ``root``, walked once."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'video root {root} is not a directory')
    extensions = tuple(e.lower() for e in extensions)
    index: Dict[str, List[str]] = {}
    for folder, _, files in os.walk(root, followlinks=True):
        for name in files:
            stem, ext = os.path.splitext(name)
            if ext.lower() in extensions:
                relative = Path(folder, name).relative_to(root).as_posix()
                index.setdefault(stem, []).append(relative)
    for paths in index.values():
        paths.sort()
    return index


def _class_folder_matches(relative: str, label: Optional[str]) -> bool:
    if label is None:
        return False
    parent = Path(relative).parent.name
    return parent in (label, label.replace(' ', '_'))


def locate_clip(clip: KineticsClip, video_index: Dict[str, List[str]]) -> Optional[str]:
    """The relative path of ``clip``'s video, or None if it was not downloaded.

    Looks for ``<id>_<start>_<end>.*``, then ``<id>.*``; among several files of that name,
    the one in the clip's class folder wins.
    """
    for stem in (clip.stem, clip.youtube_id):
        candidates = video_index.get(stem)
        if candidates:
            for relative in candidates:
                if _class_folder_matches(relative, clip.label):
                    return relative
            return candidates[0]
    return None


def match_clips(clips: Sequence[KineticsClip], video_index: Dict[str, List[str]],
                class_names: Sequence[str], source: PathLike = '<csv>'
                ) -> Tuple[List[Tuple[str, int]], List[KineticsClip]]:
    """(relative path, label) for every clip whose video exists, and the missing clips.

    A clip whose label is not in ``class_names`` is an error naming the CSV line; a test
    clip (no label) gets label -1.
    """
    label_of = {name: i for i, name in enumerate(class_names)}
    found, missing = [], []
    for clip in clips:
        if clip.label is None:
            label = -1
        elif clip.label in label_of:
            label = label_of[clip.label]
        else:
            raise AnnotationError(f'{source}:{clip.line}: class {clip.label!r} is not in the '
                                  f'class index ({len(class_names)} classes)')
        relative = locate_clip(clip, video_index)
        if relative is None:
            missing.append(clip)
        else:
            found.append((relative, label))
    return found, missing
