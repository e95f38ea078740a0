"""Temporal action detection: feature sequences of untrimmed videos with their action segments -> a detector
(ActionFormer, the sliding-window baseline: any model whose card says ``modality="features"``).

The recipe's ``task: detection``. What it reads of the recipe:

==========================  =====================================================================================
``data.root``               the feature folder: vidact's (``vidact extract features``: ``<video>.features.npy``
                            and ``.timestamps.npy``) or others' (``<video>.npy``, with ``feat_stride`` and
                            ``num_frames``; :mod:`vidact.detect.features`)
``data.val_root``           the validation features when they are elsewhere
``data.annotations``        the ground truth, any format :func:`~vidact.detect.annotations.read_ground_truth`
                            reads (ActivityNet JSON, ActionFormer's THUMOS14 JSON, BSN, THUMOS txt, ...)
``data.val_annotations``    the validation ground truth when it is another file
``data.train_split``,       subsets of the ground truth (case-insensitive; ``null``: every video)
``data.val_split``
``data.classes``            a label map; default ``classes.txt`` beside the ground truth, else its classes
``data.batch_size``,        as for every task
``data.num_workers``
``model``                   a detector; ``model.kwargs.in_channels`` must be the features' width
``eval.split``              the subset ``vidact eval`` tests by default
``task.kwargs``             the features' timing (``feat_stride``, ``num_frames``, ``fps``, ``transpose``), the
                            training length ``max_seq_len`` (default the model's), ``extractor`` (the feature
                            extractor's ``params()``; default what the folder's extraction records say), the
                            targets and losses (``center_sample_radius``, ``label_smoothing``,
                            ``loss_normalizer_init``, ``loss_normalizer_momentum``), the cropping
                            (``keep_ratio``), the decoding (``nms: soft|hard|none``, ``iou_threshold``,
                            ``sigma``, ``soft_method``, ``pre_nms_thresh``, ``pre_nms_topk``, ``min_score``,
                            ``min_length``, ``max_segments``) and the evaluation's ``tious`` (default the
                            ground truth's convention: 0.5:0.95 for ActivityNet, 0.3:0.7 for THUMOS14)
==========================  =====================================================================================

Training: a batch of sequences (cropped to ``max_seq_len`` steps, padded to it, with masks) through the model,
ActionFormer's losses (sigmoid focal classification, DIoU regression, normalised by the positives;
:func:`~vidact.detect.losses.detection_losses`). Validation: each whole validation video decoded into detections
in seconds (:func:`~vidact.detect.inference.decode_detections`), then the mean average precision over the
ground truth's classes at each tIoU threshold, as the official ActivityNet kit computes it
(:func:`~vidact.detect.evaluation.evaluate_detection`); the best epoch has the highest ``average_mAP``.
``metrics.csv`` columns: ``train_loss``, ``train_cls``, ``train_reg``, ``val_mAP@<tiou>`` per threshold and
``val_average_mAP``. The run directory adds:

========================  ==============================================================================
``metrics.json``          ``classes``, the best epoch's per-class AP, the videos left out (no features)
``predictions.json``      the best epoch's detections on the validation videos, an official submission file
``per_class_ap.csv``      the best epoch's average precision per class and threshold
========================  ==============================================================================

Checkpoints store a :class:`~vidact.data.features.FeaturesSpec` (the width, the timing, the training length and
the feature extractor's ``params()``, for ``vidact detect`` to rebuild it); they are not classifiers.
:meth:`TemporalDetection.evaluate` is ``vidact eval RUN FEATURES`` for its runs.
"""

from __future__ import annotations

import csv
import inspect
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..._atomic import atomic_write
from ...data.datasets.samples import read_class_names
from ...data.features import FeaturesSpec
from ...detect.annotations import (
    Detection,
    GroundTruth,
    convention_tious,
    read_ground_truth,
    write_predictions,
)
from ...detect.dataset import DetectionDataset, collate_detection
from ...detect.evaluation import DetectionResult, evaluate_detection
from ...detect.features import FeatureSource, TimeGrid, VidactFeatures, open_features
from ...detect.inference import decode_detections, nms_options
from ...detect.losses import LossNormalizer, detection_losses
from ...errors import ConfigError, DatasetError
from ...models import get_builder, model_card
from ...models.loaded import LoadedModel
from ...models.weights import load_weights
from ..checkpoint import load_checkpoint
from ..config import Config
from .base import Batch, StepOutput, Task, TaskData, build_network, recipe_of
from .registry import register_task

