"""Threaded reading (``VideoInit(num_threads=2)``) gives the single-threaded pixels.

With a helper thread, frames are converted and resized while later packets decode, and
collected at the end of the read; the reader's skipping of non-reference frames and its
restarts at later keyframes must not lose, reorder or alter any of them.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from mmcv.transforms import Compose

from videoswin.datasets.transforms import ClipReader

from helpers.decoding import ours, reference


def threaded(video, indices, short_side=None):
    results = Compose([dict(type='VideoInit', num_threads=2)])(dict(filename=str(video)))
    results['frame_inds'] = np.asarray(indices)
    return Compose([dict(type='VideoDecode', short_side=short_side)])(results)


@pytest.mark.parametrize('codec', ['h264', 'mpeg4', 'vp9', 'bframes'])
def test_threaded_reads_decode_the_reference_pixels(videos, codec):
    total = ClipReader(videos[codec]).total_frames
    cases = [np.arange(0, 32, 2) % total,                  # a training clip
             (np.arange(32) * 2 + total - 20) % total,     # looping past the end
             np.array([total - 1, 1, total - 2, 0]),       # unordered: restarts
             np.array([2, total - 3])]                     # far apart: a jump
    for indices in cases:
        expected = np.stack(reference(videos[codec], indices)['imgs'])
        assert np.array_equal(np.stack(threaded(videos[codec], indices)['imgs']), expected)


def test_threaded_reads_with_resize(videos):
    indices = np.arange(3, 60, 4)
    expected = ours(videos['bframes'], indices, short_side=40)['imgs']
    got = threaded(videos['bframes'], indices, short_side=40)['imgs']
    assert np.array_equal(np.stack(got), np.stack(expected))


def test_a_frame_already_at_the_short_side_is_returned_as_decoded(videos):
    """No resize call for 340x256-style videos: the same pixels, no copy."""
    height = ClipReader(videos['h264']).read([0])[0].shape[0]
    got = ours(videos['h264'], [0, 5], short_side=height)
    assert np.array_equal(np.stack(got['imgs']), np.stack(ours(videos['h264'], [0, 5])['imgs']))
    np.testing.assert_array_equal(got['scale_factor'], [1.0, 1.0])


def test_reading_starts_no_converter_threads(videos):
    """PyAV's converter defaults to a thread per hardware CPU (63 new threads per clip
    read on a 64-CPU host); the reader asks for its own thread count (1 here), so a
    loader worker stays one thread. Thread ids are handed out in sequence, so the ids
    of two probe threads around a read bound how many threads the read started
    (slack for other processes on the machine)."""
    script = textwrap.dedent(f'''\
        import threading
        from videoswin.datasets.transforms import ClipReader

        def probe():
            thread = threading.Thread(target=lambda: None)
            thread.start()
            thread.join()
            return thread.native_id

        reader = ClipReader({str(videos['bframes'])!r})
        before = probe()
        reader.read(list(range(0, 60, 2)))
        print(probe() - before)
        ''')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) <= 16
