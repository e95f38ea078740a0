"""A model with what it takes to use it: :class:`LoadedModel`.

A network alone does not say how its input is made or what its outputs mean. Whatever a model string names — a
training run, a checkpoint file, published weights, a registered model with a weights file — loading it gives one
object holding the network *and* its input spec, its class names and its name, instead of attributes stuck onto the
``nn.Module``:

    >>> loaded = hub.load_published("r2plus1d_18.kinetics400")
    >>> loaded.module(clips)                       # [B, 3, 16, 112, 112] -> logits [B, 400]
    >>> loaded.spec.modality, loaded.classes[0]    # ("video", "abseiling")
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ..data.inputs import InputSpec

__all__ = ["LoadedModel"]


@dataclass
class LoadedModel:
    """A network in eval mode with its input spec, class names and provenance.

    Attributes:
        module: the network (:class:`~vidact.models.contract.VideoModel`): inputs as ``spec`` makes them ->
            logits [B, K].
        spec: how its input is made (:class:`~vidact.data.inputs.InputSpec`: a video
            :class:`~vidact.data.presets.Preset`, a :class:`~vidact.data.skeleton.SkeletonPreset`, ...).
        classes: its K class names, index = output.
        name: the registered model name, or the published weights' name (``r2plus1d_18.kinetics400``).
        source: the checkpoint or weights file it was loaded from (the first file of published weights).
        task: the training task whose hooks evaluate it (``classification``, ``skeleton``: see
            :mod:`vidact.engine.tasks`); ``None``: the task of its modality.
        config: the training recipe of a run (a checkpoint's ``config``), else ``None``.
        metrics: the validation metrics stored with a checkpoint.
    """

    module: nn.Module
    spec: InputSpec
    classes: list[str]
    name: str
    source: str
    task: str | None = None
    config: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def modality(self) -> str:
        """``spec.modality``."""
        return self.spec.modality

    def to(self, device: str | torch.device) -> LoadedModel:
        """The same model on ``device`` (the module is moved in place)."""
        return replace(self, module=self.module.to(device))

    def with_classes(self, classes: list[str]) -> LoadedModel:
        """A copy naming its outputs ``classes`` (a label file for weights that carry none).

        Raises:
            ValueError: another number of names than outputs.
        """
        if len(classes) != len(self.classes):
            raise ValueError(f"{len(classes)} class names for a model with {len(self.classes)} classes")
        return replace(self, classes=list(classes))
