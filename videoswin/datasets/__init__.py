"""Datasets and the transforms mmaction2 does not provide."""
from . import transforms  # noqa: F401
from .annotations import AnnotationError  # noqa: F401
from .kinetics import KineticsDataset  # noqa: F401
from .mmaction_types import RawframeDataset, VideoDataset  # noqa: F401
from .bad_sample_policy import BadSampleError, BadSampleLedger  # noqa: F401
from .sthv2 import SthV2Dataset  # noqa: F401
