"""Fixtures of the decoding tests."""
import pytest

from videoswin.testing.sample_data import encode_h264, moving_square
from videoswin.utils.video_io import write_video


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    """The same moving square in h264, mpeg4, vp9 and B-frame h264 files."""
    root = tmp_path_factory.mktemp('decode')
    clip = moving_square(90, 72, 96, (1, 1), seed=3)
    return {
        'h264': write_video(root / 'a.mp4', clip, fps=30, codec='h264'),
        'mpeg4': write_video(root / 'b.mp4', clip[:50], fps=25, codec='mpeg4'),
        'vp9': write_video(root / 'c.webm', clip[:40], fps=25, codec='vp9'),
        # B-frames and two keyframes: the non-reference skipping and re-seeking paths
        'bframes': encode_h264(root / 'd.mp4', clip, fps=30, options={
            'preset': 'veryfast', 'crf': '20',
            'x264-params': 'bframes=3:b-pyramid=normal:b-adapt=0:keyint=40:min-keyint=40'}),
    }
