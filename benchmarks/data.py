"""Clips/s of one loader worker for the K400 training pipeline: ours against mmaction2's.

    python benchmarks/data.py [--quick] [--rounds 5] [--clips 8] [--video-dir DIR] [--out r.json]
        [--sets 340x256 568x320 ...]

The pipeline is the Video Swin K400 recipe: 32x2x1 sampling, short side 256,
RandomResizedCrop -> 224x224, flip. It runs on generated 300-frame, 30 fps videos of
340x256 (Kinetics as the authors pre-resized it), 568x320 (a short-side-320 re-encode of
16:9 footage) and 1280x720 (raw downloads), encoded as ffmpeg encodes Kinetics clips by
default (x264 preset medium, crf 23, B-frames allowed); the 720p set is also encoded
without B-frames, the case where our decoder can skip least.

Two rates per row: clips/s **per worker** (clips over the wall time of the one process
that runs the pipeline, as a loader worker does) and clips/s **per core** (clips over
the CPU time of that process, all its threads together). They agree for the
single-threaded rows; a row with decoder threads gains per worker, not per core.

Rows (all single-threaded, the same clips, the same random draws):

* ``mmaction2``: DecordInit, SampleFrames, DecordDecode, Resize(-1, 256),
  RandomResizedCrop, Resize(224, 224, keep_ratio=False), Flip, FormatShape, PackActionInputs;
* ``videoswin``: VideoInit, SampleFrames, VideoDecode(short_side=256), then the same.
  Its clips are checked to be bit-identical to the mmaction2 row's;
* ``videoswin 2thr``: the same with ``VideoInit(num_threads=2)`` (FFmpeg frame
  threading; the same clips, checked too);
* ``decord-resize``: mmaction2's, with decord resizing while decoding
  (``VideoReader(width=, height=)``) instead of Resize(-1, 256). Shown because it is the
  obvious alternative: its frames differ from the reference (FFmpeg's scaler, not cv2's
  bilinear) and it needs the frame size before opening (given for free here).

Rounds interleave the rows (in alternating order) so that a busy, shared machine slows
them alike; the table shows the median over rounds of clips/s by wall time and by CPU
time of the process, and each row's ratio to mmaction2's.
"""
import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmcv.transforms import BaseTransform, Compose  # noqa: E402

from videoswin.testing.sample_data import encode_h264, natural_scene  # noqa: E402
from videoswin.utils import register_all_modules  # noqa: E402

SHORT_SIDE, CROP = 256, 224
SAMPLE = dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=1)
AUGMENT = [dict(type='RandomResizedCrop'),
           dict(type='Resize', scale=(CROP, CROP), keep_ratio=False),
           dict(type='Flip', flip_ratio=0.5),
           dict(type='FormatShape', input_format='NCTHW'),
           dict(type='PackActionInputs')]
VIDEO_SETS = {  # name -> (width, height, x264 options)
    '340x256': (340, 256, {'preset': 'medium', 'crf': '23'}),
    '568x320': (568, 320, {'preset': 'medium', 'crf': '23'}),
    '1280x720': (1280, 720, {'preset': 'medium', 'crf': '23'}),
    '1280x720 no B-frames': (1280, 720, {'preset': 'medium', 'crf': '23', 'bf': '0',
                                         'x264-params': 'bframes=0'}),
}


class DecordResizedDecode(BaseTransform):
    """DecordDecode from a reader that scales to the short side while decoding."""

    def __init__(self, sizes):
        self.sizes = sizes  # filename -> (width, height) of the video

    def transform(self, results):
        import decord

        width, height = self.sizes[results['filename']]
        scale = SHORT_SIDE / min(width, height)
        new_w, new_h = int(width * scale + 0.5), int(height * scale + 0.5)
        reader = decord.VideoReader(results['filename'], width=new_w, height=new_h, num_threads=1)
        imgs = list(reader.get_batch(results['frame_inds']).asnumpy())
        results.update(imgs=imgs, original_shape=(height, width), img_shape=imgs[0].shape[:2],
                       video_reader=None)
        return results


def pipelines(sizes):
    return {
        'mmaction2': Compose([dict(type='DecordInit'), SAMPLE, dict(type='DecordDecode'),
                              dict(type='Resize', scale=(-1, SHORT_SIDE))] + AUGMENT),
        'videoswin': Compose([dict(type='VideoInit'), SAMPLE,
                              dict(type='VideoDecode', short_side=SHORT_SIDE)] + AUGMENT),
        'videoswin 2thr': Compose([dict(type='VideoInit', num_threads=2), SAMPLE,
                                   dict(type='VideoDecode', short_side=SHORT_SIDE)] + AUGMENT),
        'decord-resize': Compose([dict(type='DecordInit'), SAMPLE, DecordResizedDecode(sizes)]
                                 + AUGMENT),
    }


