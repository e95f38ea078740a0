"""Classification: labelled clips, soft-target cross-entropy (label smoothing, mixup), top-k accuracy.

The recipe's ``task: classification`` (the default). Its run directory adds to the loop's:

====================================  =====================================================================
``metrics.json``                      ``classes``, ``per_class_accuracy`` (best epoch), unreadable videos
``confusion_matrix.png``              the best epoch's validation confusion matrix, rows normalised
``per_class_accuracy.csv``            the best epoch's validation accuracy per class
====================================  =====================================================================

``metrics.csv`` columns: ``train_loss`` and ``train_acc`` (on the labels before mixup), ``val_top1``,
``val_top5``, ``val_mean_class_acc``.

**What the model reads.** The batch entries of the task's input modality (:data:`INPUT_KEYS`): clips
``batch["video"]``, flow clips ``batch["flow"]``; a model of several (a two-stream pair) reads them as one dict,
``{"video": ..., "flow": ...}``, and mixup blends every entry with the same weight and pairing.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ...data.datasets import build_dataset, collate_clips
from ...errors import ConfigError
from ...models.loaded import LoadedModel
from ..config import EvalConfig
from ..metrics import classification_metrics
from ..optim import mixup, soft_cross_entropy, soft_targets
from ..report import save_confusion_matrix, save_per_class_accuracy
from ..scoring import Average, EvalResult, evaluate_model, views_sampler
from .base import Batch, StepOutput, Task, TaskData, build_network, recipe_of, video_datasets
from .registry import register_task

__all__ = ["Classification", "INPUT_KEYS", "evaluate_video", "eval_defaults"]

#: The batch entries a model of each input modality reads: one is handed to the model as the tensor itself,
#: several as a dict of them (a two-stream pair reads ``{"video": [B, 3, S, H, W], "flow": [B, 2, S*L, H, W]}``).
INPUT_KEYS: dict[str, tuple[str, ...]] = {
    "video": ("video",),
    "flow": ("flow",),
    "rgb+flow": ("video", "flow"),
}

ModelInput = Tensor | dict[str, Tensor]


@register_task
class Classification(Task):
    """Clips [B, 3, T, H, W] with labels [B] -> logits [B, K]; uses ``train.label_smoothing`` and
    ``train.mixup_alpha``; the best epoch has the highest validation top-1."""

    name = "classification"
    loss_names = ("cross_entropy",)
    train_stats = ("acc",)
    val_metrics = ("top1", "top5", "mean_class_acc")
    monitor = "top1"

    @property
    def input_key(self) -> str | tuple[str, ...]:
        """The batch entry the model reads, or the entries of a model that reads several: those of the task's
        input modality (:data:`INPUT_KEYS`; a subclass may name its own)."""
        keys = INPUT_KEYS.get(self.modality)
        if keys is None:
            raise ConfigError(f"task {self.name}: no batch entries known for {self.modality} models")
        return keys[0] if len(keys) == 1 else keys

    def model_input(self, batch: Batch) -> ModelInput:
        """What the model reads of ``batch``: ``batch[input_key]``, or a dict of the entries it names."""
        key = self.input_key
        return batch[key] if isinstance(key, str) else {k: batch[k] for k in key}

    @classmethod
    def evaluate(cls, loaded: LoadedModel, data: str | os.PathLike, **options: Any) -> EvalResult:
        """Clips x crops per video of a video dataset, scores averaged (:func:`evaluate_video`)."""
        return evaluate_video(loaded, data, **options)

    def build_data(self, *, seed: int, validate: bool, progress: bool) -> TaskData:
        train_set, val_set = video_datasets(
            self.config.data, seed, validate, progress, model=self.config.model
        )
        self.classes = list(train_set.classes)
        self.data = TaskData(train_set, val_set, collate=collate_clips)
        return self.data

    @property
    def outputs(self) -> list[str]:
        return self.classes

    def build_model(self) -> nn.Module:
        return build_network(self.config.model, len(self.classes))

    def training_step(self, model: nn.Module, batch: Batch, rng: np.random.Generator) -> StepOutput:
        train = self.config.train
        clips, labels = self.model_input(batch), batch["label"]
        targets = soft_targets(labels, len(self.classes), train.label_smoothing)
        if train.mixup_alpha > 0:
            clips, targets = _mixup(clips, targets, train.mixup_alpha, rng)
        logits = model(clips)
        loss = soft_cross_entropy(logits, targets)
        correct = int((logits.detach().argmax(dim=1) == labels).sum())
        return StepOutput({"cross_entropy": loss}, size=len(labels), stats={"acc": correct})

    def validation_step(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        return {"scores": model(self.model_input(batch)).float(), "labels": batch["label"]}

    def validation_metrics(self, outputs: dict[str, Tensor]) -> dict[str, Any]:
        return classification_metrics(outputs["scores"], outputs["labels"], len(self.classes))

    def describe(self, metrics: dict[str, Any]) -> str:
        return (
            f"val top-1 {metrics['top1']:.4f} top-5 {metrics['top5']:.4f} "
            f"mean class {metrics['mean_class_acc']:.4f}"
        )

    def summary(self, best: dict[str, Any] | None) -> dict[str, Any]:
        per_class = None if best is None else dict(zip(self.classes, best["per_class_acc"], strict=True))
        return {"classes": self.classes, "per_class_accuracy": per_class, **super().summary(best)}

    def write_reports(self, run_dir: Path, best: dict[str, Any]) -> None:
        save_confusion_matrix(
            best["confusion_matrix"],
            self.classes,
            run_dir / "confusion_matrix.png",
            title=f"Validation, epoch {best['epoch']}: top-1 {best['top1']:.3f} (rows normalised)",
        )
        save_per_class_accuracy(best["confusion_matrix"], self.classes, run_dir / "per_class_accuracy.csv")


def _mixup(
    clips: ModelInput, targets: Tensor, alpha: float, rng: np.random.Generator
) -> tuple[ModelInput, Tensor]:
    """:func:`~vidact.engine.optim.mixup` of one input, or of every entry of a dict of them with the same
    weight and pairing (each entry draws from a copy of ``rng`` in the same state)."""
    if isinstance(clips, Tensor):
        return mixup(clips, targets, alpha, rng)
    mixed: dict[str, Tensor] = {}
    for key, value in clips.items():
        draws = copy.deepcopy(rng)
        mixed[key], mixed_targets = mixup(value, targets, alpha, draws)
    rng.bit_generator.state = draws.bit_generator.state  # the caller's generator moves on as after one draw
    return mixed, mixed_targets


def eval_defaults(loaded: LoadedModel) -> dict[str, Any]:
    """``vidact eval``'s defaults for a model: its run's ``eval`` section (split, views, batch size), or for
    published weights their test protocol's views (:meth:`~vidact.data.inputs.InputSpec.test_views`) and
    :class:`~vidact.engine.config.EvalConfig`'s split and batch size."""
    if loaded.config is not None:
        return asdict(recipe_of(loaded.config, source=loaded.source).eval)
    views = loaded.spec.test_views()
    return {**asdict(EvalConfig()), "num_clips": views.get("clips", 1), "num_crops": views.get("crops", 1)}


