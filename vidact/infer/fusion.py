"""Late fusion: several models' class scores for the same samples, combined into one (``vidact fuse``).

    >>> scores, labels = read_scores("joint.pkl")                # [N, K] and [N] (PYSKL / mmaction2 test output)
    >>> fused = fuse_scores([joint, bone], weights=[1, 1])        # [N, K]
    >>> model = MultiStream({"joint": stgcn_j, "bone": stgcn_b})  # one module: raw joints in, fused scores out

Skeleton models are trained once per input stream (joints, bones, joint motion, bone motion: every vidact
skeleton model derives its stream from raw joints inside, ``stream=``) and their scores added at test time, PYSKL's
"2s" and "4s" ensembles; an RGB and an optical-flow network's scores are fused the same way (two-stream networks).
Scores are put on one scale first, then the weighted sum is taken: ``normalize="softmax"`` turns logits into
probabilities; scores that already are probabilities (mmaction2's and PYSKL's test outputs,
:func:`are_probabilities`) are summed as they are (``"none"``: a softmax of probabilities would flatten them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from torch import Tensor, nn

from .._unpickle import safe_unpickle
from ..errors import ConfigError, DatasetError, UnsafePickleError

__all__ = [
    "Normalize",
    "fuse_scores",
    "read_scores",
    "are_probabilities",
    "top1_accuracy",
    "FusedFiles",
    "fuse_files",
    "MultiStream",
]

Normalize = Literal["softmax", "none"]


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def are_probabilities(scores: np.ndarray, atol: float = 1e-3) -> bool:
    """Whether every row of ``scores`` [N, K] is non-negative and sums to 1 (within ``atol``)."""
    scores = np.asarray(scores, dtype=np.float64)
    return bool((scores >= 0).all() and np.allclose(scores.sum(axis=1), 1.0, atol=atol))


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
    if normalize not in ("softmax", "none"):
        raise ConfigError(f"normalize must be 'softmax' or 'none', got {normalize!r}")
    if normalize == "softmax":
        arrays = [_softmax(a) for a in arrays]
    return sum(w * a for w, a in zip(weights, arrays, strict=True))


def read_scores(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores [N, K] (and labels [N] where the file has them) from a score file: mmaction2 / PYSKL test output
    (a pickle list of ``{"gt_label", "pred_score"}`` dicts, or of score vectors), ``.npy`` [N, K], or ``.npz``
    with ``scores`` (and ``labels``). Pickles are read without running code
    (:func:`vidact._unpickle.safe_unpickle`, tensors through torch's weights-only loader).

    Raises:
        DatasetError: a missing or unreadable file, or one without an [N, K] score array.
        UnsafePickleError: a pickle that asks for anything but data (it could run code): refused unread.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    labels = None
    try:
        if path.suffix == ".npy":
            scores = np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                scores = data["scores"]
                labels = data["labels"] if "labels" in data else None
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
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(labels) != len(scores):
            raise DatasetError(f"{path}: {len(labels)} labels for {len(scores)} score rows")
    return scores, labels


def top1_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """The share of samples whose highest score is their label: ``scores`` [N, K], ``labels`` [N] ints."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise ConfigError(f"top-1 needs scores [N, K] and labels [N], got {scores.shape} and {labels.shape}")
    return float((scores.argmax(1) == labels).mean())


@dataclass(frozen=True)
class FusedFiles:
    """Score files fused (:func:`fuse_files`).

    Attributes:
        fused: [N, K] float64 fused scores.
        normalize: how the scores were put on one scale (``"softmax"`` or ``"none"``).
        weights: one weight per file.
        top1: each file's top-1 accuracy, in the order given; None each where no file carries labels.
        fused_top1: the fused scores' top-1 accuracy; None where no file carries labels.
    """

    fused: np.ndarray
    normalize: Normalize
    weights: list[float]
    top1: list[float | None]
    fused_top1: float | None


def fuse_files(
    paths: Sequence[str | os.PathLike],
    weights: Sequence[float] | None = None,
    *,
    normalize: Normalize | None = None,
) -> FusedFiles:
    """Read score files of the same samples (:func:`read_scores`), fuse them, and score each and the fusion.

    Args:
        paths: S score files, rows in the same sample order.
        weights: S weights (default 1 each).
        normalize: ``"softmax"`` or ``"none"``; default ``"none"`` where every file holds probabilities
            (:func:`are_probabilities`), else ``"softmax"``.

    Returns:
        The fused scores and the top-1 accuracies, measured against the labels of the first file that has them.

    Raises:
        DatasetError: an unreadable score file.
        ConfigError: files of different shapes, or a weight count that differs from the file count.
    """
    loaded = [read_scores(path) for path in paths]
    arrays = [scores for scores, _ in loaded]
    if normalize is None:
        normalize = "none" if all(are_probabilities(a) for a in arrays) else "softmax"
    fused = fuse_scores(arrays, weights, normalize=normalize)
    labels = next((lab for _, lab in loaded if lab is not None), None)
    return FusedFiles(
        fused=fused,
        normalize=normalize,
        weights=[1.0] * len(arrays) if weights is None else [float(w) for w in weights],
        top1=[None if labels is None else top1_accuracy(a, labels) for a in arrays],
        fused_top1=None if labels is None else top1_accuracy(fused, labels),
    )


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