__all__ = [
    "TemporalDetection",
    "DetectionEvaluation",
    "features_spec",
    "metric_names",
    "run_detector",
    "evaluate_detector",
]

#: ``task.kwargs`` that time the features (:func:`~vidact.detect.features.open_features`).
_FEATURE_OPTIONS = ("feat_stride", "num_frames", "fps", "transpose")


def metric_names(tious: Sequence[float]) -> tuple[str, ...]:
    """The validation metrics of thresholds ``tious``: ``mAP@<t>`` each (``mAP@0.5``), then ``average_mAP``."""
    return (*(f"mAP@{float(t):.4g}" for t in tious), "average_mAP")


def _builder_arguments(config: Config) -> dict[str, Any]:
    """The recipe model's builder arguments: the builder's defaults, overridden by ``model.kwargs``."""
    signature = inspect.signature(get_builder(config.model.name))
    defaults = {
        k: p.default for k, p in signature.parameters.items() if p.default is not inspect.Parameter.empty
    }
    return {**defaults, **config.model.kwargs}


def _check_detector(config: Config) -> None:
    """The recipe's model must be a detector (a card with ``modality="features"``)."""
    card = model_card(config.model.name)
    if card.modality != "features":
        raise ConfigError(
            f"task detection: {config.model.name} is a {card.modality} model; choose a detector (a model whose "
            "card says modality 'features', e.g. actionformer)"
        )


def _max_seq_len(config: Config) -> int:
    """The training length: ``task.kwargs.max_seq_len``, else the model's (``model.kwargs.max_seq_len``, else its
    card's ``frames``)."""
    given = config.task.kwargs.get("max_seq_len")
    if given is not None:
        return int(given)
    return int(_builder_arguments(config).get("max_seq_len") or model_card(config.model.name).frames)


def _feature_source(config: Config, root: str | os.PathLike, *, dim: int | None = None) -> FeatureSource:
    """The recipe's feature folder ``root``, timed as ``task.kwargs`` say."""
    options = {key: config.task.kwargs.get(key) for key in _FEATURE_OPTIONS}
    return open_features(
        root,
        feat_stride=options["feat_stride"],
        num_frames=options["num_frames"],
        fps=options["fps"],
        transpose=bool(options["transpose"]),
        dim=dim,
    )


def features_spec(config: Config | Mapping[str, Any], source: FeatureSource | None = None) -> FeaturesSpec:
    """The input spec of a detection run, from its recipe (a :class:`Config`, or a checkpoint's ``config``).

    ``dim`` is the model's ``in_channels``; the timing and ``max_seq_len`` are ``task.kwargs``' (the training
    length defaulting to the model's); ``extractor`` is ``task.kwargs.extractor``, else the ``params()`` that the
    extraction records of the feature folder (``source``, else ``data.root`` when it is a vidact feature folder)
    hold, else ``None``.

    Raises:
        ConfigError: a model that is not a detector, or options that make no valid spec.
        DatasetError: a feature folder whose records disagree.
    """
    cfg = recipe_of(config)
    _check_detector(cfg)
    options = cfg.task.kwargs
    extractor = options.get("extractor")
    if extractor is None:
        if source is None and cfg.data.root and options.get("feat_stride") is None:
            try:
                source = VidactFeatures(cfg.data.root)
            except DatasetError:  # no folder (yet) or no vidact features in it: nothing recorded
                source = None
        extractor = source.params() if source is not None else None
    in_channels = _builder_arguments(cfg).get("in_channels")
    if in_channels is None:
        raise ConfigError("task detection: set model.kwargs.in_channels (the width of the features)")
    return FeaturesSpec(
        dim=int(in_channels),
        max_seq_len=_max_seq_len(cfg),
        extractor=extractor,
        feat_stride=options.get("feat_stride"),
        num_frames=options.get("num_frames"),
        fps=options.get("fps"),
    )


