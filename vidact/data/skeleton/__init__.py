"""Skeletons: layouts as data (:mod:`.layouts`), adjacency graphs built from them (:mod:`.graph`), presets
(:mod:`.presets`), conversions between layouts (:mod:`.mapping`), the PYSKL pickle and ``.npz`` formats
(:mod:`.formats`), sampling and transforms (:mod:`.transforms`) and datasets (:mod:`.dataset`).

A skeleton sequence is joints ``[M, T, V, C]`` (persons, frames, joints, coordinates) with scores ``[M, T, V]``;
a batch for a model is ``[N, M, T, V, C]``.
"""

from .dataset import ANNOTATIONS_FILE, SkeletonDataset, collate_skeletons, read_split, resolve_annotations
from .formats import (
    arrays_to_record,
    load_annotations,
    load_npz,
    load_pickle,
    record_from_ctvm,
    record_to_arrays,
    record_to_ctvm,
    save_npz,
    save_pickle,
    validate_record,
)
from .graph import Graph
from .layouts import LAYOUTS, Layout, get_layout, list_layouts
from .mapping import (
    KINECT_GEOMETRY,
    PLAIN_GEOMETRY,
    NtuGeometry,
    kinect_focal,
    map_joints,
    map_scores,
    mapping_matrix,
    mediapipe_to_ntu25,
    solve_camera_offset,
    to_kinect_axes,
)
from .presets import CENTERS, COORDS, SAMPLERS, SkeletonPreset
from .transforms import (
    TEST_SEED,
    center_joints,
    pad_frames,
    random_rotate,
    random_scale,
    select_persons,
    skeleton_input,
    to_image01,
    uniform_sample_indices,
)

__all__ = [
    "LAYOUTS",
    "Layout",
    "get_layout",
    "list_layouts",
    "Graph",
    "COORDS",
    "SAMPLERS",
    "SkeletonPreset",
    "validate_record",
    "save_pickle",
    "load_pickle",
    "load_annotations",
    "save_npz",
    "load_npz",
    "record_to_arrays",
    "arrays_to_record",
    "record_from_ctvm",
    "record_to_ctvm",
    "mapping_matrix",
    "map_joints",
    "map_scores",
    "mediapipe_to_ntu25",
    "solve_camera_offset",
    "to_kinect_axes",
    "kinect_focal",
    "NtuGeometry",
    "KINECT_GEOMETRY",
    "PLAIN_GEOMETRY",
    "SkeletonDataset",
    "collate_skeletons",
    "read_split",
    "resolve_annotations",
    "ANNOTATIONS_FILE",
    "skeleton_input",
    "uniform_sample_indices",
    "pad_frames",
    "select_persons",
    "to_image01",
    "center_joints",
    "random_rotate",
    "random_scale",
    "CENTERS",
    "TEST_SEED",
]
