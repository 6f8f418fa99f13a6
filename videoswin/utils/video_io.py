"""Writing real encoded video files (H.264, MPEG-4 Part 2, VP9) with PyAV.

The synthetic dataset, the tests and the demo all need genuine encoded videos, not
frame folders, so that the decord decoding path users run is the one exercised.
``cv2.VideoWriter`` cannot write H.264 (the OpenCV wheels carry no libx264), hence PyAV.

Pitfall: once ``decord`` is imported, its bundled FFmpeg libraries shadow PyAV's and the
VP9 encoder fails to open (EINVAL). VP9 is then encoded in a fresh Python process.
"""
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence, Union

import numpy as np

# file suffix -> (PyAV container format, codec, pixel format)
CODECS = {
    'h264': ('mp4', 'libx264', 'yuv420p'),
    'mpeg4': ('mp4', 'mpeg4', 'yuv420p'),
    'vp9': ('webm', 'libvpx-vp9', 'yuv420p'),
}


def write_video(path: Union[str, Path],
                frames: Union[np.ndarray, Sequence[np.ndarray]],
                fps: float = 25,
                codec: str = 'h264',
                quality: int = 18) -> Path:
    """Encode ``frames`` (T, H, W, 3 uint8 RGB, or T, H, W grayscale) into ``path``.

    Args:
        path: output file; its parent folder is created.
        frames: the frames. yuv420p needs even sizes, so an odd H or W is padded
            by one row/column (edge replicated): the decoded video is one pixel larger.
        fps: frame rate written in the container.
        codec: one of ``CODECS`` ('h264', 'mpeg4', 'vp9').
        quality: constant-quality level (x264 crf / vp9 crf); lower is better.
    """
    if codec not in CODECS:
        raise ValueError(f'unknown codec {codec!r}; choose one of {sorted(CODECS)}')
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f'frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}')
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode='edge')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if codec == 'vp9' and 'decord' in sys.modules:
        _encode_in_subprocess(path, frames, fps, codec, quality)
    else:
        _encode(path, frames, fps, codec, quality)
    return path


def _encode_in_subprocess(path: Path, frames: np.ndarray, fps: float, codec: str,
                          quality: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp) / 'frames.npy'
        np.save(npy, frames)
        # Load this file by its path: importing the ``videoswin`` package would pull in
        # torch and mmaction2 and cost seconds per video.
        code = ('import importlib.util, sys, numpy as np; '
                'spec = importlib.util.spec_from_file_location("video_io", sys.argv[1]); '
                'module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); '
                'module._encode(sys.argv[2], np.load(sys.argv[3]), float(sys.argv[4]), '
                'sys.argv[5], int(sys.argv[6]))')
        result = subprocess.run(
            [sys.executable, '-c', code, __file__, str(path), str(npy), str(fps), codec,
             str(quality)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f'encoding {path} failed:\n{result.stderr[-2000:]}')


def _encode(path: Union[str, Path], frames: np.ndarray, fps: float, codec: str,
            quality: int) -> None:
    import av  # a dependency of the tools that write videos, not of the package import

    fmt, codec_name, pix_fmt = CODECS[codec]
    with av.open(str(path), mode='w', format=fmt) as container:
        stream = container.add_stream(codec_name, rate=int(round(fps)))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        if codec_name == 'mpeg4':
            stream.options = {'qscale': '2'}
        else:
            stream.options = {'crf': str(quality)}
            if codec_name == 'libvpx-vp9':
                stream.options.update({'deadline': 'realtime', 'cpu-used': '8'})
            else:
                stream.options.update({'preset': 'veryfast'})
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
