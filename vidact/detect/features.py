"""Feature folders and their time grid: what a detector reads of a video, and when each of its steps is.

A detector works in *feature steps*: step ``i`` of a video is the ``i``-th feature vector of its sequence. A
:class:`TimeGrid` maps steps to seconds and back, ``seconds(i) = offset + i * step``:

* vidact's own features (``vidact extract features``): each step is a window of the video, and its
  ``<video>.timestamps.npy`` ([W, 2] start and end in seconds) says which; ``offset`` is the centre of window 0
  and ``step`` the (uniform) distance between window starts (:meth:`TimeGrid.from_windows`).
* features made elsewhere (I3D, TSP; ActionFormer's layout): a step every ``feat_stride`` frames from a clip of
  ``num_frames`` frames at ``fps``: ``offset = 0.5 * num_frames / fps``, ``step = feat_stride / fps``
  (:meth:`TimeGrid.from_frames`), the time of the centre of each step's clip.

Two folder layouts, each a :class:`FeatureSource` (:func:`open_features` picks one):

* :class:`VidactFeatures`: ``<name>.features.npy`` ([W, D] float32) and ``<name>.timestamps.npy`` per video,
  nested in subfolders as ``vidact extract features`` mirrors its input (``OUT/a/v1.features.npy``); a video is
  known by its file name (``v1``). The extractor's ``params()`` of each video are in ``<name>.features.json``.
* :class:`NumpyFeatures`: ``<video>.npy`` per video, [T, D] (or [D, T] with ``transpose``), any float dtype
  (read as float32), nested or not.

Ground truth and file names often spell a video differently (``v_QOlSCBRmfWY`` against ``QOlSCBRmfWY.npy``,
``highjump.npy`` as a ground-truth key): :meth:`FeatureSource.find` matches an id with or without ActivityNet's
``v_`` prefix and without a file extension. A missing or unreadable file, a sequence of another width, and
timestamps that are not evenly spaced are one-line :class:`~vidact.errors.DatasetError`\\ s.

    >>> source = open_features("features/")                     # vidact's: grid from the timestamps
    >>> source = open_features("i3d/", feat_stride=4, num_frames=16)   # others': fps from the ground truth
    >>> name = source.find("video_test_0000004")
    >>> length, grid = source.info(name, fps=30.0)
    >>> x = source.read(name, start=0, stop=length)            # [T, D] float32
    >>> grid.seconds(10), grid.steps(12.5)
"""

from __future__ import annotations

import json
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, DatasetError

__all__ = [
    "TimeGrid",
    "FeatureSource",
    "VidactFeatures",
    "NumpyFeatures",
    "open_features",
    "FEATURES_SUFFIX",
    "TIMESTAMPS_SUFFIX",
]

#: File name endings of vidact's feature folders (``vidact extract features``).
FEATURES_SUFFIX = ".features.npy"
TIMESTAMPS_SUFFIX = ".timestamps.npy"
_RECORD_SUFFIX = ".features.json"
#: How far (as a fraction of the step) a window start may sit from the uniform grid.
_GRID_TOLERANCE = 0.05


