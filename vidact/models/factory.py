"""Build a model by name: an architecture from the registry, with published weights from the hub or with a
file's weights (``build_model``).

It sits above :mod:`.registry` (the builders and cards, which know nothing of weights) and :mod:`.hub` (the
catalogue and the loading of published weights), so neither imports the other's caller.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigError
from . import hub
from .contract import VideoModel
from .registry import get_builder, model_card

__all__ = ["build_model"]


def build_model(name: str, *, weights: bool | str | os.PathLike | None = None, **kwargs: Any) -> VideoModel:
    """Build a registered model, optionally with weights.

        >>> build_model("r2plus1d_18", num_classes=101)                 # random weights, training mode
        >>> build_model("r2plus1d_18.kinetics400", weights=True)        # published weights (cached, downloaded)
        >>> build_model("simple3d", weights="runs/x/best.ckpt")        # a file: class count read from it

    With weights the model comes back in eval mode; :func:`vidact.models.hub.load_published` (and
    ``hub.load_file``) give it together with its input spec and class names
    (:class:`~vidact.models.loaded.LoadedModel`).

    Args:
        name: a model name (``vidact models``), or ``<model>.<tag>`` for published weights (``vidact weights
            list``); without ``weights=True`` that builds the architecture for those weights' classes.
        weights: ``True`` for the published weights ``name`` names; a file of this model's weights (vidact's
            layout or a published one, found by trying them).
        kwargs: go to the builder (``num_classes``, ...).

    Raises:
        ConfigError: an unknown model or weights name. CheckpointError: weights that cannot be had or loaded.
    """
    if hub.is_weights_name(name):
        published = hub.get_weights(name)
        if weights is True:
            if kwargs:
                raise ConfigError(
                    f"{name}: published weights take no builder arguments, got {', '.join(kwargs)}"
                )
            return hub.load_published(published).module
        if weights not in (None, False):
            raise ConfigError(
                f"{name}: names published weights; pass weights=True, or a file with a model name"
            )
        return get_builder(published.card.name)(**{"num_classes": published.entry.num_classes, **kwargs})
    if weights is True:
        tags = ", ".join(f"{name}.{w.tag}" for w in model_card(name).weights) or "none published"
        raise ConfigError(f"weights=True needs a name with a tag ({tags})")
    if weights not in (None, False):
        return hub.load_file(name, weights, **kwargs).module  # type: ignore[arg-type]
    return get_builder(name)(**kwargs)