def _class_names(config: Config, gt: GroundTruth) -> list[str]:
    """``data.classes``, else ``classes.txt`` beside the ground truth, else the ground truth's classes."""
    if config.data.classes:
        return read_class_names(config.data.classes)
    beside = Path(gt.source).parent / "classes.txt" if gt.source and Path(gt.source).is_file() else None
    if beside is not None and beside.is_file():
        return read_class_names(beside)
    return list(gt.classes)


#: Videos without features named one line each; the rest counted (``metrics.json`` lists every one).
_SKIPPED_SHOWN = 10


def _warn_skipped(split: str, skipped: Sequence[tuple[str, str]]) -> None:
    """One warning line per video of ``split`` left out (the first :data:`_SKIPPED_SHOWN`), then their count."""
    for video, reason in skipped[:_SKIPPED_SHOWN]:
        warnings.warn(f"{split} video {video!r} left out: {reason}", stacklevel=3)
    if len(skipped) > _SKIPPED_SHOWN:
        warnings.warn(
            f"{len(skipped) - _SKIPPED_SHOWN} more {split} videos left out without features (metrics.json lists "
            "them)",
            stacklevel=3,
        )


# -- running a detector over batches ----------------------------------------------------------------------------
def _float_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The model's outputs with the logits and offsets in float32 (autocast may give bf16)."""
    return {
        key: [t.float() for t in value] if key in ("cls_logits", "offsets") else value
        for key, value in outputs.items()
    }


def _batch_detections(
    model: nn.Module, batch: Batch, classes: Sequence[str], strides: Sequence[int], nms: Mapping[str, Any]
) -> list[list[Detection]]:
    """The detections of every video of a collated batch (features and mask on the model's device)."""
    outputs = _float_outputs(model(batch["features"], batch["mask"]))
    return [
        decode_detections(
            outputs,
            b,
            strides=strides,
            grid=TimeGrid(*grid),
            classes=classes,
            duration=duration,
            **nms,
        )
        for b, (grid, duration) in enumerate(zip(batch["grid"], batch["duration"], strict=True))
    ]


