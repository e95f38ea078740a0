"""Scoring views and the result of a multi-view test: what every task's evaluation shares.

    >>> probs = score_views(model, views)                     # [B, V, C, T, H, W] -> [B, K] probabilities
    >>> mapping = match_classes(dataset.classes, labels, model_classes, "data/ucf101")
    >>> result = evaluate_model(model, dataset, classes)      # an EvalResult: scores, labels, metrics

The entry point, which loads a model by name and hands it to its task's evaluation, is
:func:`vidact.engine.evaluate.evaluate`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .._atomic import atomic_write, write_json
from ..data.datasets import VideoClipDataset, collate_clips
from ..data.datasets.samples import class_lookup
from ..data.presets import Preset
from ..data.sampling import ClipSampler, SegmentViews
from ..errors import ConfigError, DatasetError
from .metrics import classification_metrics

__all__ = [
    "Average",
    "AVERAGES",
    "views_sampler",
    "EvalResult",
    "average_views",
    "score_views",
    "match_classes",
    "evaluate_model",
    "write_json",
]

Average = Literal["softmax", "logits"]
AVERAGES = ("softmax", "logits")
_AVERAGES = AVERAGES


def views_sampler(preset: Preset, num_clips: int) -> ClipSampler:
    """The multi-view sampler of a preset: ``num_clips`` evenly spaced clips (:class:`SegmentViews` for TSN)."""
    if preset.segments:
        return SegmentViews(preset.frames, num_clips)
    return ClipSampler.multi_clip(preset.frames, preset.frame_stride, num_clips)


def average_views(logits: torch.Tensor, average: Average = "softmax") -> torch.Tensor:
    """Video scores from the logits of its views: [B, V, K] -> probabilities [B, K].

    ``"softmax"``: the mean over views of ``softmax(logits)``; ``"logits"``: ``softmax`` of the mean logits.
    """
    if average == "softmax":
        return logits.float().softmax(dim=-1).mean(dim=1)
    if average == "logits":
        return logits.float().mean(dim=1).softmax(dim=-1)
    raise ConfigError(f"unknown average {average!r}; choose from {', '.join(_AVERAGES)}")


def score_views(
    model: nn.Module, views: torch.Tensor | Mapping[str, torch.Tensor], average: Average = "softmax"
) -> torch.Tensor:
    """Score every view of a batch of videos in one forward pass and average them per video.

    Args:
        views: [B, V, C, T, H, W] (V clips, centre crops) or [B, V, S, C, T, H, W] (V clips x S crops), on the
            model's device; or a dict of such tensors with the same views, for a model whose input is a dict
            (a two-stream pair's ``{"video", "flow"}``).

    Returns:
        [B, K] float32 class probabilities (see :func:`average_views`).
    """
    tensors = dict(views) if isinstance(views, Mapping) else {"": views}
    for value in tensors.values():
        if value.ndim not in (6, 7):
            raise ValueError(
                f"expected views [B, V, C, T, H, W] or [B, V, S, C, T, H, W], got {tuple(value.shape)}"
            )
    flat = {
        key: value.flatten(0, value.ndim - 5) for key, value in tensors.items()
    }  # [B * V * S, C, T, H, W]
    batch = next(iter(tensors.values())).shape[0]
    logits = model(flat if isinstance(views, Mapping) else flat[""])  # [B * V * S, K]
    return average_views(logits.reshape(batch, -1, logits.shape[-1]), average)


# -- results -------------------------------------------------------------------------------------------------
@dataclass
class EvalResult:
    """What :func:`evaluate` measured.

    Attributes:
        classes: the model's class names; scores and labels index them.
        paths: [N] the videos evaluated, in dataset order.
        labels: [N] int64 true classes.
        scores: [N, K] float32 class probabilities averaged over the views.
        metrics: :func:`~vidact.engine.metrics.classification_metrics` of ``scores`` and ``labels``.
        num_clips, num_crops: views per video.
        average: how the views were averaged (``"softmax"`` or ``"logits"``).
        failed: ``(path, reason)`` of the videos left out because they could not be read.
        checkpoint, data, split: what was evaluated on what, when known.
    """

    classes: list[str]
    paths: list[str]
    labels: np.ndarray
    scores: np.ndarray
    metrics: dict[str, Any]
    num_clips: int
    num_crops: int
    average: Average
    failed: list[tuple[str, str]] = field(default_factory=list)
    checkpoint: str | None = None
    data: str | None = None
    split: str | None = None

    def summary_rows(self) -> list[tuple[str, str]]:
        """(metric, value) rows of ``vidact eval``'s table."""
        m = self.metrics
        left_out = f" ({len(self.failed)} unreadable, left out)" if self.failed else ""
        return [
            ("samples", f"{m['num_samples']:,}{left_out}"),
            ("views", f"{self.num_clips} clips x {self.num_crops} crops, {self.average} averaged"),
            ("top-1", f"{100 * m['top1']:.2f} %"),
            ("top-5", f"{100 * m['top5']:.2f} %"),
            ("mean class accuracy", f"{100 * m['mean_class_acc']:.2f} %"),
        ]

    def save_scores(self, path: str | os.PathLike) -> None:
        """Write every video's scores as an ``.npz`` at ``path`` (atomically), what ``vidact fuse`` reads:

        ``scores`` [N, K] float32 class *probabilities* (the views averaged as :attr:`average` says, so a
        fusion sums them as they are), ``labels`` [N] int64 (indices into ``classes``), ``paths`` [N] and
        ``classes`` [K] (fixed-width unicode arrays: ``np.load(path, allow_pickle=False)`` reads them), and
        ``average`` (a 0-d string).
        """
        with atomic_write(path, "wb") as f:
            np.savez(
                f,
                scores=np.asarray(self.scores, dtype=np.float32),
                labels=np.asarray(self.labels, dtype=np.int64),
                paths=np.array([str(p) for p in self.paths], dtype=str),
                classes=np.array(list(self.classes), dtype=str),
                average=np.array(self.average, dtype=str),
            )

    def to_json(self, *, per_video: bool = False, top: int = 5) -> dict[str, Any]:
        """A JSON-ready dict: the setting, the metrics (per-class accuracy by class name, ``None`` for classes
        without videos) and, with ``per_video``, every video's label, prediction and ``top`` classes by score."""
        metrics = dict(self.metrics)
        metrics["per_class_acc"] = dict(zip(self.classes, metrics["per_class_acc"], strict=True))
        out: dict[str, Any] = {
            "checkpoint": self.checkpoint,
            "data": self.data,
            "split": self.split,
            "num_clips": self.num_clips,
            "num_crops": self.num_crops,
            "average": self.average,
            "classes": list(self.classes),
            "metrics": metrics,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
        }
        if per_video:
            k = min(top, len(self.classes))
            # best first, ties to the higher class index: the order of the metrics (vidact.engine.metrics)
            ranked = np.argsort(self.scores, axis=1, kind="stable")[:, ::-1][:, :k]
            out["videos"] = [
                {
                    "path": path,
                    "label": self.classes[label],
                    "prediction": self.classes[order[0]],
                    "top": [{"label": self.classes[c], "score": float(row[c])} for c in order],
                }
                for path, label, row, order in zip(self.paths, self.labels, self.scores, ranked, strict=True)
            ]
        return out


def match_classes(
    dataset_classes: Sequence[str], labels: Sequence[int], model_classes: Sequence[str], where: str
) -> np.ndarray:
    """Map dataset labels to the model's class indices by class name.

    Args:
        dataset_classes: the dataset's class names.
        labels: the labels that occur in the dataset (classes without videos need no match).
        model_classes: the model's class names.
        where: the dataset, for the error message.

    Returns:
        [len(dataset_classes)] int64: the model's index of every dataset class (-1 for unused classes).

    Raises:
        DatasetError: a class that occurs is not one of the model's.
    """
    lookup = class_lookup(model_classes)
    mapping = np.full(len(dataset_classes), -1, dtype=np.int64)
    for label in sorted(set(int(x) for x in labels)):
        name = dataset_classes[label]
        index = lookup(name)
        if index is None:
            raise DatasetError(
                f"{where}: class {name!r} is not one of the model's {len(model_classes)} classes "
                f"(first: {', '.join(map(repr, model_classes[:3]))})"
            )
        mapping[label] = index
    return mapping


def evaluate_model(
    model: nn.Module,
    dataset: VideoClipDataset,
    classes: Sequence[str],
    *,
    average: Average = "softmax",
    batch_size: int = 1,
    workers: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    source: str = "dataset",
    input_keys: Sequence[str] = ("video",),
    collate: Callable[[list[Any]], dict[str, Any]] = collate_clips,
) -> EvalResult:
    """Score every video of ``dataset`` with ``model`` and compute the metrics.

    Args:
        model: maps clips [N, C, T, H, W] to logits [N, K]; put in eval mode here.
        dataset: items whose ``"video"`` is the views of one video, [V, C, T, H, W] (one crop per clip) or
            [V, S, C, T, H, W] (S crops per clip): a multi-view sampler with an :meth:`~vidact.data.presets.Preset.eval_transform`.
        classes: the model's K class names; the dataset's are matched to them by name (:func:`match_classes`).
        average: ``"softmax"`` or ``"logits"`` (see the module docstring).
        batch_size: videos per forward pass.
        workers: DataLoader worker processes decoding videos (0: in this process).
        device: where the model runs.
        progress: show a progress bar.
        source: what the dataset is (its root), for error messages.
        input_keys: the item entries the model reads: one (its input is that tensor) or several (its input is
            the dict of them, all with the same views: a two-stream pair's ``("video", "flow")``).
        collate: how the dataset's items become a batch.

    Raises:
        DatasetError: the dataset has a class the model does not know, or no video could be decoded.
    """
    if average not in _AVERAGES:
        raise ConfigError(f"unknown average {average!r}; choose from {', '.join(_AVERAGES)}")
    if dataset.classes is None:
        raise DatasetError(f"{source}: the dataset has no class names to match to the model's")
    label_map = match_classes(dataset.classes, [label for _, label in dataset.samples], classes, source)
    device = torch.device(device)
    model = model.to(device).eval()
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
    )
    paths: list[str] = []
    labels: list[int] = []
    scores: list[torch.Tensor] = []
    failed = dict(dataset.bad_videos)
    num_clips = num_crops = 0
    bar = tqdm(total=len(dataset), desc="evaluating", unit="video", disable=not progress)
    with torch.inference_mode(), bar:
        for batch in loader:
            views = {key: batch[key].to(device, non_blocking=True) for key in input_keys}
            first = views[input_keys[0]]  # [B, V, C, T, H, W] or [B, V, S, C, T, H, W]
            num_clips, num_crops = first.shape[1], (first.shape[2] if first.ndim == 7 else 1)
            probs = score_views(model, views if len(input_keys) > 1 else first, average).cpu()
            for j, meta in enumerate(batch["meta"]):
                # An item standing in for an unreadable video repeats another sample: drop it, keep the failure.
                if meta["skipped"]:
                    failed.update((f.path, f.reason) for f in meta["skipped"])
                    continue
                paths.append(meta["path"])
                labels.append(int(label_map[batch["label"][j]]))
                scores.append(probs[j])
            bar.update(len(batch["meta"]))
    if not paths:
        raise DatasetError(f"{source}: no video could be decoded")
    score_array = torch.stack(scores).numpy()
    label_array = np.asarray(labels, dtype=np.int64)
    return EvalResult(
        classes=list(classes),
        paths=paths,
        labels=label_array,
        scores=score_array,
        metrics=classification_metrics(score_array, label_array, len(classes)),
        num_clips=num_clips,
        num_crops=num_crops,
        average=average,
        failed=sorted(failed.items()),
    )
