"""Reports of a validation or test set: the confusion matrix as a PNG and per-class accuracy as CSV.

    >>> m = classification_metrics(scores, labels, num_classes)
    >>> save_confusion_matrix(m["confusion_matrix"], classes, "runs/x/confusion_matrix.png")
    >>> save_per_class_accuracy(m["confusion_matrix"], classes, "runs/x/per_class_accuracy.csv")

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot, no display, no global state); both
files are written atomically (:mod:`vidact._atomic`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from .._atomic import atomic_write
from .metrics import per_class_accuracy

__all__ = ["save_confusion_matrix", "save_per_class_accuracy"]

#: Up to this many classes each cell shows its percentage.
_ANNOTATE_MAX = 20


def _as_matrix(cm: Tensor | Sequence[Sequence[int]], classes: Sequence[str]) -> Tensor:
    cm = torch.as_tensor(cm, dtype=torch.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(classes):
        raise ValueError(
            f"expected a [{len(classes)}, {len(classes)}] confusion matrix, got {tuple(cm.shape)}"
        )
    return cm


def save_confusion_matrix(
    cm: Tensor | Sequence[Sequence[int]],
    classes: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str = "Confusion matrix (rows normalised)",
) -> None:
    """Draw the row-normalised confusion matrix with class names on both axes and save it as a PNG.

    Each row (true class) is divided by its number of samples, so the diagonal reads as per-class accuracy;
    rows of classes without samples stay empty. The figure grows with the number of classes and the labels
    shrink, so 50 classes stay readable; up to 20 classes each non-empty cell also shows its percentage.

    Args:
        cm: [K, K] counts, rows = true class, columns = predicted class.
        classes: the K class names.
        path: the PNG file to write.
    """
    cm = _as_matrix(cm, classes)
    num_classes = len(classes)
    support = cm.sum(dim=1, keepdim=True)
    rates = (cm.double() / support.clamp(min=1)).numpy()

    side = min(max(5.0, 0.3 * num_classes + 3.0), 24.0)
    label_size = 9 if num_classes <= 20 else 7 if num_classes <= 50 else 5
    fig = Figure(figsize=(side + 1.5, side), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label="fraction of the true class")
    ticks = range(num_classes)
    ax.set_xticks(ticks, labels=list(classes), rotation=90, fontsize=label_size)
    ax.set_yticks(ticks, labels=list(classes), fontsize=label_size)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if num_classes <= _ANNOTATE_MAX:
        for true in range(num_classes):
            if support[true] == 0:
                continue
            for pred in range(num_classes):
                rate = rates[true, pred]
                if rate > 0:
                    color = "white" if rate > 0.5 else "black"
                    ax.text(
                        pred, true, f"{100 * rate:.0f}", ha="center", va="center", fontsize=8, color=color
                    )
    with atomic_write(path) as f:
        fig.savefig(f, format="png")


def save_per_class_accuracy(
    cm: Tensor | Sequence[Sequence[int]], classes: Sequence[str], path: str | os.PathLike
) -> None:
    """Write ``index,class,samples,correct,accuracy`` per class, in label order; the accuracy of a class
    without samples is left empty.

    Args:
        cm: [K, K] counts, rows = true class, columns = predicted class.
        classes: the K class names.
        path: the CSV file to write.
    """
    cm = _as_matrix(cm, classes)
    accuracy = per_class_accuracy(cm)
    with atomic_write(path, "w") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "class", "samples", "correct", "accuracy"])
        for k, name in enumerate(classes):
            samples = int(cm[k].sum())
            writer.writerow(
                [k, name, samples, int(cm[k, k]), "" if samples == 0 else f"{float(accuracy[k]):.6f}"]
            )