@torch.no_grad()
def run_detector(
    model: nn.Module,
    dataset: DetectionDataset,
    classes: Sequence[str],
    *,
    nms: Mapping[str, Any] | None = None,
    batch_size: int = 1,
    workers: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict[str, list[Detection]]:
    """A detector over every video of ``dataset`` (whole videos, in eval mode): the detections per video id.

    Args:
        model: the detector (``model(features [B, D, T], mask [B, T])``, ``strides``).
        dataset: the videos (``train=False``).
        classes: the model's class names.
        nms: :data:`~vidact.detect.inference.NMS_OPTIONS`.
        batch_size, workers: videos per forward pass, loader processes.
        device: where the model runs.
        progress: a progress bar.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    multiple = int(max(model.strides))
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=partial(collate_detection, pad_multiple=multiple),
    )
    predictions: dict[str, list[Detection]] = {}
    with tqdm(total=len(dataset), desc="detecting", unit="video", disable=not progress) as bar:
        for batch in loader:
            batch = {**batch, "features": batch["features"].to(device), "mask": batch["mask"].to(device)}
            for video, detections in zip(
                batch["video"],
                _batch_detections(model, batch, classes, model.strides, nms or {}),
                strict=True,
            ):
                predictions[video] = detections
            bar.update(len(batch["video"]))
    return predictions


def _per_class_csv(result: DetectionResult, gt: GroundTruth, path: Path) -> None:
    """``class,segments,AP@<t>...,average_AP`` per class of the evaluation, in its order."""
    counts: dict[str, int] = {}
    for annotation in gt.videos.values():
        for label in annotation.labels:
            counts[label] = counts.get(label, 0) + 1
    with atomic_write(path, "w") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "segments", *(f"AP@{float(t):.4g}" for t in result.tiou), "average_AP"])
        for name, ap in result.ap.items():
            values = np.asarray(ap, dtype=np.float64)
            writer.writerow(
                [name, counts.get(name, 0), *(f"{v:.6f}" for v in values), f"{values.mean():.6f}"]
            )


@dataclass
class DetectionEvaluation:
    """What :func:`evaluate_detector` measured (``vidact eval`` of a detection run).

    Attributes:
        result: the mAP per threshold, their average and the AP per class.
        predictions: the detections per video id.
        classes: the model's class names.
        checkpoint, data, annotations, split: what was evaluated on what.
        skipped: ``(video, reason)`` of the ground truth's videos without features (their segments count as
            missed).
    """

    result: DetectionResult
    predictions: dict[str, list[Detection]]
    classes: list[str]
    checkpoint: str | None = None
    data: str | None = None
    annotations: str | None = None
    split: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, float]:
        """``mAP@<t>`` per threshold and ``average_mAP``."""
        names = metric_names(self.result.tiou)
        return dict(zip(names, [*map(float, self.result.mAP), float(self.result.average_mAP)], strict=True))

    def to_json(self, *, per_video: bool = False) -> dict[str, Any]:
        """A JSON-ready dict: the setting, the metrics (the evaluation's ``to_json``: ``tiou``, ``mAP``,
        ``average_mAP``, ``ap``), the videos left out and, with ``per_video``, the detections."""
        out: dict[str, Any] = {
            "checkpoint": self.checkpoint,
            "data": self.data,
            "annotations": self.annotations,
            "split": self.split,
            "classes": list(self.classes),
            "metrics": self.result.to_json(),
            "skipped": [{"video": v, "reason": r} for v, r in self.skipped],
        }
        if per_video:
            out["videos"] = {
                video: [{"label": d.label, "score": d.score, "segment": [d.start, d.end]} for d in detections]
                for video, detections in self.predictions.items()
            }
        return out

    def save_predictions(self, path: str | os.PathLike) -> None:
        """The detections as an official submission file (atomically)."""
        write_predictions(path, self.predictions)

    def summary_rows(self) -> list[tuple[str, str]]:
        """(metric, value) rows of ``vidact eval``'s table: the videos, the mAP at each threshold, the average."""
        missing = (
            f" ({len(self.skipped)} without features: their actions count as missed)" if self.skipped else ""
        )
        rows = [
            ("videos", f"{self.result.num_videos:,}{missing}"),
            ("detections", f"{self.result.num_detections:,} of {self.result.num_segments:,} true segments"),
        ]
        rows += [
            (f"mAP@{t:.2f}", f"{100 * v:.2f} %")
            for t, v in zip(self.result.tiou, self.result.mAP, strict=True)
        ]
        rows.append(("average mAP", f"{100 * self.result.average_mAP:.2f} %"))
        return rows


