"""Recognise the action in one video: print the top-k classes, optionally write the video
with them drawn on it.

The video goes through the config's test pipeline (all its clips and crops), exactly as in
``tools/test.py``. Any checkpoint ``videoswin.checkpoint.load_model_checkpoint`` reads works,
including the official Video Swin releases.

Example::

    python tools/demo.py configs/recognition/swin/CONFIG.py swin_t_k400.pth video.mp4 \\
        --label-map tools/data/kinetics/label_map_k400.txt --out-filename out.mp4
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from videoswin.utils.cli import add_cfg_options, exit_on_bad_checkpoint, read_config
from videoswin.utils.errors import run_cli

# output suffix -> codec of videoswin.utils.video_io.write_video
SUFFIX_CODECS = {'.mp4': 'h264', '.webm': 'vp9'}
COLORS = {'white': (255, 255, 255), 'black': (0, 0, 0), 'red': (255, 0, 0),
          'green': (0, 255, 0), 'blue': (0, 0, 255), 'yellow': (255, 255, 0)}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config (its test pipeline is used)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('video', help='video file')
    parser.add_argument('--label-map', required=True,
                        help='text file with one class name per line, in label order')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--topk', type=int, default=5, help='how many classes to print')
    parser.add_argument('--out-filename', default=None,
                        help='write the video with the labels drawn on it (.mp4 or .webm)')
    parser.add_argument('--fps', type=float, default=None,
                        help='frame rate of the output video (default: the input\'s)')
    parser.add_argument('--font-scale', type=float, default=None,
                        help='text size (default: scaled to the frame height)')
    parser.add_argument('--font-color', default='white',
                        choices=sorted(COLORS), help='text colour')
    parser.add_argument('--target-resolution', nargs=2, type=int, default=None,
                        metavar=('W', 'H'), help='resize the output video; -1 keeps the aspect')
    add_cfg_options(parser, 'model.cls_head.average_clips=score')
    return parser.parse_args(argv)


def target_size(height: int, width: int, target: Optional[Sequence[int]]) -> Tuple[int, int]:
    """(H, W) of the output frames; a -1 in ``target`` (W, H) keeps the aspect ratio."""
    if target is None:
        return height, width
    new_w, new_h = target
    if new_w <= 0 and new_h <= 0:
        raise ValueError('--target-resolution: at most one of W, H may be -1')
    if new_w <= 0:
        new_w = round(width * new_h / height)
    if new_h <= 0:
        new_h = round(height * new_w / width)
    return new_h, new_w


def fitting_font_scale(lines: List[str], height: int, width: int) -> float:
    """Text size that grows with the frame height and keeps every line inside the width."""
    import cv2

    scale = max(height / 480, 0.3)
    widest = max(cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
                 for line in lines)
    return min(scale, scale * (width - 16) / widest) if widest else scale


def draw_labels(frames: np.ndarray, lines: List[str], color: Tuple[int, int, int],
                font_scale: Optional[float] = None) -> np.ndarray:
    """Copy of (T, H, W, 3) RGB ``frames`` with ``lines`` written at the top left."""
    import cv2

    height, width = frames.shape[1:3]
    scale = font_scale or fitting_font_scale(lines, height, width)
    thickness = max(1, round(scale * 1.5))
    step = round(30 * scale) + 4
    outline = tuple(255 - c for c in color)
    out = np.ascontiguousarray(frames).copy()
    for frame in out:
        for row, text in enumerate(lines):
            origin = (8, step * (row + 1))
            cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, outline,
                        thickness + 2, cv2.LINE_AA)
            cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, color,
                        thickness, cv2.LINE_AA)
    return out


def write_labelled_video(video: str, out: str, lines: List[str], args: argparse.Namespace) -> None:
    import cv2
    import decord

    from videoswin.utils.video_io import write_video

    codec = SUFFIX_CODECS[Path(out).suffix.lower()]
    reader = decord.VideoReader(video)
    frames = reader.get_batch(list(range(len(reader)))).asnumpy()
    height, width = target_size(frames.shape[1], frames.shape[2], args.target_resolution)
    if (height, width) != frames.shape[1:3]:
        frames = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA)
                           for f in frames])
    frames = draw_labels(frames, lines, COLORS[args.font_color], args.font_scale)
    write_video(out, frames, fps=args.fps or reader.get_avg_fps(), codec=codec)


def main(argv=None) -> int:
    args = parse_args(argv)
    from videoswin.apis import inference_recognizer, init_recognizer, read_label_map
    from videoswin.utils import register_all_modules
    from videoswin.utils.config_check import check_config
    from videoswin.utils.setup_env import setup_env

    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    check_config(cfg, 'test', check_paths=False)
    setup_env(cfg)
    try:
        read_label_map(args.label_map)  # fail on a bad file before loading the model
        if not Path(args.video).is_file():
            raise FileNotFoundError(f'{args.video}: no such video file')
        if args.out_filename and Path(args.out_filename).suffix.lower() not in SUFFIX_CODECS:
            raise ValueError(f'--out-filename {args.out_filename}: choose a suffix among '
                             f'{sorted(SUFFIX_CODECS)}')
        model = exit_on_bad_checkpoint(
            lambda: init_recognizer(cfg, args.checkpoint, device=args.device))
        ranked = inference_recognizer(model, args.video, topk=args.topk, label_names=args.label_map)
    except (ValueError, FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    lines = [f'{entry.name}: {entry.score:.4f}' for entry in ranked]
    print(f'top-{len(ranked)} for {args.video}:')
    for rank, line in enumerate(lines, start=1):
        print(f'{rank}. {line}')
    if args.out_filename:
        write_labelled_video(args.video, args.out_filename, lines, args)
        print(f'wrote {args.out_filename}')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
