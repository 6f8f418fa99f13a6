"""Transforms mmaction2 lacks: fast exact decoding and the SSv2 recipe's augmentations."""
from .clip_reader import ClipReader, VideoReadError  # noqa: F401
from .decoding import VideoDecode, VideoInit  # noqa: F401
from .rand_augment import ClipRandAugment  # noqa: F401
from .random_erasing import ClipRandomErasing  # noqa: F401
from .sampling import SampleFrames, UniformSegmentSample  # noqa: F401
