"""Classification: labelled clips, soft-target cross-entropy (label smoothing, mixup), top-k accuracy.

The recipe's ``task: classification`` (the default). Its run directory adds to the loop's:

====================================  =====================================================================
``metrics.json``                      ``classes``, ``per_class_accuracy`` (best epoch), unreadable videos
``confusion_matrix.png``              the best epoch's validation confusion matrix, rows normalised
``per_class_accuracy.csv``            the best epoch's validation accuracy per class
====================================  =====================================================================

``metrics.csv`` columns: ``train_loss`` and ``train_acc`` (on the labels before mixup), ``val_top1``,
``val_top5``, ``val_mean_class_acc``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import Tensor, nn

from ...data.datasets import collate_clips
from ..metrics import classification_metrics
from ..optim import mixup, soft_cross_entropy, soft_targets
from ..report import save_confusion_matrix, save_per_class_accuracy
from . import register_task
from .base import Batch, StepOutput, Task, TaskData, build_network, video_datasets

__all__ = ["Classification"]


@register_task
class Classification(Task):
    """Clips [B, 3, T, H, W] with labels [B] -> logits [B, K]; uses ``train.label_smoothing`` and
    ``train.mixup_alpha``; the best epoch has the highest validation top-1."""

    name = "classification"
    loss_names = ("cross_entropy",)
    train_stats = ("acc",)
    val_metrics = ("top1", "top5", "mean_class_acc")
    monitor = "top1"
    #: The batch entry the model reads.
    input_key: ClassVar[str] = "video"

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
        clips, labels = batch[self.input_key], batch["label"]
        targets = soft_targets(labels, len(self.classes), train.label_smoothing)
        if train.mixup_alpha > 0:
            clips, targets = mixup(clips, targets, train.mixup_alpha, rng)
        logits = model(clips)
        loss = soft_cross_entropy(logits, targets)
        correct = int((logits.detach().argmax(dim=1) == labels).sum())
        return StepOutput({"cross_entropy": loss}, size=len(labels), stats={"acc": correct})

    def validation_step(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        return {"scores": model(batch[self.input_key]).float(), "labels": batch["label"]}

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
