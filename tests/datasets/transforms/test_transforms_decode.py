"""VideoInit/VideoDecode give exactly what DecordInit/DecordDecode(+Resize) give, decoding less."""
import numpy as np
import pytest
from mmcv.transforms import Compose

from videoswin.datasets.transforms import ClipReader, VideoReadError
from videoswin.utils import register_all_modules

from helpers.decoding import ours, reference

register_all_modules()


@pytest.mark.parametrize('codec', ['h264', 'mpeg4', 'vp9', 'bframes'])
def test_decoded_frames_equal_decords_bit_for_bit(videos, codec):
    total = ClipReader(videos[codec]).total_frames
    rng = np.random.default_rng(0)
    cases = [np.arange(0, 32, 2) % total,                       # a training clip
             (np.arange(32) * 2 + total - 20) % total,           # a clip looping past the end
             rng.integers(0, total, 12),                         # unordered, with repeats
             np.array([total - 1, 0, total - 1])]
    for indices in cases:
        expected = reference(videos[codec], indices)
        got = ours(videos[codec], indices)
        assert got['total_frames'] == expected['total_frames'] == total
        assert np.array_equal(np.stack(got['imgs']), np.stack(expected['imgs'])), indices
        assert got['original_shape'] == expected['original_shape']
        assert got['img_shape'] == expected['img_shape']


@pytest.mark.parametrize('codec, short_side', [('h264', 56), ('bframes', 40), ('vp9', 64)])
def test_resize_while_decoding_equals_decord_then_resize(videos, codec, short_side):
    indices = np.array([5, 7, 9, 11, 30, 31, 2])
    expected = reference(videos[codec], indices, short_side)
    got = ours(videos[codec], indices, short_side)
    assert np.array_equal(np.stack(got['imgs']), np.stack(expected['imgs']))
    assert got['img_shape'] == expected['img_shape'] and got['keep_ratio']
    np.testing.assert_allclose(got['scale_factor'], expected['scale_factor'], rtol=1e-6)


def test_total_frames_and_fps_match_decord(videos):
    import decord

    for video in videos.values():
        reader, expected = ClipReader(video), decord.VideoReader(str(video))
        assert reader.total_frames == len(expected)
        assert reader.fps == pytest.approx(expected.get_avg_fps(), rel=1e-3)


def test_repeated_indices_are_separate_arrays_so_inplace_flip_is_safe(videos):
    imgs = ours(videos['h264'], [3, 3, 4])['imgs']
    assert imgs[0] is not imgs[1] and np.array_equal(imgs[0], imgs[1])
    flip = Compose([dict(type='Flip', flip_ratio=1.0)])
    flipped = flip(dict(imgs=imgs, img_shape=imgs[0].shape[:2], modality='RGB'))['imgs']
    assert np.array_equal(flipped[0], flipped[1])


def test_skipping_non_reference_frames_changes_no_pixel(videos):
    """The B-frame video decoded with skipping equals a full sequential decode."""
    import av

    with av.open(str(videos['bframes'])) as container:
        every_frame = [f.to_ndarray(format='rgb24') for f in container.decode(video=0)]
    indices = [1, 3, 5, 44, 45, 89]
    got = ClipReader(videos['bframes']).read(indices)
    for index, frame in zip(indices, got):
        assert np.array_equal(frame, every_frame[index]), index


def test_indices_out_of_range_and_truncated_streams_raise_video_read_error(videos, tmp_path):
    reader = ClipReader(videos['vp9'])
    with pytest.raises(VideoReadError, match=r'outside \[0, 40\)'):
        reader.read([0, 40])
    # a WebM cut near its end still opens, shorter (as in decord), and reads to where it stops
    import decord

    data = videos['vp9'].read_bytes()
    cut = tmp_path / 'cut.webm'
    cut.write_bytes(data[:len(data) * 9 // 10])
    short = ClipReader(cut)
    assert 0 < short.total_frames == len(decord.VideoReader(str(cut))) < 40
    assert len(short.read(range(short.total_frames))) == short.total_frames
    # cut before the end of its first frame, it holds no frame at all
    cut.write_bytes(data[:len(data) // 5])
    with pytest.raises(VideoReadError, match='no video frames'):
        ClipReader(cut)
    missing = tmp_path / 'nothing.mp4'
    with pytest.raises(VideoReadError, match='cannot open') as info:
        ClipReader(missing)
    assert info.value.path == str(missing)