@dataclass(frozen=True)
class TimeGrid:
    """The time of each feature step of a video: ``seconds(i) = offset + i * step``.

    Attributes:
        offset: seconds of step 0 (the centre of its window or clip).
        step: seconds between consecutive steps, positive.
    """

    offset: float
    step: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.offset) or not math.isfinite(self.step) or self.step <= 0:
            raise ConfigError(
                f"a time grid needs a finite offset and a positive step, got {self.offset}, {self.step}"
            )

    def seconds(self, steps: float | np.ndarray) -> float | np.ndarray:
        """Steps -> seconds: a float for a number, a float64 array of the same shape for an array."""
        if np.ndim(steps):
            return self.offset + np.asarray(steps, dtype=np.float64) * self.step
        return self.offset + float(steps) * self.step

    def steps(self, seconds: float | np.ndarray) -> float | np.ndarray:
        """Seconds -> fractional steps: a float for a number, a float64 array of the same shape for an array."""
        if np.ndim(seconds):
            return (np.asarray(seconds, dtype=np.float64) - self.offset) / self.step
        return (float(seconds) - self.offset) / self.step

    def shifted(self, start: int) -> TimeGrid:
        """The grid of the sequence that begins at step ``start`` of this one (a crop)."""
        return TimeGrid(self.offset + start * self.step, self.step)

    @classmethod
    def from_frames(cls, *, feat_stride: int, num_frames: int, fps: float) -> TimeGrid:
        """ActionFormer's grid of features made elsewhere: a step every ``feat_stride`` frames, each from a clip
        of ``num_frames`` frames at ``fps``; a step's time is its clip's centre."""
        if feat_stride < 1 or num_frames < 1 or not fps > 0:
            raise ConfigError(
                f"need feat_stride >= 1, num_frames >= 1 and fps > 0, got {feat_stride}, {num_frames}, {fps}"
            )
        return cls(offset=0.5 * num_frames / fps, step=feat_stride / fps)

    @classmethod
    def from_windows(
        cls, windows: np.ndarray, *, stride: float | None = None, where: str = "timestamps"
    ) -> tuple[TimeGrid, int]:
        """The grid of vidact's windows, and how many of them lie on it.

        Windows start every ``stride`` seconds; ``vidact extract features`` adds one more window ending at the
        video's end when frames are left after the last one (:func:`~vidact.data.sampling.window_bounds`), whose
        start is off the grid: it is left out (its frames are in the windows before it, but the last
        ``< stride`` seconds). A single window (a video shorter than one) gets a step of ``stride``, else of its
        own length.

        Args:
            windows: [W, 2] float (start, end) seconds, W >= 1.
            stride: seconds between window starts when known (the extractor's ``params()`` in seconds); default
                the distance between the first two starts.
            where: the file, for error messages.

        Returns:
            ``(grid, count)``: the grid and the number of leading windows on it (``W`` or ``W - 1``).

        Raises:
            DatasetError: not [W, 2] with W >= 1, non-finite values, or starts that are not evenly spaced.
        """
        windows = np.asarray(windows, dtype=np.float64)
        if windows.ndim != 2 or windows.shape[1] != 2 or not len(windows):
            raise DatasetError(f"{where}: expected [W, 2] window starts and ends, got shape {windows.shape}")
        if not np.isfinite(windows).all() or (windows[:, 1] <= windows[:, 0]).any():
            raise DatasetError(f"{where}: window bounds must be finite with end > start")
        starts = windows[:, 0]
        offset = float(windows[0].mean())
        if len(windows) == 1:
            return cls(offset, float(stride) if stride else float(windows[0, 1] - windows[0, 0])), 1
        step = float(stride) if stride else float(starts[1] - starts[0])
        if not step > 0:
            raise DatasetError(
                f"{where}: window starts are not increasing ({starts[0]:.6g}, {starts[1]:.6g})"
            )
        position = (starts - starts[0]) / step  # on the grid: whole numbers 0, 1, 2, ...
        off_grid = np.abs(position - np.arange(len(starts))) > _GRID_TOLERANCE
        count = len(starts)
        if off_grid[-1] and 0 < starts[-1] - starts[-2] < step:  # the window that ends at the video's end
            count -= 1
        if off_grid[:count].any():
            bad = int(np.argmax(off_grid[:count]))
            raise DatasetError(
                f"{where}: window starts are not evenly spaced (window {bad} starts at {starts[bad]:.6g} s, "
                f"the grid of step {step:.6g} s says {starts[0] + bad * step:.6g} s)"
            )
        return cls(offset, step), count


