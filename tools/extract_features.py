"""Extract backbone features of every video in a list, resumably.

Each video goes through the config's test pipeline (all its clips x crops); the backbone's
last feature map is averaged over space (and time, unless ``--temporal``) and over views:
pooled features are (8C,) per video, temporal ones (8C, T'). They are appended to ``--out``
as each video finishes; running the same command again after an interruption skips the
videos already in the file. Read the result with ``videoswin.apis.load_features``.

Example::

    python tools/extract_features.py configs/recognition/swin/CONFIG.py swin_t.pth \\
        --video-list data/kinetics400/val_list.txt --video-root data/kinetics400/val \\
        --out work_dirs/features/k400_val.feats
"""
import argparse
import sys
from pathlib import Path
from typing import List

import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Dataset

from videoswin.utils.cli import add_cfg_options, exit_on_bad_checkpoint, read_config
from videoswin.utils.errors import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config (its test pipeline is used)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--video-list', required=True,
                        help='text file, one video per line ("path [label]"); labels are ignored')
    parser.add_argument('--video-root', default='', help='folder the list\'s paths are relative to')
    parser.add_argument('--out', required=True, help='feature file to create or resume')
    parser.add_argument('--temporal', action='store_true',
                        help='keep the time axis: (8C, T\') per video instead of (8C,)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--num-workers', type=int, default=1,
                        help='processes decoding videos while the model runs (0: none)')
    add_cfg_options(parser, 'test_pipeline.1.num_clips=1')
    return parser.parse_args(argv)


def read_video_list(path: str) -> List[str]:
    """The first field of each non-empty line, duplicates removed (first kept)."""
    names = []
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if fields and fields[0] not in names:
            names.append(fields[0])
    if not names:
        raise ValueError(f'{path}: the video list is empty')
    return names


def _as_is(item):
    return item


class _PreparedVideos(Dataset):
    """Runs the test pipeline on each video; failures are returned, not raised."""

    def __init__(self, names: List[str], root: str, pipeline) -> None:
        self.names, self.root, self.pipeline = names, Path(root), pipeline

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int):
        from videoswin.apis.inference import video_sample

        name = self.names[index]
        try:
            return name, self.pipeline(video_sample(self.root / name)), None
        except Exception as error:  # a broken video must not stop a long extraction
            return name, None, f'{type(error).__name__}: {error}'


def main(argv=None) -> int:
    args = parse_args(argv)
    from videoswin.apis import init_recognizer
    from videoswin.apis.features import FeatureWriter, features_from_batch
    from videoswin.apis.inference import build_inference_pipeline
    from videoswin.utils import register_all_modules
    from videoswin.utils.config_check import check_config
    from videoswin.utils.setup_env import setup_env

    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    check_config(cfg, 'test', check_paths=False)
    setup_env(cfg)
    logger = MMLogger.get_current_instance()
    names = read_video_list(args.video_list)
    # the model first: a refused checkpoint must not leave a feature file naming it
    model = exit_on_bad_checkpoint(
        lambda: init_recognizer(cfg, args.checkpoint, device=args.device))
    header = dict(config=str(Path(args.config).resolve()),
                  checkpoint=str(Path(args.checkpoint).resolve()), temporal=args.temporal)
    try:
        writer = FeatureWriter(args.out, header)
    except ValueError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    todo = [name for name in names if name not in writer.done]
    if len(todo) < len(names):
        logger.info(f'resuming {args.out}: {len(names) - len(todo)} of {len(names)} videos '
                    'already done')
    if not todo:
        return 0
    videos = _PreparedVideos(todo, args.video_root, build_inference_pipeline(cfg, False))
    loader = DataLoader(videos, batch_size=None, num_workers=args.num_workers,
                        collate_fn=_as_is)
    failures = []
    progress = ProgressBar(len(todo))
    with torch.no_grad():
        for name, sample, error in loader:
            if error is None:
                feature = features_from_batch(model, pseudo_collate([sample]), args.temporal)[0]
                writer.append(name, feature)
            else:
                failures.append((name, error))
            progress.update()
    print()
    logger.info(f'{len(writer.done)} of {len(names)} videos in {args.out}')
    for name, error in failures:
        logger.warning(f'{name}: {error}')
    if failures:
        logger.warning(f'{len(failures)} videos failed; fix or drop them and run again to resume')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
