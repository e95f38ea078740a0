"""Skeleton classification: labelled joint sequences of a PYSKL annotation file, any registered skeleton model.

The recipe's ``task: skeleton``. What it reads of the recipe:

========================  ==================================================================================
``data.annotations``      the annotation pickle (PYSKL's ``{"split", "annotations"}``); else ``data.root``: the
                          pickle, or a folder holding ``annotations.pkl`` (``vidact synth --kind skeleton``)
``data.train_split``      split names of the pickle (``val_split: null``: no validation)
``data.val_split``
``data.classes``          a label map; default the ``classes.txt`` beside the pickle
``data.clip_len``         T, the frames of an input
``data.batch_size``,      as for every task
``data.num_workers``
``model``                 a skeleton model (card ``modality: skeleton``); its ``layout`` and ``in_channels``
                          arguments (``model.kwargs`` or the builder's defaults) are the input's V and C
``eval.num_clips``        views per sequence in ``vidact eval`` (their softmax scores averaged)
``task.kwargs``           the rest of the input (:class:`~vidact.data.skeleton.presets.SkeletonPreset` fields
                          ``persons``, ``coords``, ``sampler``, ``pad_to``, ``center``, ``center_joint``: default
                          the model card's preset) and the training augmentation (``rotate``, ``scale``)
========================  ==================================================================================

The video keys of ``data`` (``short_side``, ``crop_size``, ``normalize``, ...) are not read. Training is
:class:`~.classification.Classification`'s: cross-entropy with ``train.label_smoothing`` and
``train.mixup_alpha``, top-1/top-5 and the mean class accuracy on the validation split (one view per sequence),
the confusion matrix and per-class accuracies of the best epoch, and the same checkpoints, ``metrics.json`` and
report files. :func:`evaluate_skeleton` is ``vidact eval`` for its runs.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ...data.skeleton.dataset import SkeletonDataset, collate_skeletons
from ...data.skeleton.layouts import LAYOUTS, Layout
from ...data.skeleton.presets import SkeletonPreset
from ...errors import ConfigError, DatasetError
from ...models import get_builder, model_card
from ...models.loaded import LoadedModel
from ..config import Config
from ..metrics import classification_metrics
from ..scoring import Average, EvalResult, average_views, match_classes
from .base import TaskData, recipe_of
from .classification import Classification, eval_defaults
from .registry import register_task

__all__ = ["SkeletonClassification", "skeleton_preset", "skeleton_datasets", "evaluate_skeleton"]

#: ``task.kwargs`` that are fields of the input's :class:`SkeletonPreset`.
_PRESET_OPTIONS = ("persons", "coords", "sampler", "pad_to", "center", "center_joint")


def skeleton_preset(config: Config | Mapping[str, Any]) -> SkeletonPreset:
    """The input of a skeleton run, from its recipe (a :class:`Config`, or a checkpoint's ``config``).

    The model card's preset, with the layout and channels of the model as the recipe builds it (its
    ``layout`` and ``in_channels``: ``model.kwargs``, else the builder's defaults), ``data.clip_len`` frames,
    ``eval.num_clips`` test views and the :data:`_PRESET_OPTIONS` of ``task.kwargs``.

    Raises:
        ConfigError: a model that is not a skeleton model, or options that make no valid preset.
    """
    cfg = recipe_of(config)
    name = cfg.model.name
    card = model_card(name)
    if card.modality != "skeleton":
        raise ConfigError(f"task skeleton: {name} is a {card.modality} model; choose a skeleton model")
    signature = inspect.signature(get_builder(name))
    arguments = {
        key: param.default for key, param in signature.parameters.items() if param.default is not param.empty
    }
    arguments.update(cfg.model.kwargs)
    base = card.preset or SkeletonPreset(
        layout=_input_layout(arguments.get("layout", "ntu25")), frames=card.frames
    )
    options = cfg.task.kwargs
    try:
        return replace(
            base,
            layout=_input_layout(arguments.get("layout", base.layout)),
            channels=int(arguments.get("in_channels", base.channels)),
            frames=int(cfg.data.clip_len),
            num_clips=int(cfg.eval.num_clips),
            **{key: options[key] for key in _PRESET_OPTIONS if options.get(key) is not None},
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"task skeleton: {e}") from None


def _input_layout(layout: str | Layout) -> str:
    """The name of the layout whose joints a model reads: a model's own tree over a shipped layout's joints
    (EfficientGCN's ``ntu25_efficientgcn``) reads that layout's input."""
    if isinstance(layout, str):
        return layout
    same = [name for name, known in LAYOUTS.items() if known.joints == layout.joints]
    return same[0] if same else layout.name


def skeleton_datasets(
    config: Config | Mapping[str, Any], seed: int, validate: bool
) -> tuple[SkeletonDataset, SkeletonDataset | None]:
    """The recipe's training set, and its validation set (one view per sequence) when ``validate`` and
    ``data.val_split`` is set.

    Raises:
        ConfigError: no annotation file given.
        DatasetError: an unreadable file, a missing split, or validation classes that differ.
    """
    cfg = recipe_of(config)
    data = cfg.data
    source = data.annotations or data.root
    if not source:
        raise ConfigError("task skeleton: set data.annotations (or data.root) to the annotation pickle")
    options = cfg.task.kwargs
    preset = skeleton_preset(cfg)
    common = {"classes": data.classes, "seed": seed}
    train_set = SkeletonDataset(
        source,
        data.train_split,
        preset=preset,
        train=True,
        rotate=float(options.get("rotate", 0.0)),
        scale=float(options.get("scale", 0.0)),
        **common,
    )
    if not validate or data.val_split is None:
        return train_set, None
    val_set = SkeletonDataset(
        data.val_annotations or source,
        data.val_split,
        preset=replace(preset, num_clips=1),
        train=False,
        **common,
    )
    return train_set, val_set


@register_task
class SkeletonClassification(Classification):
    """Joints [B, M, T, V, C] with labels [B] -> logits [B, K] (see the module docstring).

    Args:
        config: the recipe.
        persons, coords, sampler, pad_to, center, center_joint: fields of the input's preset (default the
            model card's; ``center``: :data:`~vidact.data.skeleton.presets.CENTERS`, ``center_joint``: a joint
            name of the layout). The preset, centring included, is what prediction and evaluation of the run
            rebuild from its recipe.
        rotate: training: the largest random rotation about the vertical axis, degrees (3D joints).
        scale: training: the largest random change of scale per axis.
    """

    name = "skeleton"
    modality = "skeleton"
    input_key = "joints"
    clip_keys = ()  # joints [B, M, T, V, C] are not clips: no channels-last layout

    @classmethod
    def input_spec(cls, config: Config) -> SkeletonPreset:
        """The run's :class:`SkeletonPreset` (:func:`skeleton_preset`)."""
        return skeleton_preset(config)

    @classmethod
    def evaluate(cls, loaded: LoadedModel, data: str | os.PathLike, **options: Any) -> EvalResult:
        """Views per sequence of an annotation file, scores averaged (:func:`evaluate_skeleton`)."""
        return evaluate_skeleton(loaded, data, **options)

    def __init__(
        self,
        config: Config,
        *,
        persons: int | None = None,
        coords: str | None = None,
        sampler: str | None = None,
        pad_to: int | None = None,
        center: str | None = None,
        center_joint: str | None = None,
        rotate: float = 0.0,
        scale: float = 0.0,
    ):
        super().__init__(config)
        if rotate < 0 or not 0 <= scale < 1:
            raise ConfigError(f"task.kwargs: need rotate >= 0 and 0 <= scale < 1, got {rotate} and {scale}")
        # The preset reads persons, coords, sampler, pad_to and the centring from the recipe (as evaluation and
        # prediction do, from a checkpoint's): a wrong model or option fails here, before any data is read.
        self.preset = skeleton_preset(config)
        if (rotate or scale) and self.preset.channels != 3:
            raise ConfigError("task.kwargs: rotate and scale augment 3D joints; the model reads 2D ones")

    def build_data(self, *, seed: int, validate: bool, progress: bool) -> TaskData:
        train_set, val_set = skeleton_datasets(self.config, seed, validate)
        if val_set is not None and val_set.classes != train_set.classes:
            raise ConfigError(
                f"task skeleton: the validation split has classes {val_set.classes}, the training split "
                f"{train_set.classes}; give a label map (data.classes)"
            )
        self.classes = list(train_set.classes)
        self.data = TaskData(train_set, val_set, collate=collate_skeletons)
        return self.data

    def summary(self, best: dict[str, Any] | None) -> dict[str, Any]:
        per_class = None if best is None else dict(zip(self.classes, best["per_class_acc"], strict=True))
        return {"classes": self.classes, "per_class_accuracy": per_class, "preset": self.preset.to_dict()}


def evaluate_skeleton(
    loaded: LoadedModel,
    data: str | os.PathLike,
    *,
    split: str | None = None,
    annotations: str | os.PathLike | None = None,
    num_clips: int | None = None,
    num_crops: int | None = None,
    average: Average = "softmax",
    batch_size: int | None = None,
    workers: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    kind: str | None = None,
    fold: int | None = None,
) -> EvalResult:
    """Multi-view test of a skeleton model (a run's, or published weights) on one split of an annotation file
    (``vidact eval``).

    Each sequence gives ``num_clips`` views (the :func:`~vidact.data.skeleton.transforms.uniform_sample_indices`
    test clips, fixed per sequence length; one for the ``pad`` sampler), made as in training (the recipe's
    preset and preprocessing, no augmentation); its scores are the views' averaged as ``average`` says
    (:func:`~vidact.engine.evaluate.average_views`). Classes are matched to the model's by name.

    Args:
        loaded: the model (joints [N, M, T, V, C] -> logits [N, K]) with its skeleton preset and K class names
            (a run's recipe gives the defaults below and its label map).
        data: the annotation pickle, or a folder holding ``annotations.pkl``.
        split: the split (default the recipe's ``eval.split``; ``""``: every record).
        annotations: the annotation pickle, when given instead of ``data``.
        num_clips: views per sequence (default the recipe's ``eval.num_clips``, or the preset's).
        num_crops: ``None`` or 1 (a skeleton has no crops).
        kind, fold: video dataset options; not read.
        average, batch_size, workers, device, progress: as :func:`~vidact.engine.evaluate.evaluate_model`
            (``batch_size``: sequences per forward pass, default the recipe's ``eval.batch_size``).

    Returns:
        An :class:`~vidact.engine.evaluate.EvalResult` whose ``paths`` are the records' ``frame_dir``.

    Raises:
        ConfigError, DatasetError: an unreadable file, a missing split, classes the model lacks.
    """
    if num_crops not in (None, 1):
        raise ConfigError(f"a skeleton model has no crops; got {num_crops}")
    data = annotations or data  # the annotation pickle: kind and fold (video layouts) are not read
    views = eval_defaults(loaded)
    split = views["split"] if split is None else split
    num_clips = int(views["num_clips"] if num_clips is None else num_clips)
    if num_clips < 1:
        raise ConfigError(f"the number of clips must be at least 1, got {num_clips}")
    preset = loaded.spec
    if preset.sampler == "pad":
        num_clips = 1  # one view: the first frames
    classes = loaded.classes
    label_map_file = None if loaded.config is None else recipe_of(loaded.config).data.classes
    dataset = SkeletonDataset(
        data,
        split or None,
        preset=replace(preset, num_clips=num_clips),
        train=False,
        classes=label_map_file,
    )
    if not len(dataset):
        raise DatasetError(f"{os.fspath(data)}: split {split!r} holds no sequences")
    label_map = match_classes(dataset.classes, dataset.labels, classes, os.fspath(data))
    device = torch.device(device)
    model = loaded.module.to(device).eval()
    loader = DataLoader(
        dataset,
        batch_size=int(views["batch_size"] if batch_size is None else batch_size),
        num_workers=workers,
        collate_fn=collate_skeletons,
    )
    scores: list[Tensor] = []
    with (
        torch.inference_mode(),
        tqdm(total=len(dataset), desc="evaluating", unit="sequence", disable=not progress) as bar,
    ):
        for batch in loader:
            joints = batch["joints"].to(device)
            if joints.ndim == 5:  # one view: [B, M, T, V, C]
                joints = joints[:, None]
            logits = model(joints.flatten(0, 1))  # [B * K, num_classes]
            scores.append(average_views(logits.reshape(*joints.shape[:2], -1), average).cpu())
            bar.update(len(joints))
    score_array = torch.cat(scores).numpy()
    labels = label_map[dataset.labels]
    return EvalResult(
        classes=list(classes),
        paths=dataset.frame_dirs,
        labels=labels,
        scores=score_array,
        metrics=classification_metrics(score_array, labels, len(classes)),
        num_clips=num_clips,
        num_crops=1,
        average=average,
        split=split or None,
        data=os.fspath(data),
        checkpoint=loaded.source,
    )