def evaluate_detector(
    loaded: LoadedModel,
    data: str | os.PathLike,
    *,
    split: str | None = None,
    annotations: str | os.PathLike | None = None,
    batch_size: int | None = None,
    workers: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    **ignored: Any,
) -> DetectionEvaluation:
    """A detection run over a feature folder, scored against ground truth (``vidact eval RUN FEATURES``).

    The features are read as the run's recipe says (its ``task.kwargs`` timing; the width checked against the
    stored spec), every video whole, decoded with the recipe's NMS options, and evaluated at the recipe's
    thresholds (default the ground truth's convention).

    Args:
        loaded: a detection run's model (its recipe in ``loaded.config``).
        data: the feature folder.
        split: the ground truth's subset (default the recipe's ``eval.split``; ``""``: every video).
        annotations: the ground truth (default the recipe's ``data.annotations``).
        batch_size: videos per forward pass (default the recipe's ``eval.batch_size``).
        workers, device, progress: loader processes, where the model runs, a progress bar.
        ignored: the video options of ``vidact eval`` (``kind``, ``fold``, views), which do not apply.

    Raises:
        ConfigError: a model without its recipe (not a detection run).
        DatasetError: unreadable features or ground truth, a missing subset, labels the model lacks.
    """
    if loaded.config is None:
        raise ConfigError(
            f"{loaded.source}: not a detection run (no recipe): evaluate a run of task detection"
        )
    cfg = recipe_of(loaded.config, source=loaded.source)
    options = cfg.task.kwargs
    gt_path = annotations or cfg.data.val_annotations or cfg.data.annotations
    if not gt_path:
        raise ConfigError("give the ground truth (--annotations FILE): the run's recipe names none")
    gt = read_ground_truth(gt_path)
    split = cfg.eval.split if split is None else split
    spec = loaded.spec
    source = _feature_source(cfg, data, dim=getattr(spec, "dim", None))
    dataset = DetectionDataset(
        source, gt, loaded.classes, subset=split or None, max_seq_len=_max_seq_len(cfg), train=False
    )
    predictions = run_detector(
        loaded.module,
        dataset,
        loaded.classes,
        nms=nms_options(options),
        batch_size=int(cfg.eval.batch_size if batch_size is None else batch_size),
        workers=workers,
        device=device,
        progress=progress,
    )
    evaluated = gt.subset(split) if split else gt
    tious = options.get("tious")
    result = evaluate_detection(evaluated, predictions, tious=None if tious is None else np.asarray(tious))
    return DetectionEvaluation(
        result=result,
        predictions=predictions,
        classes=list(loaded.classes),
        checkpoint=loaded.source,
        data=os.fspath(data),
        annotations=os.fspath(gt_path),
        split=split or None,
        skipped=list(dataset.skipped),
    )


