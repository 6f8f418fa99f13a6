"""Read the frames of one clip from an encoded video, decoding as little as possible.

Training samples 32 frames (stride 2) at a random offset of a ~300-frame video. Every
frame from the previous keyframe to the last sampled one has to go through the decoder,
but most of them are never looked at. :class:`ClipReader` (PyAV) does three things
decord's ``get_batch`` does not:

* non-reference frames that are not sampled are not decoded at all (FFmpeg's
  ``skip_frame=NONREF``; the B-frames of a typical x264 encode);
* only the sampled frames are converted to RGB, and each can be post-processed (resized)
  right away, so no full-resolution copy of the clip is ever held;
* one forward pass per keyframe group, however the indices are ordered (looped clips).

Frame ``i`` is the i-th frame in presentation order, as in decord (the packets' time
stamps sorted), so ``total_frames`` and the decoded pixels are the same as decord's
(tests compare them). Files whose packets carry no usable time stamps are read
sequentially from the start instead.
"""
import bisect
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

Frame = np.ndarray


class VideoReadError(RuntimeError):
    """A video cannot be opened or some of its frames cannot be decoded.

    Attributes:
        path: the video.
        reason: what went wrong, without the path.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'{path}: {reason}')
        self.path = path
        self.reason = reason

    def __reduce__(self):
        return type(self), (self.path, self.reason)


def _describe(err: Exception) -> str:
    """An FFmpeg error without the file name PyAV appends to it."""
    return getattr(err, 'strerror', None) or str(err)


def to_rgb(frame) -> Frame:
    """A decoded frame as (H, W, 3) uint8 RGB. The converter's threads are set: PyAV's
    default (0 = automatic) starts a thread per hardware CPU in every loader worker (64 on
    a 64-CPU host, whatever the worker's affinity), which costs more CPU than it saves."""
    return frame.to_ndarray(format='rgb24', threads=1)


def _import_av():
    import av  # imported lazily: most of the package does not need PyAV
    return av


class ClipReader:
    """Index a video at open time, then decode any set of frames with :meth:`read`.

    Args:
        path: the video file.
        num_threads: threads per read. 1 keeps one core per loader worker (what the
            recipes assume). With more, decoding stays on the calling thread and the
            RGB conversion and ``postprocess`` of each frame run on ``num_threads - 1``
            helper threads while the next frames decode: the same pixels, more clips/s
            per worker where the worker has a spare core, not more per core
            (benchmarks/data.py shows both).
    """

    def __init__(self, path: str, num_threads: int = 1) -> None:
        av = _import_av()
        self.path = str(path)
        try:
            self._container = av.open(self.path)
        except Exception as err:  # FileNotFoundError, av.error.InvalidDataError, ...
            raise VideoReadError(self.path, f'cannot open ({_describe(err)})') from err
        if not self._container.streams.video:
            self.close()
            raise VideoReadError(self.path, 'no video stream')
        self._stream = self._container.streams.video[0]
        codec = self._stream.codec_context
        # the decoder itself stays single-threaded: FFmpeg's frame threading restarts at
        # every seek and measured no faster here, and x264 writes one slice per frame
        codec.thread_count = 1
        codec.thread_type = 'NONE'
        self._threads = max(1, int(num_threads))
        # with more threads, RGB conversion and post-processing of a frame run beside
        # the decoding of the next ones (decoding is ~2/3 of a clip's time)
        self._pool = (ThreadPoolExecutor(self._threads - 1, thread_name_prefix='clip-reader')
                      if self._threads > 1 else None)
        self._index_packets()
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 30.0

    def _index_packets(self) -> None:
        # the packets are kept (in decode order): reads feed them to the decoder
        # straight from memory, with no second seek and demux of the file
        packets = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size:
                    packets.append(packet)
        except Exception as err:
            raise VideoReadError(self.path, f'cannot read the packets ({_describe(err)})') from err
        stamps = [p.pts if p.pts is not None else p.dts for p in packets]
        self.total_frames = len(stamps)
        if self.total_frames == 0:
            raise VideoReadError(self.path, 'no video frames')
        self._sequential = None in stamps or len(set(stamps)) != len(stamps)
        if self._sequential:
            self._packets, self._stamps, self._index, self._keyframes = [], [], {}, [0]
            return
        self._packets = packets
        self._stamps = sorted(stamps)
        self._index = {stamp: i for i, stamp in enumerate(self._stamps)}
        # frame index of each packet, and the packet position of each keyframe
        self._packet_frames = [self._index[stamp] for stamp in stamps]
        self._key_position = {self._index[stamp]: pos for pos, (stamp, packet)
                              in enumerate(zip(stamps, packets)) if packet.is_keyframe}
        self._keyframes = sorted(self._key_position)
        if not self._keyframes or self._keyframes[0] != 0:
            # no keyframe flag on the first frame: decode from the first packet
            self._key_position.setdefault(0, 0)
            self._keyframes = sorted(self._key_position)

    def _keyframe_before(self, index: int) -> int:
        return self._keyframes[max(bisect.bisect_right(self._keyframes, index) - 1, 0)]

    def read(self,
             indices: Sequence[int],
             postprocess: Optional[Callable[[Frame], Frame]] = None) -> List[Frame]:
        """The frames at ``indices`` (any order, repeats allowed) as (H, W, 3) uint8 RGB.

        Args:
            indices: frame indices in ``[0, total_frames)``.
            postprocess: applied to each decoded RGB frame as soon as it exists (e.g. a
                resize), so the full-size frame is dropped at once.
        """
        wanted = sorted({int(i) for i in indices})
        if wanted and (wanted[0] < 0 or wanted[-1] >= self.total_frames):
            raise VideoReadError(self.path, f'frame indices {wanted[0]}..{wanted[-1]} are '
                                 f'outside [0, {self.total_frames})')
        postprocess = postprocess or (lambda frame: frame)
        try:
            frames = (self._read_sequential(set(wanted), postprocess) if self._sequential
                      else self._read_seeking(wanted, postprocess))
        except VideoReadError:
            raise
        except Exception as err:  # decoder errors surface as av.error.* exceptions
            raise VideoReadError(self.path, f'cannot decode ({_describe(err)})') from err
        missing = [i for i in wanted if i not in frames]
        if missing:
            raise VideoReadError(self.path, f'frames {missing[:5]} could not be decoded '
                                 '(the file is probably truncated or corrupt)')
        # a repeated index gets its own copy: later in-place transforms (Flip) must not
        # act twice on one shared array
        out, seen = [], set()
        for i in indices:
            frame = frames[int(i)]
            out.append(frame.copy() if int(i) in seen else frame)
            seen.add(int(i))
        return out

    def _read_seeking(self, wanted: List[int],
                      postprocess: Callable[[Frame], Frame]) -> Dict[int, Frame]:
        wanted_set = set(wanted)
        frames: Dict[int, Frame] = {}
        pending = list(wanted)  # ascending; pending[0] is the next frame still needed
        codec = self._stream.codec_context

        def collect(decoded) -> None:
            for frame in decoded:
                index = self._index.get(frame.pts)
                if index in wanted_set and index not in frames:
                    frames[index] = self._finish(frame, postprocess)

        while pending:
            keyframe = self._keyframe_before(pending[0])
            codec.flush_buffers()
            frontier = keyframe  # the furthest frame handed to the decoder so far
            jump = False
            for position in range(self._key_position[keyframe], len(self._packets)):
                index = self._packet_frames[position]
                frontier = max(frontier, index)
                codec.skip_frame = 'DEFAULT' if index in wanted_set else 'NONREF'
                collect(codec.decode(self._packets[position]))
                while pending and pending[0] in frames:
                    pending.pop(0)
                if not pending:
                    break
                if self._keyframe_before(pending[0]) > frontier:
                    jump = True  # cheaper to restart at the next needed keyframe
                    break
            else:  # end of the stream: drain the decoder
                codec.skip_frame = 'DEFAULT'
                collect(codec.decode(None))
            while pending and pending[0] in frames:
                pending.pop(0)
            if not jump:
                break  # end of the stream: whatever is still pending is missing
        return {index: self._result(frame) for index, frame in frames.items()}

    def _finish(self, frame, postprocess: Callable[[Frame], Frame]):
        """RGB + post-processing of a decoded frame: now, or on the pool (a future)."""
        if self._pool is None:
            return postprocess(to_rgb(frame))
        # nothing submitted refers to the reader, so it is never freed on a helper thread
        return self._pool.submit(lambda: postprocess(to_rgb(frame)))

    @staticmethod
    def _result(frame) -> Frame:
        return frame.result() if isinstance(frame, Future) else frame

    def _read_sequential(self, wanted: set,
                         postprocess: Callable[[Frame], Frame]) -> Dict[int, Frame]:
        self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        self._stream.codec_context.flush_buffers()
        frames: Dict[int, Frame] = {}
        last = max(wanted) if wanted else -1
        for index, frame in enumerate(self._container.decode(self._stream)):
            if index in wanted:
                frames[index] = postprocess(to_rgb(frame))
            if index >= last:
                break
        return frames

    def close(self) -> None:
        pool, self._pool = getattr(self, '_pool', None), None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        container, self._container = getattr(self, '_container', None), None
        if container is not None:
            container.close()

    def __enter__(self) -> 'ClipReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
