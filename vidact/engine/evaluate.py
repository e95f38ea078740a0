"""Multi-view evaluation of a trained model on a labelled dataset (``vidact eval``).

    >>> result = evaluate("runs/ucf101_simple3d", "data/ucf101", split="test", num_clips=10, num_crops=3)
    >>> result.metrics["top1"], result.metrics["mean_class_acc"]

**Views.** Every video gives ``num_clips`` x ``num_crops`` views. The clips are ``clip_len`` frames every
``stride``-th frame, their starts evenly spaced from the first frame to the last possible one
(:func:`~vidact.data.sampling.multi_clip_indices`); for a model trained on TSN segments they are
:class:`SegmentViews`. Each clip is resized to ``short_side`` and cut into one centre crop, or three crops along
the long side (:class:`~vidact.data.transforms.ThreeCrop`). The clip length, stride, sampler, sizes and
normalisation are the training recipe's (the checkpoint's ``config``), so the test input is made the way the
training input was.

**Averaging.** The model scores every view, and a video's class scores are

- ``average="softmax"`` (default, the common protocol): the mean of its views' softmax probabilities;
- ``average="logits"``: the softmax of the mean of its views' logits.

Either way the scores are probabilities; top-1 / top-5 accuracy, the mean class accuracy, the confusion matrix and
the per-class accuracies are computed from them by :mod:`vidact.engine.metrics`.

**Cost.** A video is decoded once: the frames of all its clips are one ``VideoReader.get_frames`` request
(the dataset's multi-clip sampler), and the views of ``batch_size`` videos go through the model as one batch
(``batch_size * num_clips * num_crops`` clips) under ``torch.inference_mode``.

**Classes.** A dataset's classes are matched to the model's by name: exactly, else ignoring case and treating
``_`` as a space (``air_drumming`` is ``air drumming``). A video of a class the model does not know is an error.
Videos that cannot be decoded are left out and listed in :attr:`EvalResult.failed`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .._atomic import write_json
from ..data.datasets import VideoClipDataset, build_dataset, collate_clips
from ..data.datasets.samples import class_lookup
from ..data.presets import Preset
from ..data.sampling import ClipSampler, SegmentViews
from ..errors import ConfigError, DatasetError
from ..models import hub
from .checkpoint import load_model
from .config import DataConfig, EvalConfig, recipe_normalization
from .metrics import classification_metrics

__all__ = [
    "Average",
    "recipe_preset",
    "views_sampler",
    "EvalResult",
    "average_views",
    "score_views",
    "match_classes",
    "evaluate_model",
    "evaluate",
    "write_json",
]

Average = Literal["softmax", "logits"]
_AVERAGES = ("softmax", "logits")


# -- how a model's input is made -----------------------------------------------------------------------------
def recipe_preset(config: Mapping[str, Any]) -> Preset:
    """The input a model was trained on, from its recipe (a checkpoint's ``config``): the ``data`` section's
    ``clip_len``, ``stride``, ``short_side``, ``crop_size``, ``normalize`` (see
    :func:`~vidact.engine.config.recipe_normalization`) and ``sampler``; the views of the ``eval`` section. A key the recipe lacks has its :class:`~vidact.engine.config.DataConfig`
    (or :class:`~vidact.engine.config.EvalConfig`) default, as in training.

    Raises:
        ConfigError: an unknown normalisation, or ``pretrained`` without published weights.
    """
    data = {**asdict(DataConfig()), **(config.get("data") or {})}
    views = {**asdict(EvalConfig()), **(config.get("eval") or {})}
    mean, std = recipe_normalization(data, config.get("model") or {}) or ((0.0,), (1.0,))
    return Preset(
        frames=int(data["clip_len"]),
        frame_stride=int(data["stride"]),
        sampler="segments" if data["sampler"] == "segments" else "clip",
        short_side=int(data["short_side"]),
        crop_size=int(data["crop_size"]),
        mean=tuple(mean),
        std=tuple(std),
        num_clips=int(views["num_clips"]),
        num_crops=int(views["num_crops"]),
    )


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


def score_views(model: nn.Module, views: torch.Tensor, average: Average = "softmax") -> torch.Tensor:
    """Score every view of a batch of videos in one forward pass and average them per video.

    Args:
        views: [B, V, C, T, H, W] (V clips, centre crops) or [B, V, S, C, T, H, W] (V clips x S crops), on the
            model's device.

    Returns:
        [B, K] float32 class probabilities (see :func:`average_views`).
    """
    if views.ndim not in (6, 7):
        raise ValueError(
            f"expected views [B, V, C, T, H, W] or [B, V, S, C, T, H, W], got {tuple(views.shape)}"
        )
    batch = views.shape[0]
    logits = model(views.flatten(0, views.ndim - 5))  # [B * V * S, K]
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
        collate_fn=collate_clips,
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
            video = batch["video"]  # [B, V, C, T, H, W] or [B, V, S, C, T, H, W]
            num_clips, num_crops = video.shape[1], (video.shape[2] if video.ndim == 7 else 1)
            probs = score_views(model, video.to(device, non_blocking=True), average).cpu()
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


def evaluate(
    run_or_ckpt: str | os.PathLike,
    data: str | os.PathLike,
    *,
    split: str | None = None,
    kind: str = "folder",
    annotations: str | os.PathLike | None = None,
    fold: int = 1,
    num_clips: int | None = None,
    num_crops: int | None = None,
    average: Average = "softmax",
    batch_size: int | None = None,
    workers: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> EvalResult:
    """Evaluate a run (its best checkpoint) or a checkpoint file on one split of a dataset.

    ``split``, ``num_clips``, ``num_crops`` and ``batch_size`` default to the recipe's ``eval`` section
    (:class:`~vidact.engine.config.EvalConfig`: split ``"test"``, 10 clips x 3 crops, one video per batch).

    Args:
        run_or_ckpt: a run directory or a vidact checkpoint file; or published weights by name
            (``r2plus1d_18.kinetics400``), evaluated with their preset and their test protocol's views. A run
            of the ``skeleton`` task is evaluated on joint sequences
            (:func:`~vidact.engine.tasks.skeleton.evaluate_skeleton`): ``data`` (or ``annotations``) is then
            the annotation pickle or its folder, and ``kind`` and ``fold`` are not read.
        data: the dataset root.
        split: the split, as :data:`~vidact.data.datasets.DATASET_KINDS` says for ``kind``; for class folders a
            subfolder of ``data``, or ``""`` when ``data`` itself holds the class folders.
        kind: the dataset layout (``"folder"``, ``"ucf101"``, ``"kinetics"``, ...; see
            :func:`~vidact.data.datasets.build_dataset`).
        annotations: the split file(s), CSV or list file the layout reads.
        fold: the official split number of UCF-101 and HMDB-51.
        num_clips, num_crops: views per video (1 or 3 crops).
        average, batch_size, workers, device, progress: as in :func:`evaluate_model`.

    Raises:
        CheckpointError: no such run or file, or not a vidact checkpoint.
        DatasetError, ConfigError: the dataset cannot be read in that layout, or has classes the model lacks.
    """
    if hub.is_weights_name(os.fspath(run_or_ckpt)) and not os.path.exists(run_or_ckpt):
        # Published weights by name: their preset, class names and test protocol's views.
        model = hub.load_published(os.fspath(run_or_ckpt), progress=progress)
        preset, classes, source = model.preset, model.classes, os.fspath(run_or_ckpt)
        recipe = {**asdict(EvalConfig()), "num_clips": preset.num_clips, "num_crops": preset.num_crops}
    else:
        model, info = load_model(run_or_ckpt)
        if (info.config.get("task") or {}).get("name") == "skeleton":  # joint sequences, not videos
            from .tasks.skeleton import evaluate_skeleton

            if num_crops not in (None, 1):
                raise ConfigError(f"a skeleton model has no crops; got {num_crops}")
            result = evaluate_skeleton(
                model,
                info.config,
                info.classes,
                annotations or data,
                split=split,
                num_clips=num_clips,
                average=average,
                batch_size=batch_size,
                workers=workers,
                device=device,
                progress=progress,
            )
            result.checkpoint = str(info.path)
            return result
        preset, classes, source = recipe_preset(info.config), info.classes, str(info.path)
        recipe = {**asdict(EvalConfig()), **(info.config.get("eval") or {})}
    split = recipe["split"] if split is None else split
    num_clips = recipe["num_clips"] if num_clips is None else num_clips
    num_crops = recipe["num_crops"] if num_crops is None else num_crops
    if num_crops not in (1, 3):
        raise ConfigError(f"the number of crops must be 1 or 3, got {num_crops}")
    if num_clips < 1:
        raise ConfigError(f"the number of clips must be at least 1, got {num_clips}")
    dataset = build_dataset(
        kind,
        data,
        split or None,
        sampler=views_sampler(preset, num_clips),
        annotations=annotations,
        fold=fold,
        transform=preset.eval_transform("center" if num_crops == 1 else "three"),
        short_side=preset.decode_short_side,
        progress=progress,
    )
    result = evaluate_model(
        model,
        dataset,
        classes,
        average=average,
        batch_size=recipe["batch_size"] if batch_size is None else batch_size,
        workers=workers,
        device=device,
        progress=progress,
        source=os.fspath(data),
    )
    result.checkpoint, result.data, result.split = source, os.fspath(data), split or None
    return result