def make_videos(video_dir: Path, name: str, count: int, num_frames: int):
    width, height, options = VIDEO_SETS[name]
    folder = video_dir / name.replace(' ', '_')
    paths = []
    for k in range(count):
        path = folder / f'{k}_{num_frames}f.mp4'
        if not path.is_file():
            print(f'  encoding {path} ...', flush=True)
            encode_h264(path, natural_scene(num_frames, height, width, seed=k), fps=30,
                        options=options)
        paths.append(str(path))
    return paths, (width, height)


def seed_everything(seed: int) -> None:
    """The transforms draw from numpy (SampleFrames, Flip) and Python's random (crop offsets)."""
    np.random.seed(seed)
    random.seed(seed)


def run(pipeline, videos, seeds):
    """Wall and CPU seconds for one clip per seed (video chosen by the seed)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for seed in seeds:
        seed_everything(seed)
        pipeline(dict(filename=videos[seed % len(videos)], label=0, start_index=0, modality='RGB'))
    return time.perf_counter() - wall, time.process_time() - cpu


def identical_outputs(rows, videos, seeds):
    """Do the videoswin clips equal mmaction2's for these seeds (and how far is decord-resize)?"""
    same, resize_diff = True, []
    for seed in seeds:
        outs = {}
        for name in rows:
            seed_everything(seed)
            outs[name] = rows[name](dict(filename=videos[seed % len(videos)], label=0,
                                         start_index=0, modality='RGB'))['inputs']
        same &= torch.equal(outs['mmaction2'], outs['videoswin'])
        same &= torch.equal(outs['mmaction2'], outs['videoswin 2thr'])
        diff = outs['mmaction2'].float() - outs['decord-resize'].float()
        resize_diff.append(diff.abs().mean().item())
    return same, float(np.mean(resize_diff))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='1 short video per set, 2 rounds')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--clips', type=int, default=8, help='clips per pipeline per round')
    parser.add_argument('--videos', type=int, default=3, help='videos per set')
    parser.add_argument('--video-dir', default='work_dirs/benchmark_data_videos')
    parser.add_argument('--out', help='also write the results as JSON')
    parser.add_argument('--sets', nargs='+', choices=list(VIDEO_SETS),
                        default=list(VIDEO_SETS), metavar='SET',
                        help=f'video sets to run (default: all: {list(VIDEO_SETS)})')
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.clips, args.videos = 2, 3, 1
    num_frames = 150 if args.quick else 300
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    register_all_modules()

    results = {}
    for set_name in args.sets:
        videos, size = make_videos(Path(args.video_dir), set_name, args.videos, num_frames)
        rows = pipelines({v: size for v in videos})
        same, resize_diff = identical_outputs(rows, videos, range(1000, 1003))
        rates = {name: {'wall': [], 'cpu': []} for name in rows}
        for r in range(args.rounds):
            seeds = range(r * args.clips, (r + 1) * args.clips)
            order = list(rows) if r % 2 == 0 else list(rows)[::-1]
            for name in order:
                wall, cpu = run(rows[name], videos, seeds)
                rates[name]['wall'].append(args.clips / wall)
                rates[name]['cpu'].append(args.clips / cpu)
        medians = {name: {k: statistics.median(v) for k, v in r.items()}
                   for name, r in rates.items()}
        results[set_name] = dict(medians=medians, identical_to_mmaction2=same,
                                 decord_resize_mean_abs_diff=resize_diff)
        print(f'\n{set_name}, {num_frames} frames/video, {len(videos)} videos, '
              f'{args.rounds} rounds x {args.clips} clips, 1 worker')
        print(f'  {"pipeline":<16}{"clips/s per worker":>19}{"per core":>10}'
              f'{"x mmaction2 (worker / core)":>29}')
        base = medians['mmaction2']
        for name, m in medians.items():
            print(f'  {name:<16}{m["wall"]:>19.2f}{m["cpu"]:>10.2f}'
                  f'{m["wall"] / base["wall"]:>21.2f} / {m["cpu"] / base["cpu"]:.2f}')
        print(f'  videoswin clips identical to mmaction2\'s: {"yes" if same else "NO"}; '
              f'decord-resize differs by {resize_diff:.2f} grey levels (mean |diff|)')
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
