"""What a task is: everything the training loop does not know.

The loop (:mod:`vidact.engine.loop`) owns the process group, the batch order, the random state, the optimizer,
gradient accumulation, precision, checkpoints and logging. A :class:`Task` owns the rest:

=========================  ===========================================================================================
``build_data``             its training and validation datasets and their collate function (:class:`TaskData`)
``outputs``                the names of the model's outputs (class names for classification), stored in checkpoints
``build_model``            its network (a registry model, or one built around it)
``training_step``          forward and loss: a dict of named scalar losses; the loop backpropagates their sum
``validation_step``        per-sample outputs of a validation batch ([B, ...] tensors); the loop gathers them
``validation_metrics``     the metrics of the whole validation set, from the gathered outputs
``summary``, ``reports``   its entries of ``metrics.json`` and its report files (confusion matrix, ...)
``input_spec``             the input spec of a recipe (:mod:`vidact.data.inputs`), stored in every checkpoint
``evaluate``               the multi-view test of a trained model (``vidact eval``) on the task's kind of data
``produces_classifier``    whether its checkpoints are classifiers that ``eval``, ``predict`` and ``extract`` load
``backbone_prefix``        the part of its network that seeds another model's training (``model.pretrained``)
``pretrains``              whether it is a pre-training task (the ones ``vidact pretrain`` runs)
``state_dict``             its own training state (a running normaliser), saved with the loop's for resuming
=========================  ===========================================================================================

A batch is a dict (the collate function's); the loop moves its tensors to the device (5-D float ones, clips, in
the run's memory format) before a step. Randomness of a step (mixup, masks) comes from the ``rng`` the loop
passes, a function of (seed, epoch, batch, rank): a resumed run draws the same.

A task's class attributes declare the columns of ``metrics.csv``: ``train_loss`` (the total), ``train_<name>``
for each loss when there are several, ``train_<stat>`` for each of ``train_stats`` (per-sample means of the sums a
step returns), ``val_<metric>`` for each of ``val_metrics``. ``monitor`` picks the best epoch.
"""

from __future__ import annotations

import functools
import inspect
import operator
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ...data.datasets import ClipSampler, VideoClipDataset, build_dataset
from ...data.inputs import InputSpec
from ...data.presets import Preset
from ...errors import CheckpointError, ConfigError, DatasetError
from ...models import get_builder, model_card
from ...models.loaded import LoadedModel
from ...models.weights import load_pretrained, read_checkpoint
from ..checkpoint import FORMAT, backbone_state, resolve_checkpoint
from ..config import Config, DataConfig, ModelConfig, recipe_normalization
from ..refs import resolve_model_ref
from ..scoring import EvalResult

__all__ = ["Task", "TaskData", "StepOutput", "build_network", "video_datasets", "recipe_preset", "recipe_of"]

Batch = dict[str, Any]


@dataclass
class TaskData:
    """A task's data.

    Attributes:
        train: the training set (map-style; ``set_epoch(epoch)``, when it has one, is called before each epoch,
            so that it draws each item from (seed, epoch, index)).
        val: the validation set, or ``None``.
        collate: items -> a batch dict (the DataLoader's ``collate_fn``).
    """

    train: Dataset
    val: Dataset | None
    collate: Callable[[list[Any]], Batch]


@dataclass
class StepOutput:
    """What one training step computed.

    Attributes:
        losses: named scalar losses (each a mean over the batch); the loop backpropagates their sum.
        size: samples in the batch (the weight of this batch in the epoch's means).
        stats: sums over the batch's samples of per-sample quantities the task declared in ``train_stats``
            (``{"acc": number correct}``); the epoch reports each divided by the samples.
    """

    losses: dict[str, Tensor]
    size: int
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> Tensor:
        """The sum of the losses (the one loss itself when there is one)."""
        return functools.reduce(operator.add, self.losses.values())


