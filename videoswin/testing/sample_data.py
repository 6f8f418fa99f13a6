"""Small real datasets in the official Kinetics and SSv2 formats, with damaged files on demand.

Tests, docs and benchmarks need the genuine article: official CSV/JSON annotations and
encoded videos (H.264 or MPEG-4 ``.mp4``, VP9 ``.webm``) laid out as the downloaders do.
Each clip shows a bright square moving in a class-specific direction over a textured
background, so the files decode to meaningful, distinct content.

Run as a module to write one from the shell (VP9 must be encoded before decord is
imported in a process; :func:`make_sthv2` takes care of that itself):
``python -m videoswin.testing.sample_data {kinetics,sthv2} OUT_DIR``.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from videoswin.utils.video_io import write_video

PathLike = Union[str, Path]
DAMAGE_KINDS = ('zero', 'truncated', 'garbage', 'missing', 'corrupt_tail')
SSV2_TEMPLATES = ('Pushing [something] from left to right',
                  'Pushing [something] from right to left',
                  'Moving [something] up', 'Moving [something] down')
DIRECTIONS = ((0, 1), (0, -1), (-1, 0), (1, 0), (1, 1), (-1, -1))  # (dy, dx) per class


def moving_square(num_frames: int, height: int, width: int, direction: Tuple[int, int],
                  seed: int = 0, grayscale: bool = False) -> np.ndarray:
    """(T, H, W, 3) uint8 (or (T, H, W) grayscale): a square drifting along ``direction``."""
    rng = np.random.default_rng(seed)
    background = rng.integers(20, 90, size=(height, width, 3), dtype=np.uint8)
    size = max(4, min(height, width) // 4)
    y0 = rng.integers(0, height - size + 1)
    x0 = rng.integers(0, width - size + 1)
    colour = rng.integers(160, 256, size=3, dtype=np.uint8)
    frames = np.repeat(background[None], num_frames, axis=0)
    for t in range(num_frames):
        y = int(np.clip(y0 + direction[0] * 2 * t, 0, height - size))
        x = int(np.clip(x0 + direction[1] * 2 * t, 0, width - size))
        frames[t, y:y + size, x:x + size] = colour
    return frames.mean(axis=-1).astype(np.uint8) if grayscale else frames


def natural_scene(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: a slow pan over a smooth random texture with three moving discs.

    Camera motion over texture plus moving objects is what x264 meets in real footage: with
    its default settings it codes most frames as B-frames here, as it does on Kinetics
    clips (per-pixel noise, by contrast, makes it drop B-frames).
    """
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 8 + 40, width // 8 + 80, 3), dtype=np.uint8)
    texture = cv2.GaussianBlur(cv2.resize(coarse, (coarse.shape[1] * 8, coarse.shape[0] * 8),
                                          interpolation=cv2.INTER_CUBIC), (0, 0), 3)
    radius = max(height // 10, 6)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        x = int(t * 1.5) % (texture.shape[1] - width)
        y = int(20 + 15 * np.sin(t / 20))
        frame = texture[y:y + height, x:x + width].copy()
        for k in range(3):
            centre = (int((width * (0.2 + 0.3 * k) + t * (3 + k)) % width),
                      int(height * (0.3 + 0.2 * k) + height * 0.1 * np.sin(t / (7 + k))))
            cv2.circle(frame, centre, radius, (255 - 80 * k, 60 + 80 * k, 40), -1)
        frames[t] = frame
    return frames


def encode_h264(path: PathLike, frames: np.ndarray, fps: float = 25,
                options: Optional[Dict[str, str]] = None, pix_fmt: str = 'yuv420p',
                timestamps_ms: Optional[Sequence[int]] = None) -> Path:
    """H.264 the way ``write_video`` does not: with x264 options (``{'preset': 'medium',
    'crf': '23'}`` is ffmpeg's default, with B-frames on natural content), ``yuv444p``
    (odd frame sizes allowed) and explicit time stamps (a variable frame rate).

    Args:
        frames: (T, H, W, 3) uint8 RGB.
        timestamps_ms: presentation time of each frame in milliseconds.
    """
    import av
    from fractions import Fraction

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode='w', format='mp4') as container:
        stream = container.add_stream('libx264', rate=int(round(fps)))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        stream.options = dict(options or {'preset': 'veryfast', 'crf': '18'})
        if timestamps_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for t, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format='rgb24')
            if timestamps_ms is not None:
                video_frame.pts = int(timestamps_ms[t])
                video_frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def damage(path: PathLike, kind: str, seed: int = 0) -> None:
    """Damage a video file in place: 'zero' bytes, 'truncated' to 40 %, 'garbage' bytes,
    'missing' (deleted), or 'corrupt_tail' (MP4 only: the second half of the coded
    frames overwritten with zeros; the file opens and its first frames decode, the
    later ones fail: damage a quick check of the first frame does not see)."""
    path = Path(path)
    if kind == 'missing':
        path.unlink()
    elif kind == 'zero':
        path.write_bytes(b'')
    elif kind == 'truncated':
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * 0.4)])
    elif kind == 'garbage':
        size = max(path.stat().st_size, 2048)
        noise = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
        path.write_bytes(noise.tobytes())
    elif kind == 'corrupt_tail':
        data = bytearray(path.read_bytes())
        begin, end = _mp4_box(data, b'mdat', path)
        middle = (begin + end) // 2
        data[middle:end] = bytes(end - middle)
        path.write_bytes(bytes(data))
    else:
        raise ValueError(f'damage kind must be one of {DAMAGE_KINDS}, got {kind!r}')


