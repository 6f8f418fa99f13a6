"""A synthetic video dataset whose label is the direction of motion, and nothing else.

Each clip shows two bright textured squares drifting over a static, dark textured
background and wrapping around the frame edges; in a ``moving_down`` clip both
squares move down, in a ``moving_up`` clip both move up. All the rest (background,
textures, sizes, speeds, paths) is drawn from the same distribution for both
classes, and the random draws do not depend on the label: the clip of ``moving_up``
rendered from a seed is exactly the time-reverse of the ``moving_down`` clip
rendered from the same seed, also after encoding (the videos are lossless). A model
that ignores frame order (a bag of frames, a 2D model averaging its frames)
therefore sees the same distribution for both classes and stays at chance, while a
model that reads temporal order can reach 100 %.

Why two classes: a set of frames reveals a clip up to time reversal, so with more
directions (up/down/left/right) an order-blind model could still tell the axis and
score 50 % instead of the 25 % chance. The motion is vertical so that the usual
horizontal ``Flip`` augmentation keeps every label valid.

Two layouts are written (see ``make_synthetic_dataset``): a Kinetics-style one
(H.264 ``.mp4`` under ``train/`` and ``val/``) and an SSv2-style one (VP9 ``.webm``
in a single ``videos/`` folder), both with ``path label`` list files.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple, Union

import cv2
import numpy as np

from videoswin.utils.video_io import write_video

CLASSES: Tuple[str, ...] = ('moving_down', 'moving_up')
# Encoder quality 0 = lossless. With a lossy encoder the decoded pixels of a frame also
# depend on its place in the stream (key frame first, then predicted frames), which
# breaks the exact time reversal between the classes and gives an order-blind model
# something to read. Lossless, a decoded frame depends on that frame only.
LOSSLESS = 0
# label -> the label of its time-reversed clip
REVERSED_LABEL = {0: 1, 1: 0}


@dataclass(frozen=True)
class ClipSpec:
    """Everything that decides a clip's pixels except the direction.

    Args:
        num_frames, height, width: clip size.
        background: (H, W, 3) uint8 static background.
        sprites: one (s, s, 3) uint8 texture per moving square.
        paths: one (num_frames, 2) int array of top-left (y, x) per square, in
            the ``moving_down`` orientation (y grows with time), modulo (H, W):
            squares wrap around the frame edges.
    """
    num_frames: int
    height: int
    width: int
    background: np.ndarray
    sprites: Tuple[np.ndarray, ...]
    paths: Tuple[np.ndarray, ...]


def sample_clip_spec(rng: np.random.Generator,
                     num_frames: int = 24,
                     height: int = 64,
                     width: int = 80) -> ClipSpec:
    """Draw a random clip (textures, sizes, speeds, paths) with no label in it.

    Two squares move at 1.2-2 px/frame (plus a little sideways drift) and wrap
    around the frame edges, i.e. they live on a torus. Wrapping matters: with
    paths kept inside the frame, the position of a square at a given frame index
    is not uniform, and since a stride-2 clip of a video and of its time-reverse
    sit one frame apart, an order-blind model could read the label from how close
    the squares come to the top or bottom edge. On the torus, start positions are
    uniform, so every frame index shows uniformly placed squares.
    """
    background = _smooth_texture(rng, height, width)
    sprites, paths = [], []
    for _ in range(2):
        size = int(rng.integers(16, 25))
        start = rng.uniform((0, 0), (height, width))
        velocity = (rng.uniform(1.2, 2.0), rng.uniform(-0.3, 0.3))  # px/frame: down, sideways
        path = start + np.arange(num_frames)[:, None] * np.asarray(velocity)
        sprites.append(_sprite(rng, size))
        paths.append(np.rint(path).astype(np.int64) % (height, width))
    return ClipSpec(num_frames, height, width, background, tuple(sprites), tuple(paths))


def render_clip(spec: ClipSpec, label: int) -> np.ndarray:
    """Render ``spec`` moving in the direction of ``label``: (T, H, W, 3) uint8 RGB."""
    if label not in REVERSED_LABEL:
        raise ValueError(f'label must be one of {sorted(REVERSED_LABEL)}, got {label}')
    frames = np.repeat(spec.background[None], spec.num_frames, axis=0)
    for sprite, path in zip(spec.sprites, spec.paths):
        if CLASSES[label] == 'moving_up':
            path = path[::-1]
        offsets = np.arange(sprite.shape[0])
        for frame, (y, x) in zip(frames, path):
            rows, cols = (y + offsets) % spec.height, (x + offsets) % spec.width
            frame[np.ix_(rows, cols)] = sprite
    return frames


def make_clip(seed: int, label: int, num_frames: int = 24, height: int = 64,
              width: int = 80) -> np.ndarray:
    """The clip of ``label`` drawn from ``seed``; the two labels are time-reverses."""
    spec = sample_clip_spec(np.random.default_rng(seed), num_frames, height, width)
    return render_clip(spec, label)


def make_synthetic_dataset(out_dir: Union[str, Path],
                           seed: int = 0,
                           num_train: int = 100,
                           num_val: int = 40,
                           num_frames: int = 24,
                           size: Tuple[int, int] = (64, 80),
                           ssv2_style: bool = True) -> List[Path]:
    """Write the dataset and return the list files written.

    Layout (counts are per class)::

        out_dir/classes.txt                   one class name per line, label order
        out_dir/{train,val}/NNNNNN.mp4        H.264, Kinetics-style
        out_dir/{train,val}_list.txt          "NNNNNN.mp4 label" (relative to the split folder)
        out_dir/sthv2/videos/NNNNNN.webm      VP9, SSv2-style: one folder for every split
        out_dir/sthv2/{train,val}_list.txt    "NNNNNN.webm label" (relative to videos/)

    Args:
        out_dir: output folder (created).
        seed: master seed; the same seed gives the same videos.
        num_train, num_val: clips per class in each split.
        num_frames: frames per clip (25 fps).
        size: (height, width) of the frames.
        ssv2_style: also write the SSv2-style layout (as many clips, VP9).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'classes.txt').write_text(''.join(f'{name}\n' for name in CLASSES))
    layouts = [('mp4', 'h264', lambda split: out_dir / split, out_dir)]
    if ssv2_style:
        sthv2 = out_dir / 'sthv2'
        layouts.append(('webm', 'vp9', lambda split: sthv2 / 'videos', sthv2))
    # Seeds are disjoint across splits and layouts, so no clip is shared between them.
    rng = np.random.default_rng(seed)
    seeds = iter(rng.permutation(len(layouts) * len(CLASSES) * (num_train + num_val)).tolist())
    list_files = []
    for ext, codec, video_dir, list_dir in layouts:
        index = 0
        for split, count in (('train', num_train), ('val', num_val)):
            lines = []
            for label in rng.permutation(np.repeat(np.arange(len(CLASSES)), count)).tolist():
                name = f'{index:06d}.{ext}'
                clip = make_clip(next(seeds), label, num_frames, *size)
                write_video(video_dir(split) / name, clip, fps=25, codec=codec,
                            quality=LOSSLESS)
                lines.append(f'{name} {label}\n')
                index += 1
            list_file = list_dir / f'{split}_list.txt'
            list_file.write_text(''.join(lines))
            list_files.append(list_file)
    return list_files


def _smooth_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A dark, low-frequency colour texture (the static background)."""
    coarse = rng.uniform(20, 90, size=(max(height // 8, 2), max(width // 8, 2), 3))
    smooth = cv2.resize(coarse.astype(np.float32), (width, height),
                        interpolation=cv2.INTER_LINEAR)
    return np.clip(smooth, 0, 255).astype(np.uint8)


def _sprite(rng: np.random.Generator, size: int) -> np.ndarray:
    """A bright square of a random colour with a blocky two-tone texture.

    Bright on dark keeps the motion easy to see for a small model trained for a few
    minutes; the colours, like everything else, do not depend on the label.
    """
    blocks = rng.uniform(0, 1, size=((size + 3) // 4, (size + 3) // 4, 1))
    colour = rng.uniform(150, 255, size=(1, 1, 3))
    texture = np.where(blocks > 0.5, colour, 0.8 * colour)
    texture = np.kron(texture, np.ones((4, 4, 1)))[:size, :size]
    return texture.astype(np.uint8)
