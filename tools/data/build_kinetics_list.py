"""Write Kinetics-400/600/700 list files and the class index from the official CSVs.

    python tools/data/build_kinetics_list.py data/kinetics400/annotations/train.csv \\
        data/kinetics400/annotations/val.csv --video-root data/kinetics400/videos \\
        --out-dir data/kinetics400 [--dataset kinetics400] [--class-index FILE]

For each CSV, ``OUT_DIR/{dataset}_{split}_list_videos.txt`` gets one ``relative/path.mp4
label`` line per clip whose video exists under ``--video-root`` (paths relative to it;
any downloader layout: ``<split>/<class>/<id>_<start>_<end>.mp4`` or flat). The class
index ``OUT_DIR/{dataset}_classes.txt`` lists the class names of all the CSVs sorted
alphabetically (the standard index; names verbatim, spaces kept). Clips without a video
are normal (deleted YouTube videos): they are counted, reported and listed in
``OUT_DIR/{dataset}_{split}_missing.txt``, never fatal.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from videoswin.datasets.annotations import (VIDEO_LIST_FORMAT, read_class_names,
                                            write_class_names, write_video_list)
from videoswin.datasets.kinetics_annotations import (KNOWN_CLASS_COUNTS, VIDEO_EXTENSIONS,
                                                     index_video_files, kinetics_class_names,
                                                     match_clips, read_kinetics_csv)
from videoswin.utils.errors import run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog=VIDEO_LIST_FORMAT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('csv', nargs='+', help='official CSV files (train.csv, val.csv, ...)')
    parser.add_argument('--video-root', required=True, help='folder holding the videos')
    parser.add_argument('--out-dir', required=True, help='where the list files go')
    parser.add_argument('--dataset', default='kinetics400',
                        help='file name prefix: kinetics400 | kinetics600 | kinetics700 | ...')
    parser.add_argument('--class-index', help='use this class-index file instead of sorting '
                        'the CSV labels (e.g. the training one when listing a new split)')
    parser.add_argument('--extensions', default=','.join(VIDEO_EXTENSIONS),
                        help='video file endings to look for (comma separated)')
    return parser.parse_args(argv)


def split_name(csv_path: Path, splits: List[str]) -> str:
    """The CSV's split column if it names one split, else the file's stem."""
    distinct = sorted(set(s for s in splits if s))
    return distinct[0] if len(distinct) == 1 else csv_path.stem


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    all_clips = {Path(p): read_kinetics_csv(p) for p in args.csv}
    if args.class_index:
        names = read_class_names(args.class_index)
    else:
        names = kinetics_class_names(c for clips in all_clips.values() for c in clips)
    expected = KNOWN_CLASS_COUNTS.get(args.dataset)
    if expected is not None and len(names) != expected:
        print(f'warning: {len(names)} classes, but {args.dataset} has {expected}: is this the '
              'whole CSV?', file=sys.stderr)
    class_file = out_dir / f'{args.dataset}_classes.txt'
    write_class_names(class_file, names)
    print(f'{class_file}: {len(names)} classes')

    print(f'indexing the videos under {args.video_root} ...')
    index = index_video_files(args.video_root, tuple(args.extensions.split(',')))
    for csv_path, clips in all_clips.items():
        split = split_name(csv_path, [c.split for c in clips])
        found, missing = match_clips(clips, index, names, source=csv_path)
        list_file = out_dir / f'{args.dataset}_{split}_list_videos.txt'
        write_video_list(list_file, ((path, label if label >= 0 else None)
                                     for path, label in found))
        line = f'{list_file}: {len(found)} of {len(clips)} clips'
        if missing:
            missing_file = out_dir / f'{args.dataset}_{split}_missing.txt'
            missing_file.write_text(''.join(f'{c.stem}\n' for c in missing))
            line += f'; {len(missing)} have no video (listed in {missing_file})'
        print(line)
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