def _mp4_box(data: bytes, name: bytes, path: Path) -> Tuple[int, int]:
    """(start, end) of the payload of the top-level MP4 box ``name``."""
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], 'big')
        header = 8
        if size == 1:  # 64-bit size follows the type
            size, header = int.from_bytes(data[offset + 8:offset + 16], 'big'), 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - offset
        if data[offset + 4:offset + 8] == name:
            return offset + header, offset + size
        if size < header:
            break
        offset += size
    raise ValueError(f'{path}: no {name.decode()} box; corrupt_tail needs an MP4 file')


def make_kinetics(root: PathLike,
                  classes: Sequence[str] = ('air drumming', 'abseiling', 'zumba'),
                  clips_per_class: Dict[str, int] = None,
                  layout: str = 'class_folders',
                  codec: str = 'h264',
                  num_frames: int = 24,
                  size: Tuple[int, int] = (48, 64),
                  damaged: Dict[str, str] = None,
                  not_downloaded: int = 0) -> Dict[str, object]:
    """Write ``root/annotations/{train,val}.csv`` and the videos under ``root/videos``.

    Args:
        root: output folder.
        classes: class names (deliberately unsorted, with a space, to exercise the index).
        clips_per_class: clips per class for each split (default train 2, val 1).
        layout: 'class_folders' (``<split>/<class>/<id>_<start>_<end>.mp4``) or 'flat'
            (``<split>/<id>_<start>_<end>.mp4``).
        codec: 'h264' or 'mpeg4'.
        num_frames, size: clip length and (height, width).
        damaged: youtube_id -> damage kind, applied after writing.
        not_downloaded: this many extra CSV rows per split without any video file.

    Returns:
        dict with 'csv' (split -> path), 'video_root', 'classes' (sorted) and
        'clips' (split -> [(youtube_id, stem, relative path, class)]).
    """
    root = Path(root)
    clips_per_class = clips_per_class or {'train': 2, 'val': 1}
    damaged = damaged or {}
    out = {'csv': {}, 'video_root': root / 'videos', 'classes': sorted(classes), 'clips': {}}
    for split, count in clips_per_class.items():
        rows, clips = [], []
        for c, name in enumerate(classes):
            for k in range(count):
                youtube_id = f'{split[:2]}{c}x{k}-{name[:3].replace(" ", "_")}'
                start = 10 * k + 3
                stem = f'{youtube_id}_{start:06d}_{start + 10:06d}'
                folder = Path(split, name) if layout == 'class_folders' else Path(split)
                relative = (folder / f'{stem}.mp4').as_posix()
                direction = DIRECTIONS[c % len(DIRECTIONS)]
                frames = moving_square(num_frames, size[0], size[1], direction,
                                       seed=1000 * len(rows) + 7 * c + k + len(split))
                write_video(out['video_root'] / relative, frames, fps=25, codec=codec)
                if youtube_id in damaged:
                    damage(out['video_root'] / relative, damaged[youtube_id], seed=c * 10 + k)
                rows.append((name, youtube_id, start, start + 10, split))
                clips.append((youtube_id, stem, relative, name))
        for k in range(not_downloaded):
            rows.append((classes[k % len(classes)], f'gone{split}{k}', 0, 10, split))
        csv_path = root / 'annotations' / f'{split}.csv'
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with open(csv_path, 'w', newline='', encoding='utf-8') as f:
            writer = csv.writer(f)
            writer.writerow(['label', 'youtube_id', 'time_start', 'time_end', 'split'])
            writer.writerows(rows)
        out['csv'][split] = csv_path
        out['clips'][split] = clips
    return out


