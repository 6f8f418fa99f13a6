"""List the videos of an annotation list that cannot be read.

    python tools/data/check_videos.py data/kinetics400/kinetics400_val_list_videos.txt \\
        --video-root data/kinetics400/videos [--workers 8] [--full] [--backend pyav] \\
        [--out bad_videos.txt]

Each video is opened and its first and last frames decoded (``--full``: every frame,
much slower, also finds damage in the middle). Unreadable ones (missing, empty,
truncated, corrupt) are printed as ``path<TAB>reason`` and written to ``--out``; the
exit status is 1 if there are any. ``--backend decord`` checks with the decoder of
mmaction2's DecordInit/DecordDecode instead of ours (VideoInit/VideoDecode).
"""
import argparse
import os
import sys
from functools import partial
from pathlib import Path
from typing import List, Optional

from mmengine.utils import track_parallel_progress, track_progress

from videoswin.datasets.annotations import parse_video_list
from videoswin.datasets.video_probe import BACKENDS, probe_video
from videoswin.utils.errors import run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('list', help='video list file ("path label" lines)')
    parser.add_argument('--video-root', default='', help='folder the list paths are relative to')
    parser.add_argument('--workers', type=int, default=1, help='parallel processes')
    parser.add_argument('--full', action='store_true', help='decode every frame')
    parser.add_argument('--backend', choices=BACKENDS, default='pyav')
    parser.add_argument('--out', help='also write the unreadable videos here')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    paths = [os.path.join(args.video_root, s['filename']) for s in parse_video_list(args.list)]
    task = partial(probe_video, backend=args.backend, full=args.full)  # picklable for the pool
    if args.workers > 1:
        reasons = track_parallel_progress(task, paths, nproc=args.workers, file=sys.stderr)
    else:
        reasons = track_progress(task, paths, file=sys.stderr)
    bad = [(path, reason) for path, reason in zip(paths, reasons) if reason is not None]
    for path, reason in bad:
        print(f'{path}\t{reason}')
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(''.join(f'{path}\t{reason}\n' for path, reason in bad))
    print(f'{len(bad)} of {len(paths)} videos cannot be read', file=sys.stderr)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
