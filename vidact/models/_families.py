"""Imports every model family so that their builders register. Add a new family here."""

from . import c3d, efficientgcn, i3d, per_frame, resnet3d, simple3d, skeleton_frame, slowfast, stgcn  # noqa: F401
