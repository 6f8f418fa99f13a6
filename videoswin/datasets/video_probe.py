"""Is a video (or a rawframe folder) readable? Used by check_videos.py and by test-time skipping.

``quick`` opens the file and decodes its first and last frames: that catches missing,
empty and garbage files and most truncated ones (a cut-off MP4 loses its index or its
last frames; a cut-off WebM just gets shorter, and still reads). ``full`` decodes every
frame, which also finds damage in the middle.
"""
import os
from pathlib import Path
from typing import Optional, Sequence, Union

PathLike = Union[str, Path]
BACKENDS = ('pyav', 'decord')


def probe_video(path: PathLike, backend: str = 'pyav', full: bool = False) -> Optional[str]:
    """None if the video reads, else the reason (one line).

    Args:
        path: the video file.
        backend: 'pyav' (the reader of ``VideoInit``/``VideoDecode``) or 'decord'
            (``DecordInit``/``DecordDecode``); they fail on slightly different files.
        full: decode every frame instead of the first and last.
    """
    path = str(path)
    if not os.path.isfile(path):
        return 'file not found'
    if os.path.getsize(path) == 0:
        return 'empty file (0 bytes)'
    try:
        if backend == 'pyav':
            _probe_pyav(path, full)
        elif backend == 'decord':
            _probe_decord(path, full)
        else:
            raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    except ValueError:
        raise
    except Exception as err:  # every decoder failure is an answer, not a crash
        return one_line(err)
    return None


def one_line(err: BaseException) -> str:
    """``Type: first line of the message`` (decord's messages carry whole C++ traces)."""
    lines = str(getattr(err, 'reason', err)).strip().splitlines()
    return f'{type(err).__name__}: {lines[0]}' if lines else type(err).__name__


def _probe_pyav(path: str, full: bool) -> None:
    from .transforms.clip_reader import ClipReader

    with ClipReader(path) as reader:
        last = reader.total_frames - 1
        indices = range(reader.total_frames) if full else sorted({0, last})
        reader.read(indices, postprocess=lambda frame: frame[:1, :1])


def _probe_decord(path: str, full: bool) -> None:
    import decord

    reader = decord.VideoReader(path, num_threads=1)
    total = len(reader)
    if total == 0:
        raise RuntimeError('no frames')
    if full:
        for start in range(0, total, 64):
            reader.get_batch(list(range(start, min(start + 64, total)))).asnumpy()
    else:
        reader.get_batch(sorted({0, total - 1})).asnumpy()


def probe_rawframes(frame_dir: PathLike, total_frames: int, filename_tmpl: str = 'img_{:05}.jpg',
                    start_index: int = 1, full: bool = False) -> Optional[str]:
    """None if the frames a rawframe sample lists are there (and decode), else the reason."""
    import mmcv

    frame_dir = Path(frame_dir)
    if not frame_dir.is_dir():
        return 'frame folder not found'
    indices: Sequence[int] = (range(start_index, start_index + total_frames) if full
                              else sorted({start_index, start_index + total_frames - 1}))
    for index in indices:
        frame = frame_dir / filename_tmpl.format(index)
        if not frame.is_file():
            return f'frame {frame.name} not found'
        if full and mmcv.imread(str(frame)) is None:
            return f'frame {frame.name} cannot be decoded'
    return None
