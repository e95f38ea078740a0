"""Skeleton files: PYSKL / mmaction2 annotation pickles and ``.npz``, read safely and checked.

A **record** is one video's skeletons as a dict in the mmaction2 / PYSKL annotation layout:

=================  =====================  ======================================================================
key                type                   meaning
=================  =====================  ======================================================================
``keypoint``       [M, T, V, C] float     persons (or hands), frames, joints, coordinates (C = 2 or 3)
``keypoint_score`` [M, T, V] float        confidence of each joint (optional; 3D data sets have none)
``total_frames``   int                    T
``img_shape``      (H, W)                 the image the pixel coordinates refer to
``original_shape`` (H, W)                 the video's own frame size
``label``          int                    class index, -1 when unknown
``frame_dir``      str                    the video's identifier (what ``split`` lists)
=================  =====================  ======================================================================

Other keys travel as they are; vidact's pose extraction adds ``layout`` (str), ``fps`` (float),
``keypoint_world`` [M, T, V, 3], ``keypoint_norm`` [M, T, V, 3], ``found`` [M, T] bool, ``timestamps`` [T],
``frame_index`` [T] and, for hands, ``handedness`` [M] and ``handedness_score`` [M, T]. Every array keyed
``keypoint*`` or ``found`` / ``handedness_score`` must agree with ``keypoint`` on M and T (:func:`validate_record`).

An **annotation file** is one record, a list of records, or PYSKL's ``{"split": {name: [frame_dir, ...]},
"annotations": [record, ...]}``. Pickles are read with :func:`vidact._unpickle.safe_unpickle` (numpy
arrays and plain containers only: a pickle that would import anything else is refused); every file is written
atomically. The ``.npz`` form holds one record without any pickle.

    >>> save_pickle(record, "v1.pose.pkl"); record = load_pickle("v1.pose.pkl")
    >>> records, split = load_annotations("ntu60_2d.pkl")
    >>> save_npz(record, "v1.pose.npz"); record = load_npz("v1.pose.npz")
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._atomic import atomic_write
from ..._unpickle import safe_unpickle
from ...errors import DatasetError

__all__ = [
    "Record",
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
]

Record = dict[str, Any]

#: Record keys holding (H, W) image sizes: tuples in a record, int arrays in an ``.npz``.
SHAPE_KEYS = ("img_shape", "original_shape")
# keys that are per-person-per-frame arrays: [M, T] (their leading dimensions must match keypoint's)
_PER_FRAME_KEYS = ("found", "handedness_score")
_PICKLE_PROTOCOL = 4


# -- checking ------------------------------------------------------------------------------------------------
def validate_record(record: Mapping[str, Any], *, source: str = "record") -> Record:
    """A record checked and with its plain fields in plain types (a new dict; arrays are not copied).

    Checks ``keypoint`` is [M, T, V, C] with C in {2, 3}, ``keypoint_score`` [M, T, V], other ``keypoint_*``
    arrays [M, T, V, ...], ``found`` / ``handedness_score`` [M, T], ``total_frames == T``, the shapes pairs of
    positive ints, ``label`` an int. ``img_shape``, ``original_shape``, ``total_frames`` and ``label`` become
    Python ints (tuples for the shapes).

    Args:
        record: one record.
        source: what to name in errors (the file, and which record of it).

    Raises:
        DatasetError: a missing ``keypoint`` or any field that does not fit (one line naming ``source``).
    """
    if not isinstance(record, Mapping):
        raise DatasetError(f"{source}: a skeleton record is a dict, got {type(record).__name__}")
    if "keypoint" not in record:
        raise DatasetError(f"{source}: no 'keypoint' (keys: {', '.join(map(str, record)) or 'none'})")
    out = dict(record)
    kp = np.asarray(record["keypoint"])
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3) or not np.issubdtype(kp.dtype, np.floating):
        raise DatasetError(
            f"{source}: keypoint must be a float array [M, T, V, C] with C 2 or 3, got {kp.dtype} {kp.shape}"
        )
    m, t, v, _ = kp.shape
    for key, value in record.items():
        if key == "keypoint":
            continue
        if key.startswith("keypoint"):
            arr = np.asarray(value)
            want = (m, t, v) if key == "keypoint_score" else None
            if (want is not None and arr.shape != want) or (want is None and arr.shape[:3] != (m, t, v)):
                expect = "[M, T, V]" if want is not None else "[M, T, V, ...]"
                raise DatasetError(
                    f"{source}: {key} has shape {arr.shape}, keypoint {kp.shape} (expected {expect})"
                )
        elif key in _PER_FRAME_KEYS and np.shape(value) != (m, t):
            raise DatasetError(f"{source}: {key} has shape {np.shape(value)}, expected [M, T] = ({m}, {t})")
    if "total_frames" in record:
        total = _as_int(record["total_frames"], "total_frames", source)
        if total != t:
            raise DatasetError(f"{source}: total_frames is {total} but keypoint has {t} frames")
        out["total_frames"] = total
    for key in SHAPE_KEYS:
        if key in record:
            shape = tuple(np.asarray(record[key]).reshape(-1).tolist())
            if len(shape) != 2 or not all(isinstance(s, int) and s > 0 for s in shape):
                raise DatasetError(f"{source}: {key} must be (H, W) positive ints, got {record[key]!r}")
            out[key] = shape
    if "label" in record:
        out["label"] = _as_int(record["label"], "label", source)
    return out


def _as_int(value: Any, key: str, source: str) -> int:
    arr = np.asarray(value)
    if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.integer):
        raise DatasetError(f"{source}: {key} must be an integer, got {value!r}")
    return int(arr)


def _validate_all(data: Any, source: str) -> Record | list[Record] | dict[str, Any]:
    """One record, a list of records, or ``{"split", "annotations"}``, each record checked."""
    if isinstance(data, Mapping) and "annotations" in data:
        annotations = data["annotations"]
        if not isinstance(annotations, (list, tuple)):
            raise DatasetError(f"{source}: 'annotations' must be a list of records")
        split = data.get("split", {})
        if not isinstance(split, Mapping) or not all(isinstance(v, (list, tuple)) for v in split.values()):
            raise DatasetError(f"{source}: 'split' must map split names to lists of frame_dir names")
        records = [validate_record(r, source=f"{source} annotation {i}") for i, r in enumerate(annotations)]
        return {**data, "split": {str(k): list(v) for k, v in split.items()}, "annotations": records}
    if isinstance(data, (list, tuple)):
        return [validate_record(r, source=f"{source} record {i}") for i, r in enumerate(data)]
    return validate_record(data, source=source)


def _check_plain(value: Any, source: str, where: str = "") -> None:
    """Refuse anything :func:`safe_unpickle` would refuse, so vidact never writes a file it cannot read."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise DatasetError(
                f"{source}: {where or 'a value'} is an object array; use numeric or string arrays"
            )
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise DatasetError(f"{source}: key {k!r} of {where or 'the record'} is not a str or int")
            _check_plain(v, source, f"{where}.{k}" if where else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, source, f"{where}[{i}]")
    elif not isinstance(value, (str, bytes, int, float, bool, np.generic)) and value is not None:
        raise DatasetError(
            f"{source}: {where or 'a value'} is a {type(value).__name__}; skeleton files hold arrays, "
            "numbers, strings and containers only"
        )


