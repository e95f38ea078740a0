"""Classification metrics: top-k accuracy, confusion matrix, per-class and mean class accuracy.

Plain functions on tensors (NumPy arrays too), shared by training, ``vidact eval`` and prediction:

    >>> m = classification_metrics(scores, labels, num_classes=101)   # scores [N, K], labels [N]
    >>> m["top1"], m["top5"], m["mean_class_acc"]

**Ties.** Scores may tie (a model that outputs the same logits for two classes, or fused probabilities).
Classes are ranked by score, and among equal scores the class with the *higher* index ranks first: this is the
order of ``sklearn.metrics.top_k_accuracy_score`` (a stable ascending sort, reversed), so
:func:`topk_accuracy` equals it exactly, ties included. :func:`predictions` uses the same order, so top-1
accuracy is always the trace of the confusion matrix over N. It differs from
``accuracy_score(labels, scores.argmax(1))`` only on ties, where ``argmax`` takes the lower index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "predictions",
    "topk_accuracy",
    "confusion_matrix",
    "per_class_accuracy",
    "mean_class_accuracy",
    "classification_metrics",
]

ArrayLike = Tensor | np.ndarray


def _scores_and_labels(scores: ArrayLike, labels: ArrayLike) -> tuple[Tensor, Tensor]:
    scores = torch.as_tensor(scores).detach().cpu()
    labels = torch.as_tensor(labels).detach().cpu().long()
    if scores.ndim != 2 or labels.ndim != 1 or scores.shape[0] != labels.shape[0]:
        raise ValueError(
            f"expected scores [N, K] and labels [N], got {tuple(scores.shape)} and {tuple(labels.shape)}"
        )
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < scores.shape[1]:
        raise ValueError(
            f"labels must be in [0, {scores.shape[1]}), got {int(labels.min())}..{int(labels.max())}"
        )
    return scores.double(), labels  # exact for every float dtype: no ties appear that were not there


def _true_class_rank(scores: Tensor, labels: Tensor) -> Tensor:
    """Rank of each sample's true class (0 = first), ties broken towards the higher index. Returns [N]."""
    true_score = scores.gather(1, labels[:, None])  # [N, 1]
    above = scores > true_score
    index = torch.arange(scores.shape[1])
    tied_before = (scores == true_score) & (index[None, :] > labels[:, None])
    return (above | tied_before).sum(dim=1)


def predictions(scores: ArrayLike) -> Tensor:
    """The top-ranked class of each row of ``scores`` [N, K] (ties: the higher index). Returns [N] int64."""
    scores = torch.as_tensor(scores).detach().cpu()
    num_classes = scores.shape[1]
    return num_classes - 1 - scores.flip(1).argmax(dim=1)


def topk_accuracy(scores: ArrayLike, labels: ArrayLike, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Fraction of samples whose true class is among the ``k`` best-scored, for each ``k`` in ``ks``.

    Args:
        scores: [N, K] logits or probabilities (any monotonic scores: only their order matters).
        labels: [N] true class indices.
        ks: the values of k; a k of K or more counts every sample as correct.

    Returns:
        ``{k: accuracy in [0, 1]}``; NaN for every k when N = 0.
    """
    scores, labels = _scores_and_labels(scores, labels)
    if labels.numel() == 0:
        return {k: math.nan for k in ks}
    rank = _true_class_rank(scores, labels)
    return {k: float((rank < k).double().mean()) for k in ks}


def confusion_matrix(preds: ArrayLike, labels: ArrayLike, num_classes: int) -> Tensor:
    """Counts of (true class, predicted class) pairs.

    Args:
        preds: [N] predicted class indices.
        labels: [N] true class indices.
        num_classes: K.

    Returns:
        [K, K] int64: row = true class, column = predicted class.
    """
    preds = torch.as_tensor(preds).detach().cpu().long().reshape(-1)
    labels = torch.as_tensor(labels).detach().cpu().long().reshape(-1)
    if preds.shape != labels.shape:
        raise ValueError(f"preds and labels differ in length: {preds.numel()} and {labels.numel()}")
    for name, values in (("preds", preds), ("labels", labels)):
        if values.numel() and not 0 <= int(values.min()) <= int(values.max()) < num_classes:
            raise ValueError(f"{name} must be in [0, {num_classes})")
    flat = torch.bincount(labels * num_classes + preds, minlength=num_classes * num_classes)
    return flat.view(num_classes, num_classes)


def per_class_accuracy(cm: Tensor) -> Tensor:
    """Recall of each class from a confusion matrix [K, K] (rows = true). Returns [K] float64, NaN for the
    classes that have no sample."""
    cm = torch.as_tensor(cm).double()
    support = cm.sum(dim=1)
    return torch.where(support > 0, cm.diagonal() / support.clamp(min=1), torch.full_like(support, math.nan))


def mean_class_accuracy(cm: Tensor) -> float:
    """Mean of :func:`per_class_accuracy` over the classes present (sklearn's ``balanced_accuracy_score``);
    NaN when there is no sample at all."""
    per_class = per_class_accuracy(cm)
    present = per_class[~per_class.isnan()]
    return float(present.mean()) if present.numel() else math.nan


def classification_metrics(scores: ArrayLike, labels: ArrayLike, num_classes: int) -> dict[str, Any]:
    """Every metric of a validation or test set, as JSON-ready Python values.

    Args:
        scores: [N, K] logits or probabilities.
        labels: [N] true class indices.
        num_classes: K (must equal ``scores.shape[1]``).

    Returns:
        ``{"top1": float, "top5": float, "mean_class_acc": float,`` ``"confusion_matrix": [[int] * K] * K``
        (rows = true class), ``"per_class_acc": [float | None] * K`` (``None`` for classes without samples, so
        the dict stays valid JSON), ``"num_samples": int}``.
    """
    scores, labels = _scores_and_labels(scores, labels)
    if scores.shape[1] != num_classes:
        raise ValueError(f"scores have {scores.shape[1]} columns for {num_classes} classes")
    accuracy = topk_accuracy(scores, labels, ks=(1, 5))
    cm = confusion_matrix(predictions(scores), labels, num_classes)
    per_class = per_class_accuracy(cm)
    return {
        "top1": accuracy[1],
        "top5": accuracy[5],
        "mean_class_acc": mean_class_accuracy(cm),
        "confusion_matrix": cm.tolist(),
        "per_class_acc": [None if math.isnan(a) else a for a in per_class.tolist()],
        "num_samples": int(labels.numel()),
    }
