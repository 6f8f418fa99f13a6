"""The official Something-Something V2 annotation JSONs.

* ``something-something-v2-labels.json``: ``{"Approaching something with your camera": "0", ...}``
  (174 classes; the value is the class index, as a string).
* ``-train.json`` / ``-validation.json``: ``[{"id": "78687", "label": "...", "template":
  "Holding [something] next to [something]", "placeholders": [...]}, ...]``. The class is the
  template with its square brackets removed ("Holding something next to something").
* ``-test.json``: ``[{"id": "1420"}, ...]`` -- no labels.

Videos are ``<id>.webm`` in one folder.
"""
import json
from pathlib import Path
from typing import Dict, List, Tuple, Union

from .annotations import AnnotationError

PathLike = Union[str, Path]
SSV2_NUM_CLASSES = 174
LABELS_FILE_NAME = 'something-something-v2-labels.json'


def template_to_class(template: str) -> str:
    """The class name of a template: its ``[something]`` brackets stripped."""
    return template.replace('[', '').replace(']', '')


def _load_json(path: PathLike):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'annotation file {path} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise AnnotationError(f'{path}:{err.lineno}: not valid JSON ({err.msg})') from None


def read_sthv2_labels(path: PathLike) -> Dict[str, int]:
    """Class name -> index from the labels JSON; the indices must be exactly 0..n-1."""
    data = _load_json(path)
    if not isinstance(data, dict):
        raise AnnotationError(f'{path}: expected an object {{"class name": "index"}}, '
                              f'got a {type(data).__name__}')
    labels = {}
    for name, value in data.items():
        try:
            labels[name] = int(value)
        except (TypeError, ValueError):
            raise AnnotationError(f'{path}: class {name!r} has index {value!r}, '
                                  'not an integer') from None
    if sorted(labels.values()) != list(range(len(labels))):
        raise AnnotationError(f'{path}: class indices are not exactly 0..{len(labels) - 1}')
    return labels


def class_names_in_order(labels: Dict[str, int]) -> List[str]:
    """The class names sorted by index (the class-index file's lines)."""
    return [name for name, _ in sorted(labels.items(), key=lambda item: item[1])]


def read_sthv2_split(path: PathLike, labels: Dict[str, int]) -> List[Tuple[str, int]]:
    """(video id, label) for each entry of a split JSON; label -1 for the test split."""
    data = _load_json(path)
    if not isinstance(data, list):
        raise AnnotationError(f'{path}: expected a list of {{"id", "template", ...}} entries')
    samples = []
    for number, entry in enumerate(data):
        where = f'{path}: entry {number}'
        if not isinstance(entry, dict) or 'id' not in entry:
            raise AnnotationError(f'{where}: expected an object with an "id", got {entry!r:.80}')
        video_id = str(entry['id']).strip()
        if 'template' not in entry:
            samples.append((video_id, -1))
            continue
        name = template_to_class(str(entry['template']))
        if name not in labels:
            raise AnnotationError(f'{where} (id {video_id}): template {entry["template"]!r} '
                                  f'gives class {name!r}, which is not in the labels file')
        samples.append((video_id, labels[name]))
    return samples
