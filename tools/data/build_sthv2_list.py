"""Write Something-Something V2 list files and the class index from the official JSONs.

    python tools/data/build_sthv2_list.py data/sthv2/annotations --out-dir data/sthv2 \\
        [--video-root data/sthv2/videos] [--video-ext .webm]

Reads ``something-something-v2-labels.json`` and whichever of ``-train.json``,
``-validation.json`` and ``-test.json`` are in the annotation folder, and writes
``OUT_DIR/sthv2_{train,val,test}_list_videos.txt`` (``<id>.webm label``; the test list
has no labels) and ``OUT_DIR/sthv2_classes.txt`` (the labels file's classes in index
order, 174 of them for the real dataset). An entry's class is its template with the
``[something]`` brackets removed, which must be a key of the labels file. With
``--video-root``, entries whose video is missing are left out and counted.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from videoswin.datasets.annotations import (VIDEO_LIST_FORMAT, write_class_names,
                                            write_video_list)
from videoswin.datasets.sthv2_annotations import (LABELS_FILE_NAME, SSV2_NUM_CLASSES,
                                                  class_names_in_order, read_sthv2_labels,
                                                  read_sthv2_split)
from videoswin.utils.errors import run_cli

SPLITS = (('train', 'train'), ('validation', 'val'), ('test', 'test'))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog=VIDEO_LIST_FORMAT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('ann_dir', help='folder with the something-something-v2-*.json files')
    parser.add_argument('--out-dir', required=True, help='where the list files go')
    parser.add_argument('--video-root', help='check that each video exists here')
    parser.add_argument('--video-ext', default='.webm', help='video file ending (.webm)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    ann_dir, out_dir = Path(args.ann_dir), Path(args.out_dir)
    ext = args.video_ext if args.video_ext.startswith('.') else f'.{args.video_ext}'
    labels = read_sthv2_labels(ann_dir / LABELS_FILE_NAME)
    if len(labels) != SSV2_NUM_CLASSES:
        print(f'warning: {len(labels)} classes (the real SSv2 has {SSV2_NUM_CLASSES})',
              file=sys.stderr)
    class_file = out_dir / 'sthv2_classes.txt'
    write_class_names(class_file, class_names_in_order(labels))
    print(f'{class_file}: {len(labels)} classes')
    written = 0
    for json_split, list_split in SPLITS:
        split_file = ann_dir / f'something-something-v2-{json_split}.json'
        if not split_file.is_file():
            continue
        samples = [(f'{video_id}{ext}', label) for video_id, label in
                   read_sthv2_split(split_file, labels)]
        missing = []
        if args.video_root:
            root = Path(args.video_root)
            missing = [path for path, _ in samples if not (root / path).is_file()]
            absent = set(missing)
            samples = [s for s in samples if s[0] not in absent]
        list_file = out_dir / f'sthv2_{list_split}_list_videos.txt'
        write_video_list(list_file, ((p, label if label >= 0 else None) for p, label in samples))
        line = f'{list_file}: {len(samples)} videos'
        if missing:
            line += f'; {len(missing)} missing under {args.video_root} (e.g. {missing[0]})'
        print(line)
        written += 1
    if not written:
        print(f'no something-something-v2-{{train,validation,test}}.json in {ann_dir}',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
