"""Late fusion: several models' class scores for the same samples, combined into one (``vidact fuse``).

    >>> scores, labels = read_scores("joint.pkl")                # [N, K] and [N] (PYSKL / mmaction2 test output)
    >>> fused = fuse_scores([joint, bone], weights=[1, 1])        # [N, K]
    >>> result = fuse_files(["rgb.pkl", "flow.pkl"], gt="data_list.txt", sweep=True)
    >>> result.stream_accuracy, result.fused_accuracy, result.best   # top-1 / top-5 of each, the best w
    >>> model = MultiStream({"joint": stgcn_j, "bone": stgcn_b})  # one module: raw joints in, fused scores out

Skeleton models are trained once per input stream (joints, bones, joint motion, bone motion: every vidact
skeleton model derives its stream from raw joints inside, ``stream=``) and their scores added at test time, PYSKL's
"2s" and "4s" ensembles; an RGB and an optical-flow network's scores are fused the same way (two-stream networks).
Scores are put on one scale first, then the weighted sum is taken: ``normalize="softmax"`` turns logits into
probabilities; scores that already are probabilities (mmaction2's and PYSKL's test outputs, ``vidact eval
--scores``, :func:`are_probabilities`) are summed as they are (``"none"``: a softmax of probabilities would
flatten them).

**Score files** (:func:`load_score_file`, told apart by their first bytes, whatever their names): a pickle
(mmaction2 / PYSKL test output: a list of ``{"gt_label", "pred_score"}`` dicts or of score vectors, or a dict with
``scores`` and ``labels``), ``.npy`` [N, K], or ``.npz`` with ``scores`` [N, K] and optionally ``labels`` [N] and
``classes`` [K] (what :meth:`vidact.engine.scoring.EvalResult.save_scores` writes).

**Labels** come from ``gt`` (:func:`read_labels`: the last column of a list file, or ``.npy`` labels), else from
the score files that carry them. Files that carry labels must agree with each other and with ``gt``, and files
that carry class names must name the same classes: the cheap checks that they score the same samples in the same
order, on the same classes.

**Weight sweep** (two files A and B): the top-1 and top-5 accuracy of ``w * A + (1 - w) * B`` for ``w`` from 0 to
1 (the scores on one scale first, as above); ``w = 1`` is A alone, ``w = 0`` is B alone. Accuracies follow
:mod:`vidact.engine.metrics` (ties rank the higher class index first, as ``vidact eval`` does).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch import Tensor, nn

from .._atomic import atomic_write
from .._unpickle import safe_unpickle
from ..engine.metrics import topk_accuracy
from ..errors import ConfigError, DatasetError, UnsafePickleError

__all__ = [
    "Normalize",
    "NORMALIZE",
    "fuse_scores",
    "ScoreFile",
    "load_score_file",
    "read_scores",
    "read_labels",
    "are_probabilities",
    "Accuracy",
    "accuracy",
    "top1_accuracy",
    "SweepPoint",
    "sweep_weights",
    "best_weight",
    "stream_names",
    "FusedFiles",
    "fuse_files",
    "plot_sweep",
    "MultiStream",
]

Normalize = Literal["softmax", "none"]
NORMALIZE = ("softmax", "none")

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an .npz is a zip archive (the second: an empty one)


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def are_probabilities(scores: np.ndarray, atol: float = 1e-3) -> bool:
    """Whether every row of ``scores`` [N, K] is non-negative and sums to 1 (within ``atol``)."""
    scores = np.asarray(scores, dtype=np.float64)
    return bool((scores >= 0).all() and np.allclose(scores.sum(axis=1), 1.0, atol=atol))


def _check_normalize(normalize: str) -> None:
    if normalize not in NORMALIZE:
        raise ConfigError(f"normalize must be 'softmax' or 'none', got {normalize!r}")


def fuse_scores(
    scores: Sequence[np.ndarray], weights: Sequence[float] | None = None, *, normalize: Normalize = "softmax"
) -> np.ndarray:
    """The weighted sum of several models' scores for the same samples.

    Args:
        scores: S arrays [N, K], one per model, rows in the same sample order.
        weights: S weights (default all 1; PYSKL's 4-stream ensemble uses 2, 2, 1, 1 for joint, bone, joint
            motion, bone motion).
        normalize: ``"softmax"`` (logits -> probabilities first) or ``"none"`` (already on one scale).

    Returns:
        [N, K] float64 fused scores (argmax: the fused prediction).

    Raises:
        ConfigError: no scores, arrays of different shapes, or a weight count that differs from the arrays'.
    """
    if not scores:
        raise ConfigError("fusion needs at least one score array")
    arrays = [np.asarray(s, dtype=np.float64) for s in scores]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 2:
        raise ConfigError(f"scores to fuse must all be [N, K] of one shape, got {sorted(shapes)}")
    weights = [1.0] * len(arrays) if weights is None else [float(w) for w in weights]
    if len(weights) != len(arrays):
        raise ConfigError(f"{len(weights)} fusion weights for {len(arrays)} score arrays")
    _check_normalize(normalize)
    if normalize == "softmax":
        arrays = [_softmax(a) for a in arrays]
    return sum(w * a for w, a in zip(weights, arrays, strict=True))


# -- reading -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreFile:
    """One score file, read (:func:`load_score_file`).

    Attributes:
        path: the file.
        scores: [N, K] float64 class scores (probabilities or logits, as the file holds them).
        labels: [N] int64 true classes, where the file has them.
        classes: the K class names, where the file has them (``vidact eval --scores``).
    """

    path: Path
    scores: np.ndarray
    labels: np.ndarray | None
    classes: list[str] | None


def load_score_file(path: str | os.PathLike) -> ScoreFile:
    """Read a score file (see the module docstring for the formats). Pickles are read without running code
    (:func:`vidact._unpickle.safe_unpickle`, tensors through torch's weights-only loader).

    Raises:
        DatasetError: a missing or unreadable file, one without an [N, K] score array, or with non-finite
            scores, or labels of another length.
        UnsafePickleError: a pickle that asks for anything but data (it could run code): refused unread.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    labels = classes = None
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic == _NPY_MAGIC:
            scores = np.load(path, allow_pickle=False)
        elif magic[:4] in _ZIP_MAGIC:
            with np.load(path, allow_pickle=False) as data:
                if "scores" not in data:
                    raise DatasetError(
                        f"{path}: an .npz without a 'scores' array (it has: {', '.join(data)})"
                    )
                scores = data["scores"]
                labels = data["labels"] if "labels" in data else None
                classes = [str(c) for c in data["classes"]] if "classes" in data else None
        else:
            obj = safe_unpickle(path, tensors=True)
            if isinstance(obj, Mapping) and "scores" in obj:
                obj, labels = obj["scores"], obj.get("labels")
            items = list(obj)
            if items and isinstance(items[0], Mapping):
                scores = [_numpy(item["pred_score"]) for item in items]
                labels = np.array([int(_numpy(item["gt_label"]).reshape(-1)[0]) for item in items])
            else:
                scores = [_numpy(item) for item in items]
            scores = np.stack(scores) if scores else np.zeros((0, 0))
    except (DatasetError, UnsafePickleError):
        raise
    except Exception as error:  # noqa: BLE001 (a corrupt pickle, KeyError, ValueError...)
        raise DatasetError(f"{path}: not a score file ({str(error).splitlines()[0]})") from None
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise DatasetError(f"{path}: scores of shape {scores.shape}, expected [N, K]")
    if not np.isfinite(scores).all():
        raise DatasetError(f"{path}: {int((~np.isfinite(scores)).sum())} scores are not finite (NaN or inf)")
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(labels) != len(scores):
            raise DatasetError(f"{path}: {len(labels)} labels for {len(scores)} score rows")
    if classes is not None and len(classes) != scores.shape[1]:
        raise DatasetError(f"{path}: {len(classes)} class names for {scores.shape[1]} score columns")
    return ScoreFile(path=path, scores=scores, labels=labels, classes=classes)


def read_scores(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores [N, K] float64 and labels [N] int64 (None where the file has none) of a score file
    (:func:`load_score_file`)."""
    loaded = load_score_file(path)
    return loaded.scores, loaded.labels


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """True class indices [N] int64 from a labels file.

    ``.npy``: an integer array [N] (or [N, 1]). Anything else is text, one sample a line, whose last
    whitespace-separated column is the label: a list file (``<id> <label>``, ``<id> <frames> <label>``; the ids
    are not read, so they need not exist) or one integer a line. Blank lines are skipped.

    Raises:
        DatasetError: a missing file, a line whose last column is not a non-negative integer, or no labels.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with open(path, "rb") as f:
        is_npy = f.read(6) == _NPY_MAGIC
    if is_npy:
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise DatasetError(f"{path}: not a labels array ({str(error).splitlines()[0]})") from None
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1 or not (
            np.issubdtype(array.dtype, np.integer)
            or (np.issubdtype(array.dtype, np.floating) and np.array_equal(array, np.round(array)))
        ):
            raise DatasetError(
                f"{path}: labels of shape {array.shape} and type {array.dtype}, expected [N] ints"
            )
        labels = array.astype(np.int64)
    else:
        values = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise DatasetError(f"{path}: not a text list file nor an .npy array") from None
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                values.append(int(fields[-1]))
            except ValueError:
                raise DatasetError(
                    f"{path}:{number}: the last column {fields[-1]!r} is not a class index"
                ) from None
        labels = np.asarray(values, dtype=np.int64)
    if labels.size == 0:
        raise DatasetError(f"{path}: no labels")
    if labels.min() < 0:
        raise DatasetError(f"{path}: a negative label ({int(labels.min())})")
    return labels


# -- accuracy and the weight sweep ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Accuracy:
    """Top-1 and top-5 accuracy, fractions in [0, 1]."""

    top1: float
    top5: float

    def to_json(self) -> dict[str, float]:
        return {"top1": self.top1, "top5": self.top5}


def accuracy(scores: np.ndarray, labels: np.ndarray) -> Accuracy:
    """Top-1 and top-5 accuracy of ``scores`` [N, K] against ``labels`` [N] ints in [0, K)
    (:func:`vidact.engine.metrics.topk_accuracy`: with fewer than 5 classes top-5 is 1)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise ConfigError(
            f"accuracy needs scores [N, K] and labels [N], got {scores.shape} and {labels.shape}"
        )
    result = topk_accuracy(scores, labels, ks=(1, 5))
    return Accuracy(top1=result[1], top5=result[5])


def top1_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """The share of samples whose best-scored class is their label: ``scores`` [N, K], ``labels`` [N] ints
    (ties: the higher class index, as :func:`accuracy`)."""
    return accuracy(scores, labels).top1


@dataclass(frozen=True)
class SweepPoint:
    """The accuracy of ``w * A + (1 - w) * B`` at one ``w`` (fractions in [0, 1])."""

    w: float
    top1: float
    top5: float

    def to_json(self) -> dict[str, float]:
        return {"w": self.w, "top1": self.top1, "top5": self.top5}


def sweep_weights(a: np.ndarray, b: np.ndarray, labels: np.ndarray, points: int = 21) -> list[SweepPoint]:
    """Top-1 and top-5 of ``w * a + (1 - w) * b`` at ``points`` evenly spaced ``w`` from 0 (``b`` alone) to 1
    (``a`` alone), each ``w`` rounded to 4 decimals.

    Args:
        a, b: [N, K] scores on one scale (probabilities, or both logits).
        labels: [N] true classes.
        points: how many values of ``w`` (at least 2; 21: steps of 0.05).
    """
    if points < 2:
        raise ConfigError(f"a weight sweep needs at least 2 points, got {points}")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = []
    for w in np.round(np.linspace(0.0, 1.0, points), 4):
        measured = accuracy(w * a + (1.0 - w) * b, labels)
        out.append(SweepPoint(w=float(w), top1=measured.top1, top5=measured.top5))
    return out


def best_weight(sweep: Sequence[SweepPoint]) -> SweepPoint:
    """The point of a sweep with the best top-1; among equals the best top-5, then the ``w`` nearest 0.5 (the
    middle of a plateau, not its edge)."""
    if not sweep:
        raise ConfigError("an empty weight sweep has no best point")
    return max(sweep, key=lambda p: (p.top1, p.top5, -abs(p.w - 0.5)))


def stream_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """One name per score file, in order: its stem, made unique with ``-2``, ``-3`` ... (``rgb``, ``rgb-2``)."""
    names: list[str] = []
    for path in paths:
        stem = Path(path).stem or "scores"
        name, count = stem, 1
        while name in names:
            count += 1
            name = f"{stem}-{count}"
        names.append(name)
    return names


# -- files -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FusedFiles:
    """Score files fused (:func:`fuse_files`).

    Attributes:
        names: one name per file (:func:`stream_names`), in the order given.
        paths: the files.
        fused: [N, K] float64 fused scores.
        normalize: how the scores were put on one scale (``"softmax"`` or ``"none"``).
        weights: one weight per file.
        labels: [N] int64 true classes (from ``gt`` or the files), None where there are none.
        labels_from: where ``labels`` came from (the ``gt`` file or the first score file carrying labels).
        stream_accuracy: each file's accuracy, in order; None without labels.
        fused_accuracy: the fused scores' accuracy; None without labels.
        sweep: the weight sweep of two files (:func:`sweep_weights`), empty unless asked for.
    """

    names: list[str]
    paths: list[Path]
    fused: np.ndarray
    normalize: Normalize
    weights: list[float]
    labels: np.ndarray | None
    labels_from: Path | None
    stream_accuracy: list[Accuracy] | None
    fused_accuracy: Accuracy | None
    sweep: list[SweepPoint]

    @property
    def best(self) -> SweepPoint | None:
        """The sweep's best point (:func:`best_weight`), None without a sweep."""
        return best_weight(self.sweep) if self.sweep else None

    def to_json(self) -> dict[str, Any]:
        """``{"streams": {name: {"top1", "top5", "path"}}, "fused": {"top1", "top5"}, "sweep": [{"w", "top1",
        "top5"}, ...], "best": {"w", "top1", "top5"} | None, "normalize", "coefficients", "num_samples",
        "num_classes", "labels"}``: streams in the order given, accuracies as fractions (None without labels)."""
        none = {"top1": None, "top5": None}
        accuracies = self.stream_accuracy or [None] * len(self.names)
        return {
            "streams": {
                name: {**(none if acc is None else acc.to_json()), "path": os.fspath(path)}
                for name, path, acc in zip(self.names, self.paths, accuracies, strict=True)
            },
            "fused": none if self.fused_accuracy is None else self.fused_accuracy.to_json(),
            "sweep": [point.to_json() for point in self.sweep],
            "best": None if self.best is None else self.best.to_json(),
            "normalize": self.normalize,
            "coefficients": list(self.weights),
            "num_samples": int(self.fused.shape[0]),
            "num_classes": int(self.fused.shape[1]),
            "labels": None if self.labels_from is None else os.fspath(self.labels_from),
        }


def fuse_files(
    paths: Sequence[str | os.PathLike],
    weights: Sequence[float] | None = None,
    *,
    normalize: Normalize | None = None,
    gt: str | os.PathLike | None = None,
    sweep: bool = False,
    sweep_points: int = 21,
) -> FusedFiles:
    """Read score files of the same samples (:func:`load_score_file`), fuse them, and score each and the fusion.

    Args:
        paths: S score files, rows in the same sample order.
        weights: S weights (default 1 each).
        normalize: ``"softmax"`` or ``"none"``; default ``"none"`` where every file holds probabilities
            (:func:`are_probabilities`), else ``"softmax"``.
        gt: a labels file (:func:`read_labels`); default: the labels of the first file that has them.
        sweep: also measure ``w * A + (1 - w) * B`` for ``w`` in [0, 1] (:func:`sweep_weights`; two files, and
            labels, needed).
        sweep_points: how many values of ``w``.

    Returns:
        The fused scores, each file's and the fusion's accuracy, and the sweep.

    Raises:
        DatasetError: an unreadable file; a score file whose shape, labels or class names differ from the first
            file's; a ``gt`` of another length than the scores, or that disagrees with a file's labels; a label
            outside the scores' classes. The message names the file.
        ConfigError: no files, a weight count that differs from the file count, an unknown ``normalize``, or a
            sweep without two files or without labels.
    """
    if not paths:
        raise ConfigError("fusion needs at least one score file")
    if normalize is not None:
        _check_normalize(normalize)
    weights = [1.0] * len(paths) if weights is None else [float(w) for w in weights]
    if len(weights) != len(paths):
        raise ConfigError(f"{len(weights)} fusion weights for {len(paths)} score files")
    if sweep and len(paths) != 2:
        raise ConfigError(
            f"a weight sweep (w * A + (1 - w) * B) takes exactly two score files, got {len(paths)}"
        )
    files = [load_score_file(path) for path in paths]
    first = files[0]
    for other in files[1:]:
        _check_same_samples(first, other)
    labels, labels_from = _labels(files, gt)
    num_samples, num_classes = first.scores.shape
    if labels is not None and labels.max() >= num_classes:
        raise DatasetError(
            f"{labels_from}: label {int(labels.max())} is not one of the scores' {num_classes} classes"
        )
    if sweep and labels is None:
        raise ConfigError("a weight sweep needs labels: a gt file, or score files that carry them")
    arrays = [f.scores for f in files]
    if normalize is None:
        normalize = "none" if all(are_probabilities(a) for a in arrays) else "softmax"
    scaled = [_softmax(a) for a in arrays] if normalize == "softmax" else arrays
    fused = fuse_scores(scaled, weights, normalize="none")
    return FusedFiles(
        names=stream_names(paths),
        paths=[f.path for f in files],
        fused=fused,
        normalize=normalize,
        weights=weights,
        labels=labels,
        labels_from=labels_from,
        stream_accuracy=None if labels is None else [accuracy(a, labels) for a in arrays],
        fused_accuracy=None if labels is None else accuracy(fused, labels),
        sweep=sweep_weights(scaled[0], scaled[1], labels, sweep_points) if sweep else [],
    )


def _check_same_samples(first: ScoreFile, other: ScoreFile) -> None:
    """Raise a DatasetError naming ``other`` where it cannot score the same samples and classes as ``first``."""
    (n0, k0), (n, k) = first.scores.shape, other.scores.shape
    if (n, k) != (n0, k0):
        raise DatasetError(
            f"{other.path}: {n} samples x {k} classes, but {first.path} has {n0} x {k0}; "
            "score files to fuse must all be of one shape"
        )
    if first.classes is not None and other.classes is not None and first.classes != other.classes:
        at = next(i for i, (a, b) in enumerate(zip(first.classes, other.classes, strict=True)) if a != b)
        raise DatasetError(
            f"{other.path}: class {at} is {other.classes[at]!r}, but {first.path}'s is {first.classes[at]!r}"
        )
    if first.labels is not None and other.labels is not None:
        differ = int((first.labels != other.labels).sum())
        if differ:
            raise DatasetError(
                f"{other.path}: its labels differ from {first.path}'s at {differ} of {n} samples "
                "(not the same samples in the same order?)"
            )


def _labels(
    files: Sequence[ScoreFile], gt: str | os.PathLike | None
) -> tuple[np.ndarray | None, Path | None]:
    """The labels [N] to score against and where they come from: ``gt``, else the first file carrying some."""
    carrying = next((f for f in files if f.labels is not None), None)
    if gt is None:
        return (None, None) if carrying is None else (carrying.labels, carrying.path)
    gt = Path(gt)
    labels = read_labels(gt)
    num_samples = len(files[0].scores)
    if len(labels) != num_samples:
        raise DatasetError(
            f"{gt}: {len(labels)} labels for the {num_samples} samples of the score files ({files[0].path})"
        )
    if carrying is not None:
        differ = int((labels != carrying.labels).sum())
        if differ:
            raise DatasetError(
                f"{gt}: its labels differ from those in {carrying.path} at {differ} of {num_samples} samples"
            )
    return labels, gt


def plot_sweep(result: FusedFiles, path: str | os.PathLike) -> None:
    """Draw the top-1 accuracy of ``w * A + (1 - w) * B`` against ``w`` and save the chart as a PNG at ``path``
    (matplotlib's Agg renderer, written atomically): each stream's top-1 as a horizontal line, the best ``w``
    marked, and the fusion with the given weights as a point.

    Raises:
        ConfigError: ``result`` has no sweep (:func:`fuse_files` with ``sweep=True``).
    """
    from matplotlib.figure import Figure  # only a plot needs matplotlib

    if not result.sweep or result.stream_accuracy is None:
        raise ConfigError("plotting needs a weight sweep of two score files with labels")
    a, b = result.names
    w = [p.w for p in result.sweep]
    figure = Figure(figsize=(9, 4.2), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(w, [p.top1 for p in result.sweep], marker="o", markersize=3, color="black", label="fused top-1")
    for name, acc, colour in zip(
        result.names, result.stream_accuracy, ("tab:blue", "tab:orange"), strict=True
    ):
        axes.axhline(
            acc.top1, color=colour, linestyle="--", linewidth=1.2, label=f"{name} alone ({acc.top1:.3f})"
        )
    best = best_weight(result.sweep)
    axes.plot(
        [best.w],
        [best.top1],
        marker="*",
        markersize=14,
        color="tab:red",
        linestyle="none",
        label=f"best: w = {best.w:g} ({best.top1:.3f})",
    )
    axes.axvline(best.w, color="tab:red", linewidth=0.8, alpha=0.5)
    total = sum(result.weights)
    if result.fused_accuracy is not None and total > 0 and min(result.weights) >= 0:
        given = result.weights[0] / total  # c_a * A + c_b * B ranks classes as w * A + (1 - w) * B does
        axes.plot(
            [given],
            [result.fused_accuracy.top1],
            marker="D",
            markersize=9,
            markerfacecolor="none",
            markeredgecolor="tab:green",
            markeredgewidth=1.5,
            linestyle="none",
            zorder=4,
            label=f"coefficients {result.weights[0]:g}, {result.weights[1]:g} "
            f"({result.fused_accuracy.top1:.3f})",
        )
    axes.set(xlabel=f"w  (w * {a} + (1 - w) * {b})", ylabel="top-1 accuracy", xlim=(-0.02, 1.02))
    scale = "softmax of each" if result.normalize == "softmax" else "scores as given"
    axes.set_title(f"late fusion of {a} and {b} ({scale}, {len(result.fused):,} samples)", loc="left")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=100)


def _numpy(value: object) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, Tensor) else np.asarray(value)


class MultiStream(nn.Module):
    """Several skeleton models, one per input stream, as one module: raw joints in, fused class probabilities
    out.

    Each model computes its own stream from the raw joints (``stream="bone"`` etc.), so the same input goes to
    all of them; their softmax probabilities are summed with ``weights``.

    Args:
        models: stream name -> a model taking joints [N, M, T, V, C] to logits [N, K] (the same K).
        weights: stream name -> weight (default 1 each).
    """

    def __init__(self, models: Mapping[str, nn.Module], weights: Mapping[str, float] | None = None) -> None:
        super().__init__()
        if not models:
            raise ConfigError("MultiStream needs at least one model")
        self.streams = nn.ModuleDict(dict(models))
        weights = dict(weights or {})
        unknown = set(weights) - set(models)
        if unknown:
            raise ConfigError(f"fusion weights for streams without a model: {', '.join(sorted(unknown))}")
        self.weights = {name: float(weights.get(name, 1.0)) for name in models}

    def forward_streams(self, x: Tensor) -> dict[str, Tensor]:
        """Joints [N, M, T, V, C] -> each stream's logits [N, K]."""
        return {name: model(x) for name, model in self.streams.items()}

    def forward(self, x: Tensor) -> Tensor:
        """Joints [N, M, T, V, C] -> fused probabilities [N, K] (the weighted sum of the streams' softmax)."""
        logits = self.forward_streams(x)
        return sum(self.weights[name] * out.float().softmax(dim=-1) for name, out in logits.items())
