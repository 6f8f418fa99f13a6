from .video_recognizer import VideoRecognizer  # noqa: F401
