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

import torch

from .._atomic import write_json
from .fast import prepare_for_inference
from .load import default_task, load_model
from .scoring import (
    AVERAGES,
    Average,
    EvalResult,
    average_views,
    evaluate_model,
    match_classes,
    score_views,
    views_sampler,
)
from .tasks import get_task
from .tasks.base import recipe_preset

__all__ = [
    "Average",
    "AVERAGES",
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
    precision: str = "32",
) -> EvalResult:
    """Evaluate a run (its best checkpoint) or a checkpoint file on one split of a dataset.

    ``split``, ``num_clips``, ``num_crops`` and ``batch_size`` default to the recipe's ``eval`` section
    (:class:`~vidact.engine.config.EvalConfig`: split ``"test"``, 10 clips x 3 crops, one video per batch).

    Args:
        run_or_ckpt: a run directory or a vidact checkpoint file; or published weights by name
            (``r2plus1d_18.kinetics400``), evaluated with their input spec and their test protocol's views. The
            model's task evaluates it (:meth:`~vidact.engine.tasks.Task.evaluate`; published weights: the
            classifier task of their modality): a skeleton model on joint sequences
            (:func:`~vidact.engine.tasks.skeleton.evaluate_skeleton`), where ``data`` (or ``annotations``) is
            the annotation pickle or its folder and ``kind`` and ``fold`` are not read.
        data: the dataset root.
        split: the split, as :data:`~vidact.data.datasets.DATASET_KINDS` says for ``kind``; for class folders a
            subfolder of ``data``, or ``""`` when ``data`` itself holds the class folders.
        kind: the dataset layout (``"folder"``, ``"ucf101"``, ``"kinetics"``, ...; see
            :func:`~vidact.data.datasets.build_dataset`).
        annotations: the split file(s), CSV or list file the layout reads.
        fold: the official split number of UCF-101 and HMDB-51.
        num_clips, num_crops: views per video (1 or 3 crops).
        average, batch_size, workers, device, progress: as in :func:`evaluate_model`.
        precision: ``"auto"``: :mod:`vidact.engine.fast`'s fast path (BatchNorm folded, channels-last, bf16
            with the model's sensitive layers in float32) where the hardware computes bf16 natively, else
            float32; ``"32"``: the eager float32 model; ``"bf16"``: the fast path.

    Raises:
        CheckpointError: no such run or file, or not a vidact checkpoint.
        DatasetError, ConfigError: the dataset cannot be read in that layout, or has classes the model lacks.
    """
    # a task's own evaluation tests its runs, classifiers or not (a detector); a task without one says so
    loaded = load_model(run_or_ckpt, progress=progress, classifier=False)
    task = get_task(loaded.task or default_task(loaded.modality))
    loaded.module = prepare_for_inference(loaded.module, precision if task.fast_inference else "32", device)
    return task.evaluate(
        loaded,
        data,
        split=split,
        kind=kind,
        annotations=annotations,
        fold=fold,
        num_clips=num_clips,
        num_crops=num_crops,
        average=average,
        batch_size=batch_size,
        workers=workers,
        device=device,
        progress=progress,
    )