def eval_views(
    recipe: dict[str, Any], split: str | None, num_clips: int | None, num_crops: int | None
) -> tuple[str | None, int, int]:
    """The split and views of an evaluation: those given, else the recipe's (:func:`eval_defaults`).

    Raises:
        ConfigError: crops other than 1 or 3, or fewer than 1 clip.
    """
    split = recipe["split"] if split is None else split
    num_clips = int(recipe["num_clips"] if num_clips is None else num_clips)
    num_crops = int(recipe["num_crops"] if num_crops is None else num_crops)
    if num_crops not in (1, 3):
        raise ConfigError(f"the number of crops must be 1 or 3, got {num_crops}")
    if num_clips < 1:
        raise ConfigError(f"the number of clips must be at least 1, got {num_clips}")
    return split, num_clips, num_crops


def evaluate_video(
    loaded: LoadedModel,
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
    """Multi-view test of a video classifier on one split of a video dataset (``vidact eval``; see
    :mod:`vidact.engine.evaluate`): ``num_clips`` x ``num_crops`` views per video made as its input spec says,
    scores averaged as ``average`` says."""
    preset = loaded.spec
    recipe = eval_defaults(loaded)
    split, num_clips, num_crops = eval_views(recipe, split, num_clips, num_crops)
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
        loaded.module,
        dataset,
        loaded.classes,
        average=average,
        batch_size=recipe["batch_size"] if batch_size is None else batch_size,
        workers=workers,
        device=device,
        progress=progress,
        source=os.fspath(data),
    )
    result.checkpoint, result.data, result.split = loaded.source, os.fspath(data), split or None
    return result
