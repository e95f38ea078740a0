"""One registry for every model: ``build_model(name, num_classes=..., **kwargs)``, ``list_models()``, and the
model card of each (what it expects, what it costs, which published weights it can load, under what licence).

A model family lives in one self-contained file that defines plain builder functions and registers them:

    @register_model(card=ModelCard(name="r2plus1d_18", family="resnet3d", input_size=(3, 16, 112, 112), ...))
    def r2plus1d_18(*, num_classes: int = 400, **kwargs) -> nn.Module: ...

Every registered model takes ``num_classes`` and keeps one contract (timm's), which two-stream fusion,
feature extraction for temporal detection and fine-tuning rely on:

    model(x)                                    clips [B, C, T, H, W] -> logits [B, K]
    model.forward_features(x)                   -> unpooled features, shape in its docstring: [B, D, T', H', W']
                                                   for 3D CNNs, [B, T, D] per frame, [slow, fast] maps for SlowFast
    model.forward_head(f, pre_logits=False)     features -> logits [B, K]; ``pre_logits``: pooled [B, D]
    model.num_features                          D, the width of the pooled features
    model.num_classes                           K (0: no classifier, ``model(x)`` returns [B, D])
    model.get_classifier()                      the classifier module, whose parameters are ``card.classifier.*``
    model.reset_classifier(K)                   a new classifier for K classes (0: none)

``model(x) == model.forward_head(model.forward_features(x))``. tests/test_contract.py checks all of it for
every registered model.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..errors import ConfigError

__all__ = [
    "Weights",
    "ModelCard",
    "register_model",
    "build_model",
    "list_models",
    "model_card",
    "get_builder",
]


@dataclass(frozen=True)
class Weights:
    """Published weights a model can load (through a converter when the layout differs).

    The file is never downloaded by vidact at run time: a user fetches ``url`` once and passes the file
    (``vidact predict --weights FILE``); ``sha256`` (when known) is checked on load.
    """

    name: str
    url: str
    dataset: str
    num_classes: int
    license: str
    source: str  # who published them: "torchvision", "PySlowFast", "PyTorchVideo", "mmaction2", ...
    layout: str  # state_dict layout the converter expects: "vidact", "torchvision", "pyslowfast", ...
    top1: float | None = None
    top5: float | None = None
    test_protocol: str = ""  # e.g. "10 clips x 3 crops, 256 short side"
    sha256: str | None = None


@dataclass(frozen=True)
class ModelCard:
    """What a user needs before using a model.

    ``gmacs`` counts multiply-accumulates (the convention of the papers and of torchvision's ``_ops``
    metadata); ``torch.utils.flop_counter`` counts 2 FLOPs per multiply-add, i.e. ``2 * gmacs``.
    ``params`` is for ``num_classes = default_num_classes``.
    """

    name: str
    family: str
    input_size: tuple[int, int, int, int]  # (C, T, H, W) of one view
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
    extra: dict[str, Any] = field(default_factory=dict)


_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_CARDS: dict[str, ModelCard] = {}


def register_model(fn: Callable[..., nn.Module] | None = None, *, card: ModelCard | None = None):
    """Decorator: register a builder under its function name (or ``card.name``)."""

    def deco(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = card.name if card is not None else f.__name__
        if name in _BUILDERS and _BUILDERS[name] is not f:
            raise ValueError(f"model {name!r} registered twice")
        _BUILDERS[name] = f
        if card is not None:
            _CARDS[name] = card
        return f

    return deco(fn) if fn is not None else deco


def _ensure_loaded() -> None:
    from . import _families  # noqa: F401  (imports every family module, which registers its builders)


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, sorted; ``pattern`` is a shell glob (``"*slowfast*"``)."""
    _ensure_loaded()
    names = sorted(_BUILDERS)
    return [n for n in names if pattern is None or fnmatch.fnmatch(n, pattern)]


def get_builder(name: str) -> Callable[..., nn.Module]:
    _ensure_loaded()
    try:
        return _BUILDERS[name]
    except KeyError:
        close = fnmatch.filter(_BUILDERS, f"*{name}*")[:5]
        hint = f"; did you mean {', '.join(close)}?" if close else "; `vidact models` lists them"
        raise ConfigError(f"unknown model {name!r}{hint}") from None


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model: ``build_model("r2plus1d_18", num_classes=101)``."""
    return get_builder(name)(**kwargs)


def model_card(name: str) -> ModelCard:
    get_builder(name)
    if name not in _CARDS:
        raise KeyError(f"model {name!r} has no model card")
    return _CARDS[name]
