"""Reading and writing the standard annotation list files, with errors that name file:line.

Formats (mmaction2's, whitespace separated, one sample per line):

* videos:    ``relative/path.mp4 label``  (``relative/path.mp4`` alone: unlabelled, -1)
* rawframes: ``frame_dir total_frames label``  (label optional, as above)
* multi-label (``multi_label=True``): several labels after the path / frame count.

Paths may contain spaces (Kinetics class folders such as ``air drumming/``): they are
written as they are, unquoted, and the label and frame count are read from the *end* of
the line, so ``train/air drumming/x.mp4 3`` is the path ``train/air drumming/x.mp4``
with label 3. Multi-label lines cannot tell a space in a path from a separator, so
there paths must not contain spaces (or use another ``delimiter``).

Class-index files hold one class name per line, in label order.
"""
from itertools import islice
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

PathLike = Union[str, Path]
UNLABELLED = -1
# the video list format, as the list builders' --help and docs/datasets.md state it
VIDEO_LIST_FORMAT = """\
list file format: one video per line, "<path> <label>", the path relative to the
video root, written as it is on disk (no quotes, no escapes), the label last:
    train/air drumming/b0c1d2e3f4g_000010_000020.mp4 3
A path may hold spaces: the video datasets of the videoswin scope (KineticsDataset,
SthV2Dataset, VideoDataset) read the label from the end of the line and the path as
everything before it (RawframeDataset likewise reads "<frame folder> <frames> <label>").
Unlabelled lists (test splits) hold the path alone (label -1). Class index: one class
name per line, in label order."""


class AnnotationError(ValueError):
    """A malformed annotation: the message names the file and line (or entry)."""


def _parse_label(token: str, where: str, num_classes: Optional[int]) -> int:
    try:
        label = int(token)
    except ValueError:
        raise AnnotationError(f'{where}: label {token!r} is not an integer') from None
    if label == UNLABELLED:
        return label
    if label < 0:
        raise AnnotationError(f'{where}: label {label} is negative '
                              '(only -1, "no label", is allowed)')
    if num_classes is not None and label >= num_classes:
        raise AnnotationError(f'{where}: label {label} is outside the {num_classes} classes '
                              f'(0..{num_classes - 1})')
    return label


