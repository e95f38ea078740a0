"""A model's input as one typed value, stored with every model: the *input spec*.

Every modality has one spec class — :class:`~vidact.data.presets.Preset` for video clips,
:class:`~vidact.data.skeleton.presets.SkeletonPreset` for joint sequences; optical flow, features and tokens add
theirs — and each registers itself here by its ``modality``:

    >>> spec = input_from_dict(checkpoint["input"])      # a Preset or a SkeletonPreset, by its "modality" key
    >>> spec.modality, spec.test_views()                 # ("video", {"clips": 10, "crops": 3})
    >>> spec.to_dict()["modality"]                       # "video"

A spec says everything that turns a sample (a decoded video, a pose record) into the model's input tensor, and
the views of its test protocol. The training loop writes ``spec.to_dict()`` into every checkpoint, published
weights carry theirs, and prediction, evaluation and extraction dispatch once, on ``spec.modality``; nothing
outside a modality's own files tests a spec's type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from .._registry import Registry
from ..errors import ConfigError

__all__ = [
    "InputSpec",
    "register_input",
    "input_from_dict",
    "input_class",
    "list_modalities",
    "spec_fields",
    "INPUTS",
]


@runtime_checkable
class InputSpec(Protocol):
    """What a model reads, for one modality (see the module docstring).

    Attributes:
        modality: the registered name of the spec's class (``"video"``, ``"skeleton"``, ...).
    """

    modality: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with ``"modality"``: :func:`input_from_dict` gives the spec back."""
        ...

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> InputSpec:
        """The inverse of :meth:`to_dict` (``"modality"`` may be present)."""
        ...

    def test_views(self) -> dict[str, int]:
        """The views of the spec's test protocol (``{"clips": 10, "crops": 3}``; ``{"clips": 1}``)."""
        ...


#: The spec class of every modality.
INPUTS: Registry[type] = Registry("input modality")
S = TypeVar("S", bound=type)


def register_input(cls: S) -> S:
    """Class decorator: register an input spec class under its ``modality``."""
    INPUTS.register(cls.modality, cls)
    return cls


def input_class(modality: str) -> type:
    """The spec class of ``modality``.

    Raises:
        ConfigError: an unknown modality (with the known ones).
    """
    return INPUTS.get(modality)


def list_modalities() -> list[str]:
    """The registered modalities, sorted."""
    return INPUTS.names()


def input_from_dict(values: Mapping[str, Any], *, default_modality: str = "video") -> InputSpec:
    """The spec a :meth:`InputSpec.to_dict` made; a dict without ``"modality"`` (written before it was stored)
    is read as ``default_modality``.

    Raises:
        ConfigError: an unknown modality, or fields its spec does not have.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"an input spec is a mapping, got {type(values).__name__}")
    modality = str(values.get("modality", default_modality))
    cls = input_class(modality)
    return cls.from_dict({k: v for k, v in values.items() if k != "modality"})


def spec_fields(cls: type, values: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The fields of a dataclass spec ``cls`` in ``values`` (a :meth:`InputSpec.to_dict`), for its
    ``from_dict``: ``"modality"`` checked and dropped, unknown keys refused; ``what`` names the spec in errors.

    Raises:
        ConfigError: another modality, or a key that is not a field.
    """
    values = dict(values)
    modality = values.pop("modality", cls.modality)
    if modality != cls.modality:
        raise ConfigError(f"{what}: a {modality} input spec is not a {cls.modality} preset")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{what}: unknown key {unknown[0]!r}; keys are {', '.join(sorted(known))}")
    return values
