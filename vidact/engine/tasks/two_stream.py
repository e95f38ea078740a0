"""Two-stream classification: a temporal stream on optical flow, or a pair of it and a spatial stream on RGB.

The recipe's ``task: two_stream``. Its model is a flow model (card ``modality: flow``, input flow clips
[B, 2, S*L, H, W]: ``two_stream_flow_resnet18``, ...) or a two-stream pair (card ``modality: rgb+flow``, input
``{"video": [B, 3, S, H, W], "flow": [B, 2, S*L, H, W]}``: ``two_stream_resnet18``, ...); the task reads the
batch entries of that modality (:data:`~vidact.engine.tasks.classification.INPUT_KEYS`). What it reads of the
recipe:

=====================================  ===========================================================================
``data.root``                          flow folders (``vidact extract flow VIDEOS --out ROOT``; ``--rgb`` also
                                       writes the frames a pair needs; mmaction2 rawframes folders), in the
                                       ``data.kind`` layout, with folders where the videos would be
``data.kind``, ``train_split``,        as for videos (:func:`~vidact.data.datasets.build_dataset`)
``val_split``, ``annotations``, ...
``data.sampler``                       ``segments`` (TSN: S segments of L consecutive flow fields)
``data.clip_len``                      S, the segments (a pair's RGB stream takes one frame of each)
``data.short_side``, ``crop_size``     both streams' geometry (flow images are resized as images)
``data.train_crop``, ``flip_p``        training augmentation, one draw for both streams (a flip negates flow x)
``data.normalize``                     the RGB stream's normalisation (flow is always ``q / 127.5 - 1``)
``model``                              a flow or rgb+flow model; its ``length`` argument (``model.kwargs``, else
                                       the builder's default) is L, the flow fields of a segment
``eval.num_clips``, ``num_crops``      the test views (:class:`~vidact.data.datasets.flow.SnippetViews`)
``task.kwargs``                        the rest of the flow input (:class:`~vidact.data.flow.FlowPreset`):
                                       ``bound`` (the 8-bit code's clip, pixels: the one the folders were written
                                       with), ``method`` and ``flow_size`` (how ``vidact predict`` computes flow
                                       from a raw video: the method and size the folders were made with);
                                       default the model card's
=====================================  ===========================================================================

The input spec these make (:func:`flow_spec`: a :class:`~vidact.data.flow.FlowPreset` or an
:class:`~vidact.data.flow.RgbFlowPreset`) is stored with every checkpoint, so ``vidact eval RUN FLOW_FOLDERS``
(:func:`evaluate_flow`) and ``vidact predict VIDEO --model RUN`` (flow computed on the fly,
:mod:`vidact.infer.flow`) make the input the run was trained on. Training is
:class:`~.classification.Classification`'s: cross-entropy with label smoothing and mixup (one weight and pairing
for both streams), top-1/top-5 and the mean class accuracy, the confusion matrix and per-class accuracies of the
best epoch.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch

from ...data.datasets.flow import FlowClipDataset, SnippetViews, build_flow_dataset, collate_flow
from ...data.flow import FlowPreset, RgbFlowPreset
from ...data.sampling import ClipSampler
from ...errors import ConfigError, DatasetError
from ...flow.methods import list_flow_methods
from ...models import get_builder, model_card
from ...models.loaded import LoadedModel
from ..config import Config
from ..scoring import Average, EvalResult, evaluate_model
from .base import TaskData, recipe_of, recipe_preset
from .classification import INPUT_KEYS, Classification, eval_defaults, eval_views
from .registry import register_task

__all__ = ["TwoStreamClassification", "FLOW_MODALITIES", "flow_spec", "flow_datasets", "evaluate_flow"]

#: The input modalities of the task's models.
FLOW_MODALITIES = ("flow", "rgb+flow")
#: ``task.kwargs`` that are fields of the flow input's :class:`FlowPreset`.
_PRESET_OPTIONS = ("bound", "method", "flow_size")

FlowSpec = FlowPreset | RgbFlowPreset


def flow_spec(config: Config | Mapping[str, Any]) -> FlowSpec:
    """The input of a two-stream run, from its recipe (a :class:`Config`, or a checkpoint's ``config``).

    A flow model's :class:`FlowPreset`: the model card's, with ``data.clip_len`` segments of the model's
    ``length`` fields (``model.kwargs``, else the builder's default), the recipe's short side, crop and test
    views, and the :data:`_PRESET_OPTIONS` of ``task.kwargs``. A pair's :class:`RgbFlowPreset`: that flow preset
    and the RGB stream's :func:`~vidact.engine.tasks.base.recipe_preset` (one frame per segment).

    Raises:
        ConfigError: a model of another modality, a sampler other than ``segments``, an unknown flow method, or
            options that make no valid preset.
    """
    cfg = recipe_of(config)
    name, data = cfg.model.name, cfg.data
    card = model_card(name)
    if card.modality not in FLOW_MODALITIES:
        raise ConfigError(
            f"task two_stream: {name} is a {card.modality} model; choose a flow or rgb+flow model "
            "(two_stream_flow_resnet18, two_stream_resnet18, ...)"
        )
    if data.sampler != "segments":
        raise ConfigError(
            f"task two_stream: data.sampler must be 'segments' (S segments of L flow fields), got {data.sampler!r}"
        )
    options = cfg.task.kwargs
    unknown = sorted(set(options) - set(_PRESET_OPTIONS))
    if unknown:
        raise ConfigError(f"task.kwargs: unknown key {unknown[0]!r}; keys are {', '.join(_PRESET_OPTIONS)}")
    method = options.get("method")
    if method is not None and method not in list_flow_methods():
        raise ConfigError(
            f"task.kwargs.method: unknown flow method {method!r}; choose from {', '.join(list_flow_methods())}"
        )
    arguments = {
        key: param.default
        for key, param in inspect.signature(get_builder(name)).parameters.items()
        if param.default is not param.empty
    }
    arguments.update(cfg.model.kwargs)
    base = card.preset if isinstance(card.preset, (FlowPreset, RgbFlowPreset)) else None
    base_flow = base.flow if isinstance(base, RgbFlowPreset) else base or FlowPreset()
    try:
        flow = replace(
            base_flow,
            segments=int(data.clip_len),
            length=int(arguments.get("length", base_flow.length)),
            short_side=int(data.short_side),
            crop_size=int(data.crop_size),
            num_clips=int(cfg.eval.num_clips),
            num_crops=int(cfg.eval.num_crops),
            **{key: options[key] for key in _PRESET_OPTIONS if key in options},
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"task two_stream: {e}") from None
    if card.modality == "flow":
        return flow
    return RgbFlowPreset(rgb=recipe_preset(cfg), flow=flow)


def _flow_part(spec: FlowSpec) -> FlowPreset:
    return spec.flow if isinstance(spec, RgbFlowPreset) else spec


def flow_datasets(
    config: Config | Mapping[str, Any], seed: int, validate: bool, progress: bool = True
) -> tuple[FlowClipDataset, FlowClipDataset | None]:
    """The recipe's training set of flow folders (RGB frames too for a pair), and the validation set (same
    classes) when ``validate``; clips made as :func:`flow_spec` says: S random snippets of L fields for
    training (and one augmentation draw for both streams), the centred ones for validation.

    Items: ``{"flow": [2, S*L, crop, crop], "video": [3, S, crop, crop] (pairs), "label", "meta"}``.

    Raises:
        ConfigError: no ``data.root``, or a recipe that makes no valid spec.
        DatasetError: missing or malformed folders, or validation classes that differ from the training ones.
    """
    cfg = recipe_of(config)
    data = cfg.data
    if not data.root:
        raise ConfigError("data.root is not set: give the folder of the flow folders (data.root=PATH)")
    spec = flow_spec(cfg)
    flow = _flow_part(spec)
    options = {
        "rgb": isinstance(spec, RgbFlowPreset),
        "length": flow.length,
        "short_side": flow.decode_short_side,
        "on_error": data.on_error,
        "seed": seed,
        "fold": data.fold,
        "progress": progress,
    }
    train_set = build_flow_dataset(
        data.kind,
        data.root,
        data.train_split,
        sampler=ClipSampler.segments(flow.segments, flow.length),
        annotations=data.annotations,
        classes=data.classes,
        transform=spec.train_transform(crop=data.train_crop, flip_p=data.flip_p),
        **options,
    )
    if not validate:
        return train_set, None
    classes = data.classes if data.classes or data.kind in ("ucf101", "hmdb51") else train_set.classes
    val_set = build_flow_dataset(
        data.kind,
        data.val_root or data.root,
        data.val_split,
        sampler=ClipSampler.segments(flow.segments, flow.length, random=False),
        annotations=data.val_annotations or data.annotations,
        classes=classes,
        transform=spec.eval_transform(),
        **options,
    )
    if val_set.classes != train_set.classes:
        raise DatasetError(
            f"{data.val_root or data.root}: the validation split has {len(val_set.classes)} classes and the "
            f"training split {len(train_set.classes)}, or another order; give a label map (data.classes)"
        )
    return train_set, val_set


@register_task
class TwoStreamClassification(Classification):
    """Flow clips, or RGB frames and flow clips in lock-step, with labels [B] -> logits [B, K] (see the module
    docstring).

    Args:
        config: the recipe.
        bound, method, flow_size: fields of the flow input (:class:`~vidact.data.flow.FlowPreset`; default the
            model card's), read from ``task.kwargs`` by :func:`flow_spec`.
    """

    name = "two_stream"
    #: The pair's modality; a run of a flow model reads ``"flow"`` (:attr:`modality` of the instance).
    modality = "rgb+flow"
    also_reads = ("flow",)
    clip_keys = ("video", "flow")

    @classmethod
    def input_spec(cls, config: Config) -> FlowSpec:
        """The run's :class:`FlowPreset` or :class:`RgbFlowPreset` (:func:`flow_spec`)."""
        return flow_spec(config)

    @classmethod
    def evaluate(cls, loaded: LoadedModel, data: str | os.PathLike, **options: Any) -> EvalResult:
        """Views of flow folders (with their RGB frames for a pair), scores averaged (:func:`evaluate_flow`)."""
        return evaluate_flow(loaded, data, **options)

    def __init__(
        self,
        config: Config,
        *,
        bound: float | None = None,
        method: str | None = None,
        flow_size: int | None = None,
    ):
        super().__init__(config)
        # The spec reads them from the recipe (as evaluation and prediction do, from a checkpoint's): a wrong
        # model, sampler or option fails here, before any data is read.
        self.spec = flow_spec(config)
        self.modality = self.spec.modality

    def build_data(self, *, seed: int, validate: bool, progress: bool) -> TaskData:
        train_set, val_set = flow_datasets(self.config, seed, validate, progress)
        self.classes = list(train_set.classes)
        self.data = TaskData(train_set, val_set, collate=collate_flow)
        return self.data

    def summary(self, best: dict[str, Any] | None) -> dict[str, Any]:
        return {**super().summary(best), "input": self.spec.to_dict()}


def evaluate_flow(
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
    """Multi-view test of a flow model or a two-stream pair on one split of flow folders (``vidact eval``).

    Each folder gives ``num_clips`` x ``num_crops`` views: ``num_clips`` sweeps of the S segments' snippets
    (:class:`~vidact.data.datasets.flow.SnippetViews`; one: the centred snippets of validation) and the centre
    crop or three crops along the long side, made as the model's input spec says (a pair's RGB frames in
    lock-step: the first frame of each snippet, the same crop); its scores are the views' averaged as
    ``average`` says. Classes are matched to the model's by name.

    Args:
        loaded: the model with its :class:`FlowPreset` or :class:`RgbFlowPreset` and K class names (a run's
            recipe gives the defaults below).
        data: the root of the flow folders, in the ``kind`` layout.
        split, kind, annotations, fold: as :func:`vidact.engine.evaluate.evaluate`.
        num_clips, num_crops: views per folder (default the recipe's ``eval`` section, or the spec's test views).
        average, batch_size, workers, device, progress: as :func:`~vidact.engine.scoring.evaluate_model`.

    Raises:
        ConfigError: a model that does not read flow, bad views.
        DatasetError: folders that cannot be read in that layout, classes the model lacks, nothing readable.
    """
    spec = loaded.spec
    if spec.modality not in FLOW_MODALITIES:
        raise ConfigError(f"{loaded.source}: a {spec.modality} model, not a flow or rgb+flow one")
    recipe = eval_defaults(loaded)
    split, num_clips, num_crops = eval_views(recipe, split, num_clips, num_crops)
    flow = _flow_part(spec)
    dataset = build_flow_dataset(
        kind,
        data,
        split or None,
        sampler=SnippetViews(flow.segments, flow.length, num_clips),
        annotations=annotations,
        fold=fold,
        rgb=isinstance(spec, RgbFlowPreset),
        length=flow.length,
        transform=spec.eval_transform("center" if num_crops == 1 else "three"),
        short_side=flow.decode_short_side,
        progress=progress,
    )
    result = evaluate_model(
        loaded.module,
        dataset,
        loaded.classes,
        average=average,
        batch_size=int(recipe["batch_size"] if batch_size is None else batch_size),
        workers=workers,
        device=device,
        progress=progress,
        source=os.fspath(data),
        input_keys=INPUT_KEYS[spec.modality],
        collate=collate_flow,
    )
    result.checkpoint, result.data, result.split = loaded.source, os.fspath(data), split or None
    return result
