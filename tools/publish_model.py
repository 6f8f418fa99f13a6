"""Strip a training checkpoint down to its weights and name it by content.

Drops everything but ``meta`` and ``state_dict`` (optimizer, message hub, param
schedulers, AMP loss scaler, ...), then writes ``OUT-<sha256[:8]>.pth`` so a download
can be checked against its name.

    python tools/publish_model.py work_dirs/exp/epoch_30.pth swin_tiny_k400 [--trusted]
    # -> swin_tiny_k400-1a2b3c4d.pth
"""
import argparse
import hashlib
import os
import os.path as osp
import tempfile
from typing import List, Optional

import torch
from mmengine.logging import print_log

from videoswin.checkpoint import CheckpointKindError, safe_load
from videoswin.utils.cli import exit_on_bad_checkpoint

KEPT = ('meta', 'state_dict')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint written by training (.pth): a file or an '
                        'http(s) URL')
    parser.add_argument('dst', help='output name; "-<sha256[:8]>.pth" is appended')
    parser.add_argument('--trusted', action='store_true',
                        help='unrestricted unpickling of SRC (only for files you trust)')
    return parser.parse_args(argv)


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def publish(src: str, dst: str, trusted: bool = False) -> str:
    """Write the slim checkpoint; return its final path."""
    checkpoint = safe_load(src, trusted=trusted)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get('state_dict'), dict):
        raise CheckpointKindError(f'{src}: expected a training checkpoint with a state_dict '
                                  'entry (as mmengine writes)')
    slim = {key: checkpoint[key] for key in KEPT if key in checkpoint}
    stem = dst[:-len('.pth')] if dst.endswith('.pth') else dst
    out_dir = osp.dirname(osp.abspath(stem))
    os.makedirs(out_dir, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(dir=out_dir, suffix='.pth.tmp')
    os.close(handle)
    try:
        torch.save(slim, tmp_path)
        final = f'{stem}-{sha256_of(tmp_path)[:8]}.pth'
        os.replace(tmp_path, final)
    finally:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
    dropped = sorted(set(checkpoint) - set(KEPT))
    print_log(f'{src} -> {final}: kept {list(slim)}, dropped {dropped}', logger='current')
    return final


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    exit_on_bad_checkpoint(lambda: publish(args.src, args.dst, args.trusted))


if __name__ == '__main__':
    main()