def make_sthv2(root: PathLike,
               templates: Sequence[str] = SSV2_TEMPLATES,
               videos_per_class: Dict[str, int] = None,
               num_frames: int = 20,
               size: Tuple[int, int] = (48, 64),
               damaged: Optional[Dict[str, str]] = None) -> Dict[str, object]:
    """Write the SSv2 JSONs under ``root/annotations`` and ``<id>.webm`` (VP9) under
    ``root/videos``.

    Returns:
        dict with 'labels', 'train', 'validation', 'test' (JSON paths), 'video_root',
        'classes' (names in index order) and 'ids' (split -> [(id, class index)]).
    """
    root = Path(root)
    if 'decord' in sys.modules:  # decord's FFmpeg breaks PyAV's VP9 encoder in this process
        spec = json.dumps(dict(templates=list(templates), videos_per_class=videos_per_class,
                               num_frames=num_frames, size=list(size), damaged=damaged))
        result = subprocess.run([sys.executable, '-m', 'videoswin.testing.sample_data', 'sthv2',
                                 str(root), '--spec', spec], capture_output=True, text=True,
                                env={**os.environ, 'PYTHONPATH': str(Path(__file__).parents[2])})
        if result.returncode != 0:
            raise RuntimeError(f'writing the SSv2 sample data failed:\n{result.stderr[-2000:]}')
        return _with_paths(json.loads(result.stdout.strip().splitlines()[-1]))
    videos_per_class = videos_per_class or {'train': 2, 'validation': 1, 'test': 1}
    damaged = damaged or {}
    classes = [t.replace('[', '').replace(']', '') for t in templates]
    ann = root / 'annotations'
    ann.mkdir(parents=True, exist_ok=True)
    labels = {name: str(i) for i, name in enumerate(classes)}
    (ann / 'something-something-v2-labels.json').write_text(json.dumps(labels, indent=1))
    out = {'labels': ann / 'something-something-v2-labels.json', 'video_root': root / 'videos',
           'classes': classes, 'ids': {}}
    next_id = 1000
    for split, count in videos_per_class.items():
        entries, ids = [], []
        for c, template in enumerate(templates):
            for k in range(count):
                video_id = str(next_id)
                next_id += 1
                direction = DIRECTIONS[c % len(DIRECTIONS)]
                frames = moving_square(num_frames, size[0], size[1], direction, seed=next_id)
                path = write_video(out['video_root'] / f'{video_id}.webm', frames, fps=12,
                                   codec='vp9')
                if video_id in damaged:
                    damage(path, damaged[video_id], seed=next_id)
                entry = {'id': video_id}
                if split != 'test':
                    entry.update(label=template.replace('[something]', f'object {k}'),
                                 template=template, placeholders=[f'object {k}'])
                entries.append(entry)
                ids.append((video_id, c if split != 'test' else -1))
        path = ann / f'something-something-v2-{split}.json'
        path.write_text(json.dumps(entries))
        out[split] = path
        out['ids'][split] = ids
    return out


def _with_paths(obj: dict) -> dict:
    """Undo the JSON round trip of :func:`make_sthv2`'s result (paths came back as str)."""
    return {k: Path(v) if isinstance(v, str) else v for k, v in obj.items()}


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dataset', choices=['kinetics', 'sthv2'])
    parser.add_argument('out_dir')
    parser.add_argument('--spec', default='{}', help='JSON of keyword arguments')
    args = parser.parse_args(argv)
    spec = json.loads(args.spec)
    if 'size' in spec and spec['size'] is not None:
        spec['size'] = tuple(spec['size'])
    spec = {k: v for k, v in spec.items() if v is not None}
    maker = make_kinetics if args.dataset == 'kinetics' else make_sthv2
    result = maker(args.out_dir, **spec)
    print(json.dumps(result, default=str))


if __name__ == '__main__':
    main()
