"""Synthetic skeleton data sets on disk (:func:`synthesize_skeletons`), written through the video generator's
steps (:mod:`vidact.data.synth.writer`: split counts, the overwrite check, ``classes.txt`` and ``manifest.json``).

A data set is a PYSKL annotation pickle ``annotations.pkl`` (``{"split": {name: [frame_dir, ...]},
"annotations": [record, ...]}``, :mod:`vidact.data.skeleton.formats`), ``classes.txt`` and ``manifest.json``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from ....errors import ConfigError
from ...skeleton.dataset import ANNOTATIONS_FILE
from ...skeleton.formats import save_pickle
from ..clips import clip_rng
from ..writer import prepare_root, split_counts, write_index
from .motion import FPS, SKELETON_CLASSES, SKELETON_PAIRS
from .render import FOCAL_LENGTH, IMAGE_SHAPE, render_skeleton

__all__ = ["ANNOTATIONS_FILE", "DEFAULT_SAMPLES_PER_CLASS", "SkeletonSynthInfo", "synthesize_skeletons"]

#: The files :func:`synthesize_skeletons` writes in its folder.
_OURS = (ANNOTATIONS_FILE, "classes.txt", "manifest.json")
DEFAULT_SAMPLES_PER_CLASS: Mapping[str, int] = {"train": 100, "val": 20, "test": 40}


@dataclass(frozen=True)
class SkeletonSynthInfo:
    """What :func:`synthesize_skeletons` wrote.

    Attributes:
        root: the data set's folder.
        annotations: its PYSKL annotation pickle.
        classes: class names in label order (the lines of ``classes.txt``).
        samples_per_class: samples per class in each split that was written.
        partners: each reversed pair's classes, both directions.
    """

    root: Path
    annotations: Path
    classes: tuple[str, ...]
    samples_per_class: dict[str, int]
    partners: dict[str, str]

    @property
    def num_samples(self) -> int:
        return len(self.classes) * sum(self.samples_per_class.values())


def synthesize_skeletons(
    root: str | os.PathLike,
    *,
    samples_per_class: int | Mapping[str, int] | None = None,
    layout: str = "ntu25",
    dims: Literal[2, 3] = 3,
    frames: tuple[int, int] = (48, 96),
    noise: float = 0.01,
    missing: float = 0.02,
    max_yaw: float = 60.0,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> SkeletonSynthInfo:
    """Write a synthetic skeleton data set: ``root/annotations.pkl``, ``root/classes.txt``, ``root/manifest.json``.

    Sample ``index`` of ``class`` in ``split`` is ``render_skeleton(class, clip_rng(seed, split, class, index),
    ...)``, so a data set is the same whatever other classes or splits are written with it. Its record's
    ``frame_dir`` is ``<class>_<split>_<index:04d>`` and ``label`` the class's line in ``classes.txt``; the
    pickle's ``split`` lists each split's ``frame_dir`` names (PYSKL's layout,
    :func:`vidact.data.skeleton.formats.load_annotations`). ``manifest.json`` holds the parameters, the
    classes, each reversed class's ``partner``, the pairs, and the chance levels (``chance``: one over the
    classes; ``pair_chance``: 1/2, the accuracy within a pair of a model that sees frames but not their order).

    Args:
        root: the output folder; must be missing or empty (see ``overwrite``).
        samples_per_class: samples per class for each split (default :data:`DEFAULT_SAMPLES_PER_CLASS`); an
            int gives every split that many; splits left out or at 0 are not written.
        layout, dims, frames, noise, missing, max_yaw: as :func:`render_skeleton`.
        seed: the data set's seed.
        classes: the classes to write, a subset of :data:`SKELETON_CLASSES` (default all), in this order.
        overwrite: replace an earlier data set in ``root`` (only a folder holding nothing but the three files
            is cleared).
        progress: show a progress bar.

    Raises:
        ConfigError: an unknown class or layout, or an option out of range.
        DatasetError: ``root`` is not empty and ``overwrite`` is off, or holds files this function did not write.
    """
    root = Path(root)
    names = tuple(SKELETON_CLASSES if classes is None else classes)
    if not names or len(set(names)) != len(names) or any(n not in SKELETON_CLASSES for n in names):
        raise ConfigError(
            f"classes must be distinct names from {', '.join(SKELETON_CLASSES)}; got {', '.join(names) or 'none'}"
        )
    counts = split_counts(
        samples_per_class, DEFAULT_SAMPLES_PER_CLASS, name="samples_per_class", unit="sample"
    )
    if seed < 0:
        raise ConfigError(f"seed must be non-negative, got {seed}")
    options = {
        "layout": layout,
        "dims": dims,
        "frames": tuple(frames),
        "noise": noise,
        "missing": missing,
        "max_yaw": max_yaw,
    }
    render_skeleton(
        names[0], np.random.default_rng(0), **options
    )  # every option checked before root is touched
    prepare_root(root, _OURS, overwrite=overwrite, writer="synthesize_skeletons")

    records, split = [], {name: [] for name in counts}
    jobs = [
        (s, label, name, i) for s, n in counts.items() for label, name in enumerate(names) for i in range(n)
    ]
    for s, label, name, index in tqdm(jobs, desc="synth skeleton", unit="sample", disable=not progress):
        record = render_skeleton(name, clip_rng(seed, s, name, index), **options)
        record["frame_dir"] = f"{name}_{s}_{index:04d}"
        record["label"] = label
        records.append(record)
        split[s].append(record["frame_dir"])
    annotations = save_pickle({"split": split, "annotations": records}, root / ANNOTATIONS_FILE)

    pairs = {pair: list(members) for pair, members in SKELETON_PAIRS.items() if set(members) <= set(names)}
    partners = {a: b for a, b in pairs.values()} | {b: a for a, b in pairs.values()}
    manifest = {
        "generator": "vidact.data.synth.skeleton",
        "kind": "skeleton",
        "classes": list(names),
        "partners": partners,
        "pairs": pairs,
        "samples_per_class": counts,
        "chance": 1 / len(names),
        "pair_chance": 0.5 if pairs else None,
        "params": {
            **options,
            "frames": list(frames),
            "seed": seed,
            "fps": FPS,
            "coordinates": "camera-space metres: x right, y up, z away from the camera"
            if dims == 3
            else f"pixels of a {IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]} pinhole image, focal length {FOCAL_LENGTH}",
        },
    }
    write_index(root, names, manifest)
    return SkeletonSynthInfo(root, annotations, names, counts, partners)
