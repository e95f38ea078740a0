"""What a model string names, decided in one place.

``vidact predict --model X``, ``vidact eval X``, ``vidact extract features --model X`` and a recipe's
``model.pretrained: X`` all take the same strings:

=====================  ==============================================================================================
``run``                an existing directory: a training run (its ``checkpoints/best.ckpt``, else ``last.ckpt``)
``checkpoint``         an existing file: a vidact checkpoint (or, for ``model.pretrained``, any weights file)
``weights``            ``<model>.<tag>`` of the catalogue (``r2plus1d_18.kinetics400``, ``vidact weights list``)
``model``              a registered model name together with a weights file (``--model r2plus1d_18 --weights F``)
=====================  ==============================================================================================

A path that exists wins over a catalogue name (a folder called ``r2plus1d_18.kinetics400`` is a run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import CheckpointError, ConfigError
from ..models import get_builder, hub, list_models, model_card

__all__ = ["ModelRef", "RefKind", "resolve_model_ref"]

RefKind = Literal["run", "checkpoint", "weights", "model"]


@dataclass(frozen=True)
class ModelRef:
    """A resolved model string.

    Attributes:
        kind: what it names (see the module docstring).
        name: the string as given (a path for ``run`` and ``checkpoint``).
        weights: the weights file of a ``model`` reference, else ``None``.
    """

    kind: RefKind
    name: str
    weights: str | None = None


def resolve_model_ref(ref: str | os.PathLike, *, weights: str | os.PathLike | None = None) -> ModelRef:
    """What ``ref`` names (see the module docstring).

    Args:
        ref: a run directory, a checkpoint file, published weights by name, or a registered model name.
        weights: a weights file; then ``ref`` must be a registered model name.

    Raises:
        ConfigError: a weights file with something else than a model name (with close matches), or a
            registered model name without weights (naming its published weights).
        CheckpointError: a path that does not exist and is no catalogue name.
    """
    text = os.fspath(ref)
    if weights is not None:
        if Path(text).exists() and text not in list_models():
            raise ConfigError(
                f"{text}: a run or checkpoint brings its own weights; --weights goes with a model name"
            )
        get_builder(text)  # an unknown model: ConfigError with close matches
        return ModelRef("model", text, os.fspath(weights))
    path = Path(text)
    if path.is_dir():
        return ModelRef("run", text)
    if path.is_file():
        return ModelRef("checkpoint", text)
    if hub.is_weights_name(text):
        return ModelRef("weights", text)
    if text in list_models():
        try:
            tags = ", ".join(f"{text}.{w.tag}" for w in model_card(text).weights)
        except KeyError:  # a model without a card has no published weights
            tags = ""
        choice = f"published weights by name ({tags}) or " if tags else ""
        raise ConfigError(f"model {text!r} needs weights: {choice}--weights FILE")
    raise CheckpointError(
        f"{text}: no such file or run directory, and not published weights by name (`vidact weights list`)"
    )