# -- the task -----------------------------------------------------------------------------------------------------
@register_task
class TemporalDetection(Task):
    """Feature sequences [B, D, T] with masks and segments -> per-level class logits and boundary offsets (see
    the module docstring).

    Args:
        config: the recipe.
        feat_stride, num_frames, fps, transpose: the timing of features made elsewhere
            (:func:`~vidact.detect.features.open_features`); unset for vidact's own.
        max_seq_len: steps of a training sequence (default the model's).
        extractor: the feature extractor's ``params()``, recorded in the run's input spec (default: what the
            feature folder's extraction records say).
        center_sample_radius: centre sampling of the targets, in strides (ActionFormer: 1.5).
        label_smoothing: of the classification targets.
        keep_ratio: a cropped action stays when this share of it lies inside the crop.
        tious: the evaluation's thresholds (default the ground truth's convention).
        loss_normalizer_init, loss_normalizer_momentum: the moving average of positives per batch that divides
            the losses (:class:`~vidact.detect.losses.LossNormalizer`; ActionFormer: 100 on THUMOS14, 200 on
            ActivityNet, 0.9).
        nms, iou_threshold, sigma, soft_method, pre_nms_thresh, pre_nms_topk, min_score, min_length,
            max_segments: the decoding (:func:`~vidact.detect.postprocess.postprocess`; unset: its defaults).
    """

    name = "detection"
    modality = "features"
    produces_classifier = False
    #: Its models return per-level lists of outputs, not logits: evaluated in float32 (a small network).
    fast_inference = False
    clip_keys = ()  # features [B, D, T] are not clips
    loss_names = ("cls", "reg")
    #: The metrics of the ActivityNet convention's thresholds; an instance has its ground truth's (or its
    #: ``tious``'), and so its own ``metrics.csv`` columns (:meth:`history_columns`).
    val_metrics = metric_names(convention_tious("activitynet"))
    monitor = "average_mAP"

    def __init__(
        self,
        config: Config,
        *,
        feat_stride: int | None = None,
        num_frames: int | None = None,
        fps: float | None = None,
        transpose: bool = False,
        max_seq_len: int | None = None,
        extractor: dict[str, Any] | None = None,
        center_sample_radius: float = 1.5,
        label_smoothing: float = 0.0,
        keep_ratio: float = 0.5,
        tious: Sequence[float] | None = None,
        loss_normalizer_init: float = 100.0,
        loss_normalizer_momentum: float = 0.9,
        nms: str | None = None,
        iou_threshold: float | None = None,
        sigma: float | None = None,
        soft_method: str | None = None,
        pre_nms_thresh: float | None = None,
        pre_nms_topk: int | None = None,
        min_score: float | None = None,
        min_length: float | None = None,
        max_segments: int | None = None,
    ):
        super().__init__(config)
        _check_detector(config)
        if center_sample_radius < 0 or not 0 <= label_smoothing < 1 or not 0 < keep_ratio <= 1:
            raise ConfigError(
                "task.kwargs: need center_sample_radius >= 0, 0 <= label_smoothing < 1 and 0 < keep_ratio <= 1, "
                f"got {center_sample_radius}, {label_smoothing} and {keep_ratio}"
            )
        if config.train.mixup_alpha or config.train.label_smoothing:
            raise ConfigError(
                "task detection: train.mixup_alpha and train.label_smoothing do not apply "
                "(task.kwargs.label_smoothing smooths the detection targets)"
            )
        if not config.data.annotations:
            raise ConfigError(
                "task detection: set data.annotations to the ground truth (any supported format)"
            )
        if not config.data.root:
            raise ConfigError("task detection: set data.root to the feature folder")
        self.center_sample_radius = float(center_sample_radius)
        self.label_smoothing = float(label_smoothing)
        self.keep_ratio = float(keep_ratio)
        self.max_seq_len = _max_seq_len(config)
        self.nms = nms_options(
            {
                "nms": nms,
                "iou_threshold": iou_threshold,
                "sigma": sigma,
                "soft_method": soft_method,
                "pre_nms_thresh": pre_nms_thresh,
                "pre_nms_topk": pre_nms_topk,
                "min_score": min_score,
                "min_length": min_length,
                "max_segments": max_segments,
            }
        )
        self._tious = None if tious is None else np.asarray(sorted(float(t) for t in tious), dtype=np.float64)
        if self._tious is not None and (
            not len(self._tious) or ((self._tious <= 0) | (self._tious > 1)).any()
        ):
            raise ConfigError(f"task.kwargs.tious must be thresholds in (0, 1], got {tious}")
        try:
            self.normalizer = LossNormalizer(loss_normalizer_init, loss_normalizer_momentum)
        except ValueError as e:
            raise ConfigError(f"task.kwargs: {e}") from None
        self._gt: dict[str, GroundTruth] = {}
        # The thresholds (and so the metrics' names) are the ground truth's unless given: read it now, once.
        self.val_metrics = metric_names(self.tious)  # type: ignore[misc]
        self.classes: list[str] = []
        self.spec: FeaturesSpec | None = None
        self.strides: tuple[int, ...] = ()
        self.regression_ranges: tuple[tuple[float, float], ...] = ()
        self._predictions: dict[str, list[Detection]] | None = None  # the last validation's
        self._best_predictions: dict[str, list[Detection]] | None = None

    # -- the recipe --------------------------------------------------------------------------------------------
    def ground_truth(self, path: str | os.PathLike) -> GroundTruth:
        """The ground truth at ``path``, read once."""
        key = os.fspath(path)
        if key not in self._gt:
            self._gt[key] = read_ground_truth(path)
        return self._gt[key]

    @property
    def val_ground_truth(self) -> GroundTruth:
        """The validation ground truth (``data.val_annotations`` or ``data.annotations``, its ``val_split``)."""
        data = self.config.data
        gt = self.ground_truth(data.val_annotations or data.annotations)  # type: ignore[arg-type]
        return gt.subset(data.val_split) if data.val_split else gt

    @property
    def tious(self) -> np.ndarray:
        """The evaluation's thresholds: ``task.kwargs.tious``, else the validation ground truth's convention."""
        if self._tious is not None:
            return self._tious
        data = self.config.data
        return self.ground_truth(data.val_annotations or data.annotations).tious  # type: ignore[arg-type]

    def history_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        """The columns of ``metrics.csv``: the base's, with this run's thresholds (its :attr:`val_metrics`)."""
        return (
            "epoch",
            "step",
            "lr",
            "train_loss",
            *(f"train_{name}" for name in self.loss_names),
            *(f"train_{stat}" for stat in self.train_stats),
            *(f"val_{metric}" for metric in self.val_metrics),
            "time",
        )

    @classmethod
    def input_spec(cls, config: Config) -> FeaturesSpec:
        """The run's :class:`FeaturesSpec` (:func:`features_spec`)."""
        return features_spec(config)

    def checkpoint_fields(self) -> dict[str, Any]:
        """The base's, with the spec made when the data was read (the feature folder read once)."""
        spec = self.spec if self.spec is not None else self.input_spec(self.config)
        return {"input": spec.to_dict(), "classifier": False, "backbone": self.backbone_prefix}

    @classmethod
    def evaluate(cls, loaded: LoadedModel, data: str | os.PathLike, **options: Any) -> DetectionEvaluation:  # type: ignore[override]
        """A run over a feature folder against ground truth (:func:`evaluate_detector`)."""
        return evaluate_detector(loaded, data, **options)

    # -- data and model -----------------------------------------------------------------------------------------
    def build_data(self, *, seed: int, validate: bool, progress: bool) -> TaskData:
        data = self.config.data
        train_source = _feature_source(self.config, data.root)
        gt = self.ground_truth(data.annotations)  # type: ignore[arg-type]
        self.classes = _class_names(self.config, gt)
        self.spec = features_spec(self.config, train_source)
        if train_source.dim != self.spec.dim:
            raise ConfigError(
                f"{data.root}: the features are {train_source.dim} wide, but the model reads {self.spec.dim} "
                f"(set model.kwargs.in_channels={train_source.dim})"
            )
        common = {"max_seq_len": self.max_seq_len, "fps": self.config.task.kwargs.get("fps")}
        train_set = DetectionDataset(
            train_source,
            gt,
            self.classes,
            subset=data.train_split,
            train=True,
            seed=seed,
            keep_ratio=self.keep_ratio,
            **common,
        )
        val_set = None
        if validate and data.val_split is not None:
            val_source = train_source
            if data.val_root:
                val_source = _feature_source(self.config, data.val_root, dim=train_source.dim)
            val_gt = self.ground_truth(data.val_annotations or data.annotations)  # type: ignore[arg-type]
            val_set = DetectionDataset(val_source, val_gt, self.classes, subset=data.val_split, **common)
        for split, dataset in (("training", train_set), ("validation", val_set)):
            if dataset is not None:
                _warn_skipped(split, dataset.skipped)
        collate = partial(collate_detection, min_length=self.max_seq_len)
        self.data = TaskData(train_set, val_set, collate=collate)
        return self.data

    @property
    def outputs(self) -> list[str]:
        return self.classes

    def build_model(self) -> nn.Module:
        network = build_network(self.config.model, len(self.classes))
        self.strides = tuple(int(s) for s in network.strides)
        self.regression_ranges = tuple((float(lo), float(hi)) for lo, hi in network.regression_ranges)
        model_length = getattr(network, "max_seq_len", None)
        if model_length is not None and self.max_seq_len > model_length:
            raise ConfigError(
                f"task.kwargs.max_seq_len {self.max_seq_len} is longer than the model's {model_length} "
                "(set model.kwargs.max_seq_len too)"
            )
        return network

    def state_dict(self) -> dict[str, Any]:
        """The training state the task carries between steps (this process's loss normaliser)."""
        return {"loss_normalizer": self.normalizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (a resumed run)."""
        self.normalizer.load_state_dict(dict(state["loss_normalizer"]))

    # -- steps ------------------------------------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Batch, rng: np.random.Generator) -> StepOutput:
        features, mask = batch["features"], batch["mask"]
        outputs = model(features, mask)
        losses = detection_losses(
            outputs,
            [s.to(features.device) for s in batch["segments"]],
            [y.to(features.device) for y in batch["labels"]],
            strides=self.strides,
            regression_ranges=self.regression_ranges,
            num_classes=len(self.classes),
            center_sample_radius=self.center_sample_radius,
            label_smoothing=self.label_smoothing,
            normalizer=self.normalizer,
        )
        return StepOutput({name: losses[name] for name in self.loss_names}, size=len(batch["segments"]))

    def validation_step(self, model: nn.Module, batch: Batch) -> dict[str, Tensor | list[Any]]:
        """Per video: ``segments`` [S, 2] float64 seconds, ``scores`` [S], ``labels`` [S] class indices."""
        index = {name: i for i, name in enumerate(self.classes)}
        segments, scores, labels = [], [], []
        for detections in _batch_detections(model, batch, self.classes, self.strides, self.nms):
            segments.append(
                torch.tensor([[d.start, d.end] for d in detections], dtype=torch.float64).reshape(-1, 2)
            )
            scores.append(torch.tensor([d.score for d in detections], dtype=torch.float32))
            labels.append(torch.tensor([index[d.label] for d in detections], dtype=torch.int64))
        return {"video": list(batch["video"]), "segments": segments, "scores": scores, "labels": labels}

    def validation_metrics(self, outputs: dict[str, Tensor | list[Any]]) -> dict[str, Any]:
        predictions = {
            video: [
                Detection(float(s), float(e), self.classes[int(k)], float(p))
                for (s, e), p, k in zip(segments.tolist(), scores.tolist(), labels.tolist(), strict=True)
            ]
            for video, segments, scores, labels in zip(
                outputs["video"], outputs["segments"], outputs["scores"], outputs["labels"], strict=True
            )
        }
        self._predictions = predictions
        result = evaluate_detection(self.val_ground_truth, predictions, tious=self.tious)
        metrics = dict(
            zip(self.val_metrics, [*map(float, result.mAP), float(result.average_mAP)], strict=True)
        )
        return {
            **metrics,
            "tiou": [float(t) for t in result.tiou],
            "ap": {name: [float(v) for v in ap] for name, ap in result.ap.items()},
            "detections": sum(len(d) for d in predictions.values()),
        }

    def is_better(self, metrics: dict[str, Any], best: dict[str, Any] | None) -> bool:
        """The base's rule; the predictions of a new best epoch are kept for :meth:`write_reports`."""
        better = super().is_better(metrics, best)
        if better:
            self._best_predictions = self._predictions
        return better

    def describe(self, metrics: dict[str, Any]) -> str:
        thresholds = " ".join(f"{name} {metrics[name]:.4f}" for name in self.val_metrics[:-1])
        return f"val average mAP {metrics['average_mAP']:.4f} ({thresholds})"

    # -- reports ----------------------------------------------------------------------------------------------
    def summary(self, best: dict[str, Any] | None) -> dict[str, Any]:
        assert self.data is not None
        return {
            "classes": self.classes,
            "per_class_ap": None if best is None else best["ap"],
            "input": None if self.spec is None else self.spec.to_dict(),
            "videos_without_features": {
                split: [{"video": v, "reason": r} for v, r in getattr(dataset, "skipped", [])]
                for split, dataset in (("train", self.data.train), ("val", self.data.val))
            },
        }

    def write_reports(self, run_dir: Path, best: dict[str, Any]) -> None:
        """``predictions.json`` and ``per_class_ap.csv`` of the best epoch. Its predictions are those kept at
        validation; a resumed run whose best epoch came before the resume detects again with the best
        checkpoint."""
        predictions = self._best_predictions
        if predictions is None:
            predictions = self._redetect(run_dir)
        write_predictions(run_dir / "predictions.json", predictions)
        result = evaluate_detection(self.val_ground_truth, predictions, tious=self.tious)
        _per_class_csv(result, self.val_ground_truth, run_dir / "per_class_ap.csv")

    def _redetect(self, run_dir: Path) -> dict[str, list[Detection]]:
        """The best checkpoint's detections on the validation set (on the CPU)."""
        assert self.data is not None and isinstance(self.data.val, DetectionDataset)
        ckpt, path = load_checkpoint(run_dir, "best")
        network = self.build_model()
        load_weights(network, ckpt["state_dict"], source=str(path))
        return run_detector(network, self.data.val, self.classes, nms=self.nms)
