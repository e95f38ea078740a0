"""Skeletons: layouts as data (:mod:`.layouts`), adjacency graphs built from them (:mod:`.graph`), presets
(:mod:`.presets`), conversions between layouts (:mod:`.mapping`), the PYSKL pickle and ``.npz`` formats
(:mod:`.formats`), sampling and transforms (:mod:`.transforms`) and datasets (:mod:`.dataset`).

A skeleton sequence is joints ``[M, T, V, C]`` (persons, frames, joints, coordinates) with scores ``[M, T, V]``;
a batch for a model is ``[N, M, T, V, C]``.
"""

from .layouts import LAYOUTS, Layout, get_layout, list_layouts
from .presets import COORDS, SAMPLERS, SkeletonPreset

__all__ = ["LAYOUTS", "Layout", "get_layout", "list_layouts", "COORDS", "SAMPLERS", "SkeletonPreset"]
