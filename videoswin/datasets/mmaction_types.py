"""``VideoDataset`` and ``RawframeDataset``: mmaction2's names, this package's reading.

Configs written the OpenMMLab way (the demo's, mmaction2's, most users') name
``type='VideoDataset'``. In the ``videoswin`` scope that name finds these classes
first. They take mmaction2's arguments (``ann_file``, ``data_prefix``, ``pipeline``,
``delimiter``, ``filename_tmpl``, ``with_offset``, ...) with its defaults, and add what
every dataset of this package does:

* list files whose paths hold spaces, as ``tools/data/build_kinetics_list.py`` writes
  them (``train/air drumming/x.mp4 3``), are read: the label comes from the end of the
  line (mmaction2's class splits on every space and fails);
* a damaged sample is handled by the bad-sample policy of :mod:`.bad_sample_policy` (replaced in
  training, named at test time) instead of ending the run;
* a malformed line is an error naming ``file:line``.

``type='mmaction.VideoDataset'`` still builds mmaction2's own class.
"""
from typing import Callable, Dict, List, Optional, Union

from videoswin.registry import DATASETS

from .list_dataset import ActionListDataset

Pipeline = List[Union[Dict, Callable]]


@DATASETS.register_module()
class VideoDataset(ActionListDataset):
    """Videos from a ``path label`` list (mmaction2's ``VideoDataset`` arguments).

    Args:
        ann_file: the list file.
        pipeline: the transforms.
        data_prefix: ``dict(video=root)``; list paths are relative to it.
        **kwargs: see :class:`~videoswin.datasets.list_dataset.ActionListDataset`.
    """

    def __init__(self, ann_file: str, pipeline: Pipeline,
                 data_prefix: Optional[Dict] = None, **kwargs) -> None:
        data_prefix = self.default_data_prefix if data_prefix is None else data_prefix
        if 'video' not in data_prefix or 'img' in data_prefix:
            raise ValueError(f"VideoDataset reads videos: data_prefix must be dict(video=ROOT), "
                             f'got {dict(data_prefix)} (frame folders: RawframeDataset)')
        super().__init__(ann_file, pipeline, data_prefix=data_prefix, **kwargs)


@DATASETS.register_module()
class RawframeDataset(ActionListDataset):
    """Frame folders from a ``frame_dir total_frames label`` list (mmaction2's
    ``RawframeDataset`` arguments; frames numbered from 1 by default).

    Args:
        ann_file: the list file.
        pipeline: the transforms.
        data_prefix: ``dict(img=root)``; list folders are relative to it.
        **kwargs: see :class:`~videoswin.datasets.list_dataset.ActionListDataset`.
    """

    default_data_prefix = dict(img='')

    def __init__(self, ann_file: str, pipeline: Pipeline,
                 data_prefix: Optional[Dict] = None, **kwargs) -> None:
        data_prefix = self.default_data_prefix if data_prefix is None else data_prefix
        if 'img' not in data_prefix:
            raise ValueError(f'RawframeDataset reads frame folders: data_prefix must be '
                             f'dict(img=ROOT), got {dict(data_prefix)} (videos: VideoDataset)')
        super().__init__(ann_file, pipeline, data_prefix=data_prefix, **kwargs)