class Task(ABC):
    """A kind of training: its data, network, losses, metrics and reports (see the module docstring).

    Subclasses are registered with :func:`vidact.engine.tasks.register_task` and built from a recipe as
    ``Task(config, **config.task.kwargs)``.
    """

    #: The recipe's ``task.name``.
    name: ClassVar[str]
    #: Names of the losses ``training_step`` returns, in order.
    loss_names: ClassVar[tuple[str, ...]]
    #: Per-sample training quantities whose sums ``training_step`` returns (reported as ``train_<stat>``).
    train_stats: ClassVar[tuple[str, ...]] = ()
    #: Scalar validation metrics recorded per epoch (as ``val_<metric>``).
    val_metrics: ClassVar[tuple[str, ...]] = ()
    #: The validation metric that picks the best epoch, and whether higher is better.
    monitor: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    #: Batch entries that are clips [B, C, T, H, W]: the loop stores them in the run's memory format
    #: (channels-last-3d); other tensors (labels, masks, joints [B, M, T, V, C]) reach the steps as collated.
    clip_keys: ClassVar[tuple[str, ...]] = ("video",)
    #: The modality of its models' input (:mod:`vidact.data.inputs`): published weights of a modality are
    #: evaluated by the classifier task of that modality.
    modality: ClassVar[str] = "video"
    #: Other modalities its models may read (the two-stream task trains flow models and rgb+flow pairs):
    #: published weights of those are evaluated by it too.
    also_reads: ClassVar[tuple[str, ...]] = ()
    #: Whether its checkpoints are classifiers (logits over ``outputs``) that evaluation, prediction and
    #: feature extraction load.
    produces_classifier: ClassVar[bool] = True
    #: The ``state_dict`` prefix of the part of its network that seeds another model (``model.pretrained``):
    #: ``""`` the whole network; a pre-training task names its encoder (``"encoder."``).
    backbone_prefix: ClassVar[str] = ""
    #: Whether it pre-trains a network for others to fine-tune (``vidact pretrain`` runs only these): its
    #: checkpoints' :attr:`backbone_prefix` part seeds a recipe's ``model.pretrained``.
    pretrains: ClassVar[bool] = False
    #: Whether its evaluation may run the inference fast path (:func:`~vidact.engine.fast.prepare_for_inference`:
    #: a classifier's ``model(x) -> logits``); a task whose models return other structures evaluates in float32.
    fast_inference: ClassVar[bool] = True

    def __init__(self, config: Config):
        self.config = config
        self.data: TaskData | None = None

    @classmethod
    def reads(cls, modality: str) -> bool:
        """Whether its models read inputs of ``modality`` (:attr:`modality` or one of :attr:`also_reads`)."""
        return modality == cls.modality or modality in cls.also_reads

    # -- what the rest of vidact calls ---------------------------------------------------------------------------
    @classmethod
    def input_spec(cls, config: Config) -> InputSpec | None:
        """The input spec of a run of this task (how its model's input is made), from its recipe; ``None`` for
        a task whose checkpoints take no input outside training. Stored in every checkpoint.

        Raises:
            ConfigError: a recipe that makes no valid spec.
        """
        return recipe_preset(config)

    def checkpoint_fields(self) -> dict[str, Any]:
        """What its checkpoints say of themselves besides the weights (:mod:`vidact.engine.checkpoint`):
        ``input`` (the spec), ``classifier`` and ``backbone``."""
        spec = self.input_spec(self.config)
        return {
            "input": None if spec is None else spec.to_dict(),
            "classifier": self.produces_classifier,
            "backbone": self.backbone_prefix,
        }

    @classmethod
    def evaluate(cls, loaded: LoadedModel, data: str | os.PathLike, **options: Any) -> EvalResult:
        """The multi-view test of a trained model of this task on ``data`` (``vidact eval``); ``options`` are
        :func:`vidact.engine.evaluate.evaluate`'s.

        Raises:
            ConfigError: a task without an evaluation.
        """
        raise ConfigError(f"{loaded.source}: the {cls.name} task has no evaluation")

    # -- what the loop calls ------------------------------------------------------------------------------------
    @classmethod
    def history_columns(cls) -> tuple[str, ...]:
        """The columns of ``metrics.csv``, in order."""
        losses = [f"train_{name}" for name in cls.loss_names] if len(cls.loss_names) > 1 else []
        return (
            "epoch",
            "step",
            "lr",
            "train_loss",
            *losses,
            *(f"train_{stat}" for stat in cls.train_stats),
            *(f"val_{metric}" for metric in cls.val_metrics),
            "time",
        )

    @abstractmethod
    def build_data(self, *, seed: int, validate: bool, progress: bool) -> TaskData:
        """The datasets (the validation one only when ``validate``); called once, before :meth:`build_model`."""

    @property
    @abstractmethod
    def outputs(self) -> list[str]:
        """Names of the model's outputs, index = output (the checkpoint's ``classes``)."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """The network, with the recipe's pretrained weights if any (torch's generator is seeded before)."""

    @abstractmethod
    def training_step(self, model: nn.Module, batch: Batch, rng: np.random.Generator) -> StepOutput:
        """Forward and loss of one training batch. ``model`` runs under the run's precision."""

    @abstractmethod
    def validation_step(self, model: nn.Module, batch: Batch) -> dict[str, Tensor | list[Any]]:
        """Per-sample outputs of one validation batch of B samples (run under autocast), by name. Each is either
        a [B, ...] tensor (every sample's output of the same shape: logits [B, K], labels [B]) or a list of B
        per-sample objects of any kind and size (tensors of different shapes, e.g. a variable number of
        detected segments [S_i, 2] per video, dicts, numbers), picklable (gathered with
        ``torch.distributed.all_gather_object`` across processes). Tensors in them are detached and moved to
        the CPU by the loop."""

    @abstractmethod
    def validation_metrics(self, outputs: dict[str, Tensor | list[Any]]) -> dict[str, Any]:
        """Metrics of the whole validation set from its gathered outputs, in dataset order, on the CPU: an
        [N, ...] tensor for each output :meth:`validation_step` returned as a tensor, a list of N per-sample
        objects for each it returned as a list (whatever the number of processes). Holds at least
        ``val_metrics``; everything in it must be JSON-serialisable."""

    def is_better(self, metrics: dict[str, Any], best: dict[str, Any] | None) -> bool:
        """Whether ``metrics`` beat the best epoch's (strictly; the first epoch always does)."""
        if best is None:
            return True
        now, then = metrics[self.monitor], best[self.monitor]
        return now > then if self.higher_is_better else now < then

    def describe(self, metrics: dict[str, Any]) -> str:
        """The validation part of an epoch's console line."""
        return "val " + " ".join(f"{name} {metrics[name]:.4f}" for name in self.val_metrics)

    def failures(self, batch: Batch) -> Iterator[tuple[str, str]]:
        """(path, reason) of each unreadable video an item of ``batch`` replaced (vidact's video datasets put
        them in ``meta["skipped"]``)."""
        for meta in batch.get("meta", ()):
            for failure in meta.get("skipped", ()):
                yield failure.path, failure.reason

    def summary(self, best: dict[str, Any] | None) -> dict[str, Any]:
        """The task's entries of ``metrics.json``: the unreadable videos of each split."""
        assert self.data is not None
        return {
            "bad_videos": {
                split: [{"path": p, "reason": r} for p, r in getattr(dataset, "bad_videos", [])]
                for split, dataset in (("train", self.data.train), ("val", self.data.val))
            }
        }

    def write_reports(self, run_dir: Path, best: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Report files of the best epoch in ``run_dir`` (none by default)."""

    def state_dict(self) -> dict[str, Any]:
        """The task's own training state (a running loss normaliser, ...), saved in ``last.ckpt`` so that a
        resumed run continues exactly; none by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore what :meth:`state_dict` saved (a resumed run)."""


# -- shared pieces ---------------------------------------------------------------------------------------------------
def _samplers(data: DataConfig) -> tuple[ClipSampler, ClipSampler]:
    """(training, validation) clip samplers of the recipe."""
    if data.sampler == "segments":
        return ClipSampler.segments(data.clip_len), ClipSampler.segments(data.clip_len, random=False)
    return ClipSampler.random(data.clip_len, data.stride), ClipSampler.center(data.clip_len, data.stride)


def video_datasets(
    data: DataConfig, seed: int, validate: bool, progress: bool = True, *, model: ModelConfig | None = None
) -> tuple[VideoClipDataset, VideoClipDataset | None]:
    """The recipe's training video dataset, and the validation one (same classes) when ``validate``; ``model``
    (the recipe's model section) gives the mean and std of ``data.normalize: pretrained``.

    Items are ``{"video": [3, T, H, W] float, "label": int, "meta": {...}}`` (:class:`VideoClipDataset`).

    Raises:
        ConfigError: no ``data.root``.
        DatasetError: a missing or malformed dataset, or validation classes that differ from the training ones.
    """
    if not data.root:
        raise ConfigError("data.root is not set: give the folder of the videos (data.root=PATH)")
    train_sampler, val_sampler = _samplers(data)
    # the clips are made as the run's input spec says: the one it stores, and evaluation and prediction rebuild
    spec = recipe_preset(Config(data=data, model=model if model is not None else ModelConfig()))
    options = {
        "short_side": data.short_side,
        "on_error": data.on_error,
        "seed": seed,
        "fold": data.fold,
        "progress": progress,
    }
    train_set = build_dataset(
        data.kind,
        data.root,
        data.train_split,
        sampler=train_sampler,
        annotations=data.annotations,
        classes=data.classes,
        transform=spec.train_transform(crop=data.train_crop, flip_p=data.flip_p),
        **options,
    )
    if not validate:
        return train_set, None
    # The validation split must use the training labels; layouts with official split files fix them anyway.
    classes = data.classes if data.classes or data.kind in ("ucf101", "hmdb51") else train_set.classes
    val_set = build_dataset(
        data.kind,
        data.val_root or data.root,
        data.val_split,
        sampler=val_sampler,
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


def recipe_of(config: Config | Mapping[str, Any], source: str = "recipe") -> Config:
    """A recipe as its typed :class:`~vidact.engine.config.Config` (a checkpoint's ``config`` is a plain dict):
    every key it lacks has its section's default, as in training.

    Raises:
        ConfigError: a key the schema does not know.
    """
    if isinstance(config, Config):
        return config
    return Config.from_dict(dict(config), source=source)


def recipe_preset(config: Config | Mapping[str, Any]) -> Preset:
    """The input a model was trained on, from its recipe (a checkpoint's ``config``): the ``data`` section's
    ``clip_len``, ``stride``, ``short_side``, ``crop_size``, ``normalize`` (see
    :func:`~vidact.engine.config.recipe_normalization`) and ``sampler``; the views of the ``eval`` section. A key the recipe lacks has its :class:`~vidact.engine.config.DataConfig`
    (or :class:`~vidact.engine.config.EvalConfig`) default, as in training.

    Raises:
        ConfigError: an unknown normalisation, or ``pretrained`` without published weights.
    """
    cfg = recipe_of(config)
    data, views = cfg.data, cfg.eval
    mean, std = recipe_normalization(asdict(data), asdict(cfg.model)) or ((0.0,), (1.0,))
    return Preset(
        frames=int(data.clip_len),
        frame_stride=int(data.stride),
        sampler="segments" if data.sampler == "segments" else "clip",
        short_side=int(data.short_side),
        crop_size=int(data.crop_size),
        mean=tuple(mean),
        std=tuple(std),
        num_clips=int(views.num_clips),
        num_crops=int(views.num_crops),
    )


def build_network(model: ModelConfig, num_outputs: int) -> nn.Module:
    """The recipe's registry model with ``num_outputs`` outputs, ``model.kwargs`` checked against its builder's
    signature first, initialised from ``model.pretrained`` when set (weights of another class count leave their
    classifier out, with a warning that says so).

    Raises:
        ConfigError: an unknown model, ``model.kwargs`` the builder does not take, or a ``pretrained_layout``
            without a converter for the model's family.
        CheckpointError: pretrained weights that do not fit.
    """
    builder = get_builder(model.name)
    signature = inspect.signature(builder)
    try:
        signature.bind(num_classes=num_outputs, **model.kwargs)
    except TypeError as e:
        takes = ", ".join(name for name in signature.parameters if name != "num_classes")
        raise ConfigError(f"model.kwargs: {e} ({model.name} takes {takes})") from None
    network = builder(num_classes=num_outputs, **model.kwargs)
    if model.pretrained:
        weights, converter, source = _pretrained(model)
        notice = load_pretrained(
            network,
            weights,
            classifier=model_card(model.name).classifier,
            converter=converter,
            source=source,
        )
        if notice is not None:
            warnings.warn(notice, stacklevel=2)
    return network


def _pretrained(
    model: ModelConfig,
) -> tuple[Any, Callable[[dict[str, Tensor]], dict[str, Tensor]] | None, str]:
    """``model.pretrained`` as (weights, converter, name), whatever it names
    (:func:`~vidact.engine.refs.resolve_model_ref`): published weights (fetched into the cache, read in their
    layout); a run or a vidact checkpoint (its ``backbone``: a pre-training run's encoder, its decoder left out
    with a notice); a Hugging Face ``save_pretrained`` folder (``config.json`` + ``model.safetensors``, of a family
    with a config reader); or a weights file in ``model.pretrained_layout``.

    Raises:
        ConfigError: published weights of another model, or an unknown name.
        CheckpointError: weights that cannot be found, downloaded or read.
    """
    from ...models import hub
    from ...models.converters import get_converter, read_layout

    name = str(model.pretrained)
    folder = Path(name)
    if (folder / "config.json").is_file() and not (folder / "checkpoints").is_dir():
        # a Hugging Face save_pretrained folder: the architecture its config.json describes, loaded strictly
        # (hub.load_file), whose weights then seed the recipe's model (another class count: the head left out)
        return hub.load_file(model.name, folder).module.state_dict(), None, name
    converter = None if model.pretrained_layout == "vidact" else _pretrained_converter(model)
    try:
        ref = resolve_model_ref(name)
    except CheckpointError as e:
        raise CheckpointError(f"model.pretrained: {e}") from None
    except ConfigError as e:
        raise ConfigError(f"model.pretrained: {e}") from None
    if ref.kind == "weights":
        published = hub.get_weights(name)
        if published.card.name != model.name:
            raise ConfigError(
                f"model.pretrained: {name} are weights of {published.card.name}, not of {model.name}"
            )
        state = dict(read_layout(published.entry.layout, hub.fetch(published)))
        return state, get_converter(published.card.family, published.entry.layout, model=model.name), name
    path = resolve_checkpoint(ref.name)
    raw = read_checkpoint(path)
    if isinstance(raw, dict) and raw.get("format") == FORMAT:  # a vidact run: its backbone, in vidact's keys
        state, notice = backbone_state(raw)
        if notice is not None:
            warnings.warn(f"{path}: {notice}", stacklevel=3)
        return state, None, str(path)
    return raw, converter, str(path)


def _pretrained_converter(model: ModelConfig) -> Callable[[dict[str, Tensor]], dict[str, Tensor]] | None:
    """The converter of ``model.pretrained_layout`` to the model family's key names (``None``: vidact's)."""
    from ...models.converters import get_converter

    try:
        return get_converter(model_card(model.name).family, model.pretrained_layout, model=model.name)
    except ConfigError as e:
        raise ConfigError(f"model.pretrained_layout: {e}") from None


def per_sample_generator(seed: int, index: int) -> torch.Generator:
    """A torch generator that is a function of (seed, sample index) only: validation draws that do not depend
    on the batch or the process a sample lands in."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, index]).generate_state(1)[0]))