def _read_npy(path: Path) -> np.ndarray:
    """A memory-mapped ``.npy`` (nothing read but the header yet).

    Raises:
        DatasetError: missing or not a readable ``.npy`` file.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DatasetError(f"{path}: not a readable .npy file ({reason})") from None
    if not isinstance(array, np.ndarray):
        raise DatasetError(f"{path}: not a single array")
    return array


def _as_float32(values: np.ndarray, path: Path) -> np.ndarray:
    """[t, D] of any real dtype -> a C-contiguous, writable float32 copy; non-finite values are refused."""
    if not np.issubdtype(values.dtype, np.floating) and not np.issubdtype(values.dtype, np.integer):
        raise DatasetError(f"{path}: features of dtype {values.dtype}, expected real numbers")
    out = np.array(values, dtype=np.float32, order="C")  # a copy: never a view of the memory-mapped file
    if not np.isfinite(out).all():
        raise DatasetError(f"{path}: features hold NaN or infinite values")
    return out


class FeatureSource(ABC):
    """A folder of per-video feature sequences (see the module docstring).

    Args:
        root: the folder.
        dim: D, the width every sequence must have (default: the first sequence's).

    Attributes:
        root: the folder.
        paths: video name -> its feature file.
    """

    #: What the layout is called in messages.
    layout: ClassVar[str]
    #: The file name ending of a video's features.
    suffix: ClassVar[str]

    def __init__(self, root: str | os.PathLike, *, dim: int | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: no such feature folder")
        if dim is not None and dim < 1:
            raise ConfigError(f"the feature width must be positive, got {dim}")
        self._dim = dim
        self.paths: dict[str, Path] = {}
        for path in sorted(self.root.rglob(f"*{self.suffix}")):
            if not self._owns(path) or any(
                part.startswith(".") for part in path.relative_to(self.root).parts
            ):
                continue  # hidden: an extractor's temporary file, a cache
            name = path.name[: -len(self.suffix)]
            if name in self.paths:
                raise DatasetError(
                    f"{self.root}: two feature files for video {name!r}: {self.paths[name]} and {path}"
                )
            self.paths[name] = path
        if not self.paths:
            raise DatasetError(f"{self.root}: no {self.layout} files (*{self.suffix}) in the folder")

    # -- the layout --------------------------------------------------------------------------------------------
    def _owns(self, path: Path) -> bool:
        """Whether ``path`` (ending in :attr:`suffix`) is a video's features in this layout."""
        return True

    @abstractmethod
    def _sequence(self, name: str) -> np.ndarray:
        """Video ``name``'s features as a [T, D] view (memory-mapped; not checked)."""

    @abstractmethod
    def grid(self, name: str, *, fps: float | None = None) -> tuple[TimeGrid, int]:
        """Video ``name``'s time grid and its number of steps on it.

        Args:
            fps: the video's frame rate, for layouts timed in frames (from the ground truth).
        """

    def params(self) -> dict[str, Any] | None:
        """The vidact feature extractor's ``params()`` that made the folder, ``None`` when unknown."""
        return None

    # -- what datasets use ------------------------------------------------------------------------------------
    @property
    def videos(self) -> list[str]:
        """The video names, sorted."""
        return sorted(self.paths)

    @property
    def dim(self) -> int:
        """D, the feature width (the first video's unless given)."""
        if self._dim is None:
            first = self.videos[0]
            self._dim = int(self._shaped(first).shape[1])
        return self._dim

    def find(self, video: str) -> str | None:
        """The name of the features of ground-truth video ``video``: the id itself, else without a file
        extension (``highjump.npy``), else with or without ActivityNet's ``v_`` prefix; ``None`` if none."""
        stem = video.rsplit(".", 1)[0] if "." in video else video
        for candidate in (video, stem):
            for name in (candidate, candidate.removeprefix("v_"), f"v_{candidate}"):
                if name in self.paths:
                    return name
        return None

    def info(self, name: str, *, fps: float | None = None) -> tuple[int, TimeGrid]:
        """``(T, grid)`` of video ``name``: its steps and their times, the file's width checked.

        Raises:
            DatasetError: an unreadable file, another width, or timestamps that do not fit the features.
        """
        grid, count = self.grid(name, fps=fps)
        length = min(count, self._checked(name).shape[0])
        if length < 1:
            raise DatasetError(f"{self.paths[name]}: no feature steps")
        return length, grid

    def read(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Steps ``start:stop`` of video ``name``: [t, D] float32 (only those rows are read from disk).

        Raises:
            DatasetError: an unreadable file, another width, non-finite values.
        """
        return _as_float32(self._checked(name)[start:stop], self.paths[name])

    def _shaped(self, name: str) -> np.ndarray:
        """Video ``name``'s view, checked to be [T, D]."""
        if name not in self.paths:
            raise DatasetError(f"{self.root}: no features of video {name!r}")
        sequence = self._sequence(name)
        if sequence.ndim != 2:
            raise DatasetError(
                f"{self.paths[name]}: expected a [T, D] feature sequence, got shape {sequence.shape}"
            )
        return sequence

    def _checked(self, name: str) -> np.ndarray:
        """Video ``name``'s [T, D] view, its width checked against the folder's."""
        sequence = self._shaped(name)
        if sequence.shape[1] != self.dim:
            raise DatasetError(
                f"{self.paths[name]}: features of width {sequence.shape[1]}, expected {self.dim} "
                f"(shape {sequence.shape})"
            )
        return sequence


class VidactFeatures(FeatureSource):
    """``vidact extract features`` folders: ``<name>.features.npy`` [W, D] and ``<name>.timestamps.npy``
    [W, 2] per video, in any subfolder; timed by the timestamps (:meth:`TimeGrid.from_windows`)."""

    layout = "vidact features"
    suffix = FEATURES_SUFFIX

    def _sequence(self, name: str) -> np.ndarray:
        return _read_npy(self.paths[name])

    def _record(self, name: str) -> dict[str, Any] | None:
        """The extractor's record of video ``name`` (``<name>.features.json``), ``None`` when absent."""
        path = self.paths[name].with_name(f"{name}{_RECORD_SUFFIX}")
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DatasetError(f"{path}: not a readable extraction record ({e})") from None
        return record if isinstance(record, dict) else None

    def grid(self, name: str, *, fps: float | None = None) -> tuple[TimeGrid, int]:
        """The grid of the video's timestamps (``fps`` is not needed); the extractor's stride when its record
        gives one in seconds."""
        path = self.paths[name].with_name(f"{name}{TIMESTAMPS_SUFFIX}")
        windows = np.asarray(_read_npy(path))
        params = (self._record(name) or {}).get("params") or {}
        stride = float(params["stride"]) if params.get("unit") == "seconds" and params.get("stride") else None
        grid, count = TimeGrid.from_windows(windows, stride=stride, where=str(path))
        features = self._checked(name)
        if len(features) != len(windows):
            raise DatasetError(
                f"{self.paths[name]}: {len(features)} feature steps but {len(windows)} windows in {path.name}"
            )
        return grid, count

    @cached_property
    def _params(self) -> dict[str, Any] | None:
        found: dict[str, Any] | None = None
        first = ""
        for name in self.paths:
            record = self._record(name)
            if record is None or record.get("params") is None:
                continue
            if found is None:
                found, first = record["params"], name
            elif record["params"] != found:
                raise DatasetError(
                    f"{self.root}: videos {first!r} and {name!r} were extracted with different settings; "
                    "a detector reads one kind of features"
                )
        return found

    def params(self) -> dict[str, Any] | None:
        """The extractor's ``params()`` from the videos' records (all the same), ``None`` without records.

        Raises:
            DatasetError: records of different settings in one folder.
        """
        return self._params


class NumpyFeatures(FeatureSource):
    """Features made elsewhere: ``<video>.npy`` per video ([T, D], or [D, T] with ``transpose``), timed as
    ActionFormer does (:meth:`TimeGrid.from_frames`).

    Args:
        root: the folder.
        feat_stride: frames between steps.
        num_frames: frames of each step's clip.
        fps: the frame rate of every video; ``None``: each video's own, given to :meth:`grid` (from the
            ground truth).
        transpose: the files hold [D, T].
        dim: D (default: the first file's).
    """

    layout = "feature"
    suffix = ".npy"

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        feat_stride: int,
        num_frames: int,
        fps: float | None = None,
        transpose: bool = False,
        dim: int | None = None,
    ):
        if feat_stride < 1 or num_frames < 1 or (fps is not None and not fps > 0):
            raise ConfigError(
                f"need feat_stride >= 1, num_frames >= 1 and fps > 0 (or none), got {feat_stride}, "
                f"{num_frames}, {fps}"
            )
        self.feat_stride, self.num_frames, self.fps, self.transpose = feat_stride, num_frames, fps, transpose
        super().__init__(root, dim=dim)

    def _owns(self, path: Path) -> bool:
        return not path.name.endswith((FEATURES_SUFFIX, TIMESTAMPS_SUFFIX))

    def _sequence(self, name: str) -> np.ndarray:
        array = _read_npy(self.paths[name])
        return array.T if self.transpose and array.ndim == 2 else array

    def grid(self, name: str, *, fps: float | None = None) -> tuple[TimeGrid, int]:
        """The grid at the folder's fps, else at ``fps``.

        Raises:
            DatasetError: no frame rate known for the video.
        """
        rate = self.fps if self.fps is not None else fps
        if rate is None or not rate > 0:
            raise DatasetError(
                f"{self.paths[name]}: no frame rate for video {name!r}: give fps, or ground truth with each "
                "video's fps"
            )
        grid = TimeGrid.from_frames(feat_stride=self.feat_stride, num_frames=self.num_frames, fps=float(rate))
        return grid, int(self._checked(name).shape[0])


def open_features(
    root: str | os.PathLike,
    *,
    feat_stride: int | None = None,
    num_frames: int | None = None,
    fps: float | None = None,
    transpose: bool = False,
    dim: int | None = None,
) -> FeatureSource:
    """The feature folder ``root`` in its layout: :class:`NumpyFeatures` when ``feat_stride`` and
    ``num_frames`` are given (features made elsewhere), else :class:`VidactFeatures`.

    Raises:
        ConfigError: only one of ``feat_stride`` and ``num_frames``, or ``fps``/``transpose`` without them.
        DatasetError: no such folder, or no feature files of the layout in it.
    """
    if (feat_stride is None) != (num_frames is None):
        raise ConfigError("feat_stride and num_frames go together (features made elsewhere, <video>.npy)")
    if feat_stride is None:
        if fps is not None or transpose:
            raise ConfigError(
                "fps and transpose apply to features made elsewhere (give feat_stride and num_frames); vidact's "
                "features are timed by their timestamps"
            )
        return VidactFeatures(root, dim=dim)
    assert num_frames is not None
    return NumpyFeatures(
        root, feat_stride=feat_stride, num_frames=num_frames, fps=fps, transpose=transpose, dim=dim
    )
