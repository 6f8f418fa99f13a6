"""Python API: build a recognizer, classify a video, extract features, read predictions."""
from .features import extract_features, load_features  # noqa: F401
from .inference import (ClassScore, inference_recognizer, init_recognizer,  # noqa: F401
                        read_label_map)
from .predictions import load_predictions  # noqa: F401

__all__ = ['init_recognizer', 'inference_recognizer', 'ClassScore', 'read_label_map',
           'extract_features', 'load_features', 'load_predictions']