def _lines(path: PathLike, limit: Optional[int] = None) -> Iterable:
    """(line number, stripped text) of the non-blank lines of ``path`` (the first
    ``limit`` of them, if given)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'annotation file {path} does not exist')
    with open(path, encoding='utf-8') as f:
        numbered = ((number, line.strip()) for number, line in enumerate(f, start=1))
        yield from islice(((n, line) for n, line in numbered if line), limit)


def _fields(line: str, delimiter: Optional[str], max_split: int = -1) -> List[str]:
    """The fields of ``line`` counted from its end; ``delimiter`` None or ' ': whitespace."""
    if delimiter is None or delimiter == ' ':
        return line.rsplit(None, max_split)
    return [field.strip() for field in line.rsplit(delimiter, max_split)]


def parse_video_list(path: PathLike, num_classes: Optional[int] = None,
                     multi_label: bool = False, delimiter: Optional[str] = None,
                     limit: Optional[int] = None) -> List[Dict]:
    """``[{'filename': relative path, 'label': int or [int]}]`` from a video list file.

    ``delimiter`` separates the fields (default: whitespace; mmaction2's ``' '`` means
    the same); the path is everything before the label, spaces included. ``limit``:
    read only the first samples.
    """
    samples = []
    for number, line in _lines(path, limit):
        where = f'{path}:{number}'
        if multi_label:
            tokens = _fields(line, delimiter)
            labels = [_parse_label(t, where, num_classes) for t in tokens[1:]]
            samples.append(dict(filename=tokens[0], label=labels))
            continue
        parts = _fields(line, delimiter, 1)
        if len(parts) == 1:
            samples.append(dict(filename=parts[0], label=UNLABELLED))
            continue
        filename, token = parts
        if not _is_int(token):
            raise AnnotationError(f'{where}: expected "path label", got {line!r} (the last '
                                  'field must be an integer class index)')
        samples.append(dict(filename=filename, label=_parse_label(token, where, num_classes)))
    return samples


def parse_rawframe_list(path: PathLike, num_classes: Optional[int] = None,
                        multi_label: bool = False, with_offset: bool = False,
                        limit: Optional[int] = None) -> List[Dict]:
    """``[{'frame_dir', 'total_frames', 'label'}]`` from a rawframe list file.

    ``with_offset`` (mmaction2's clips of long videos): ``frame_dir offset total_frames
    label`` lines; each sample also gets ``offset``. ``limit``: the first samples only.
    """
    if with_offset:
        return _parse_offset_list(path, num_classes, limit)
    samples = []
    for number, line in _lines(path, limit):
        where = f'{path}:{number}'
        if multi_label:
            tokens = line.split()
            if len(tokens) < 2:
                raise AnnotationError(f'{where}: expected "frame_dir total_frames label...", '
                                      f'got {line!r}')
            frame_dir, count, label_tokens = tokens[0], tokens[1], tokens[2:]
            label = [_parse_label(t, where, num_classes) for t in label_tokens]
        else:
            tokens = line.rsplit(None, 2)
            if len(tokens) == 3 and _is_int(tokens[1]) and _is_int(tokens[2]):
                frame_dir, count, label_token = tokens
                label = _parse_label(label_token, where, num_classes)
            elif len(tokens) >= 2 and _is_int(tokens[-1]):
                frame_dir, count = line.rsplit(None, 1)  # no label column
                label = UNLABELLED
            else:
                raise AnnotationError(f'{where}: expected "frame_dir total_frames label", '
                                      f'got {line!r}')
        if not _is_int(count) or int(count) < 1:
            raise AnnotationError(f'{where}: total_frames {count!r} is not a positive integer')
        samples.append(dict(frame_dir=frame_dir, total_frames=int(count), label=label))
    return samples


def _parse_offset_list(path: PathLike, num_classes: Optional[int],
                       limit: Optional[int]) -> List[Dict]:
    samples = []
    for number, line in _lines(path, limit):
        where = f'{path}:{number}'
        tokens = line.rsplit(None, 3)
        if len(tokens) == 4 and all(_is_int(t) for t in tokens[1:]):
            frame_dir, offset, count, label_token = tokens
            label = _parse_label(label_token, where, num_classes)
        else:
            tokens = line.rsplit(None, 2)
            if len(tokens) != 3 or not all(_is_int(t) for t in tokens[1:]):
                raise AnnotationError(f'{where}: expected "frame_dir offset total_frames '
                                      f'label", got {line!r}')
            (frame_dir, offset, count), label = tokens, UNLABELLED
        if int(count) < 1 or int(offset) < 0:
            raise AnnotationError(f'{where}: offset {offset} / total_frames {count} must be '
                                  '>= 0 / >= 1')
        samples.append(dict(frame_dir=frame_dir, offset=int(offset), total_frames=int(count),
                            label=label))
    return samples


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def write_video_list(path: PathLike, samples: Iterable[Sequence]) -> int:
    """Write ``(relative_path, label)`` pairs (label None: unlabelled); returns the count."""
    return _write(path, (f'{p} {label}' if label is not None else str(p) for p, label in samples))


def write_rawframe_list(path: PathLike, samples: Iterable[Sequence]) -> int:
    """Write ``(frame_dir, total_frames, label)`` triples; returns the count."""
    return _write(path, (f'{d} {n} {label}' if label is not None else f'{d} {n}'
                         for d, n, label in samples))


def _write(path: PathLike, lines: Iterable[str]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, 'w', encoding='utf-8') as f:
        for line in lines:
            f.write(line + '\n')
            count += 1
    return count


def read_class_names(path: PathLike) -> List[str]:
    """Class names in label order from a class-index file (one name per line)."""
    names, seen = [], {}
    for number, name in _lines(path):
        if name in seen:
            raise AnnotationError(f'{path}:{number}: class {name!r} is already on line '
                                  f'{seen[name]}')
        seen[name] = number
        names.append(name)
    return names


def write_class_names(path: PathLike, names: Sequence[str]) -> None:
    """Write a class-index file: name ``i`` on line ``i + 1``."""
    _write(path, names)
