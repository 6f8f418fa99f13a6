"""Write the synthetic motion-direction dataset (real H.264 and VP9 videos + list files).

    python tools/data/make_synthetic.py OUT_DIR [--seed 0] [--num-train 100] [--num-val 40]

The label is the direction of motion (moving_down / moving_up) and nothing else, so a
model blind to frame order stays at chance. Layout: see videoswin/datasets/synthetic.py.
"""
import argparse
import time

from videoswin.datasets.synthetic import CLASSES, make_synthetic_dataset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='output folder, e.g. data/synthetic')
    parser.add_argument('--seed', type=int, default=0, help='same seed, same videos')
    parser.add_argument('--num-train', type=int, default=100, help='training clips per class')
    parser.add_argument('--num-val', type=int, default=40, help='held-out clips per class')
    parser.add_argument('--num-frames', type=int, default=24, help='frames per clip (25 fps)')
    parser.add_argument('--no-ssv2', action='store_true',
                        help='skip the SSv2-style (VP9 .webm) layout')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.time()
    list_files = make_synthetic_dataset(
        args.out_dir, seed=args.seed, num_train=args.num_train, num_val=args.num_val,
        num_frames=args.num_frames, ssv2_style=not args.no_ssv2)
    print(f'{len(CLASSES)} classes ({", ".join(CLASSES)}), '
          f'{args.num_train} train + {args.num_val} val clips per class and layout, '
          f'{time.time() - start:.1f} s:')
    for list_file in list_files:
        print(f'  {list_file}')


if __name__ == '__main__':
    main()
