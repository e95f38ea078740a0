"""Decoding: video files, animated GIFs and frame folders to uint8 tensors, with exact seeking.

``VideoReader`` is the one entry point; ``probe`` reads metadata and the frame index; ``MetadataCache`` keeps
probes per dataset so a video is indexed once.
"""

from .metadata import AudioStreamInfo, FrameIndex, MetadataCache, VideoMetadata
from .reader import DEFAULT_BACKEND, VideoReader, available_backends, probe

__all__ = [
    "VideoReader",
    "VideoMetadata",
    "FrameIndex",
    "AudioStreamInfo",
    "MetadataCache",
    "probe",
    "available_backends",
    "DEFAULT_BACKEND",
]