# -- pickles -------------------------------------------------------------------------------------------------
def save_pickle(data: Mapping[str, Any] | Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write a record, a list of records or a ``{"split", "annotations"}`` dict as a pickle, atomically.

    Every record is checked (:func:`validate_record`) and may hold only arrays, numbers, strings and containers,
    so that :func:`load_pickle` (and PYSKL's ``mmcv.load``) reads it back.

    Returns:
        ``path``.

    Raises:
        DatasetError: a record that does not fit, or a value that is not plain data.
    """
    path = Path(path)
    checked = _validate_all(data, str(path))
    _check_plain(checked, str(path))
    with atomic_write(path, "wb") as f:
        pickle.dump(checked, f, protocol=_PICKLE_PROTOCOL)
    return path


def load_pickle(path: str | os.PathLike) -> Record | list[Record] | dict[str, Any]:
    """Read a skeleton pickle safely: what :func:`save_pickle` writes, PYSKL's annotation files and
    mmaction2's skeleton pickles; every record checked.

    Raises:
        DatasetError: a missing, empty or corrupt file, or records that do not fit.
        UnsafePickleError: a pickle that asks for anything but data (it could run code): refused unread.
    """
    try:
        data = safe_unpickle(path)
    except FileNotFoundError:
        raise DatasetError(f"{os.fspath(path)}: no such file") from None
    except (OSError, pickle.UnpicklingError) as e:
        raise DatasetError(f"{os.fspath(path)}: {getattr(e, 'strerror', None) or e}") from None
    return _validate_all(data, os.fspath(path))


def load_annotations(path: str | os.PathLike) -> tuple[list[Record], dict[str, list[str]]]:
    """The records of a skeleton pickle and its split (``{}`` for a file without one).

    Raises:
        DatasetError: as :func:`load_pickle`; or a split naming a ``frame_dir`` no record has.
    """
    data = load_pickle(path)
    if isinstance(data, dict) and "annotations" in data:
        records, split = data["annotations"], data["split"]
    else:
        records, split = (data if isinstance(data, list) else [data]), {}
    names = {r.get("frame_dir") for r in records}
    for name, members in split.items():
        missing = [m for m in members if m not in names]
        if missing:
            raise DatasetError(
                f"{os.fspath(path)}: split {name!r} names {len(missing)} frame_dir without a record "
                f"(first: {missing[0]!r})"
            )
    return records, split


# -- npz -----------------------------------------------------------------------------------------------------
def record_to_arrays(record: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """A record as arrays only (no pickle needed): scalars and strings become 0-d arrays, shapes int arrays.

    Raises:
        DatasetError: the record does not fit (:func:`validate_record`), or a value has no array form.
    """
    checked = validate_record(record)
    arrays = {}
    for key, value in checked.items():
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise DatasetError(f"record: {key} ({type(value).__name__}) cannot be stored as an array")
        arrays[key] = arr
    return arrays


def arrays_to_record(arrays: Mapping[str, np.ndarray]) -> Record:
    """The inverse of :func:`record_to_arrays`: 0-d arrays become Python scalars and strings, shapes tuples.

    Raises:
        DatasetError: the result does not fit (:func:`validate_record`).
    """
    record = {key: (arr.item() if arr.ndim == 0 else arr) for key, arr in map(_as_array, arrays.items())}
    return validate_record(record)  # which makes the shapes tuples


def _as_array(item: tuple[str, Any]) -> tuple[str, np.ndarray]:
    return item[0], np.asarray(item[1])


def save_npz(record: Mapping[str, Any], path: str | os.PathLike, *, compress: bool = True) -> Path:
    """Write one record as an ``.npz`` (no pickles inside), atomically.

    Returns:
        ``path``.

    Raises:
        DatasetError: the record does not fit.
    """
    path = Path(path)
    try:
        arrays = record_to_arrays(record)
    except DatasetError as e:
        raise DatasetError(f"{path}: {str(e).removeprefix('record: ')}") from None
    with atomic_write(path, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **arrays)
    return path


def load_npz(path: str | os.PathLike) -> Record:
    """Read one record from an ``.npz`` written by :func:`save_npz` (never unpickling anything).

    Raises:
        DatasetError: a missing, empty, corrupt or pickled file, or a record that does not fit.
    """
    source = os.fspath(path)
    if not os.path.isfile(source):
        raise DatasetError(f"{source}: no such file")
    try:
        with np.load(source, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, io.UnsupportedOperation) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DatasetError(f"{source}: not a readable skeleton .npz ({reason})") from None
    try:
        return arrays_to_record(arrays)
    except DatasetError as e:
        raise DatasetError(f"{source}: {str(e).removeprefix('record: ')}") from None


# -- the (C, T, V, M) layout of NTU RGB+D arrays --------------------------------------------------------------
def record_from_ctvm(
    data: np.ndarray,
    *,
    label: int = -1,
    frame_dir: str = "",
    layout: str | None = None,
    trim: bool = True,
) -> Record:
    """A record from an array in the [C, T, V, M] layout of the NTU RGB+D ``.npy`` files (ST-GCN, EfficientGCN).

    Args:
        data: [C, T, V, M] joints (C = 3 for NTU's metres in Kinect camera space), zero-padded.
        label: the class index.
        frame_dir: the identifier.
        layout: the layout name to record (``"ntu25"``); left out when None.
        trim: drop the trailing frames in which every person is all zeros (the padding).

    Returns:
        A record with ``keypoint`` [M, T, V, C] float32 and ``total_frames`` (no scores: 3D data sets have none).
    """
    data = np.asarray(data)
    if data.ndim != 4:
        raise DatasetError(f"{frame_dir or 'array'}: expected [C, T, V, M], got shape {data.shape}")
    keypoint = np.ascontiguousarray(data.transpose(3, 1, 2, 0), dtype=np.float32)  # [M, T, V, C]
    if trim:
        used = np.flatnonzero(
            np.abs(keypoint).reshape(keypoint.shape[0], keypoint.shape[1], -1).max(axis=(0, 2))
        )
        keypoint = keypoint[:, : (used[-1] + 1 if used.size else 0)]
    record: Record = {
        "frame_dir": frame_dir,
        "label": int(label),
        "keypoint": keypoint,
        "total_frames": keypoint.shape[1],
    }
    if layout is not None:
        record["layout"] = layout
    return validate_record(record)


def record_to_ctvm(
    record: Mapping[str, Any], *, frames: int | None = None, persons: int | None = None
) -> np.ndarray:
    """A record's ``keypoint`` in the [C, T, V, M] layout, zero-padded (or cut) to ``frames`` and ``persons``.

    Returns:
        [C, frames or T, V, persons or M] float32.
    """
    kp = np.asarray(validate_record(record)["keypoint"], dtype=np.float32)  # [M, T, V, C]
    m, t, v, c = kp.shape
    frames = t if frames is None else frames
    persons = m if persons is None else persons
    out = np.zeros((c, frames, v, persons), dtype=np.float32)
    keep_t, keep_m = min(t, frames), min(m, persons)
    out[:, :keep_t, :, :keep_m] = kp[:keep_m, :keep_t].transpose(3, 1, 2, 0)
    return out
