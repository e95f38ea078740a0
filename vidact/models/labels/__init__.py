"""Class names of the datasets published weights were trained on, in their classifiers' index order.

``kinetics400`` and ``kinetics600`` are deepmind/kinetics-i3d's ``label_map.txt`` / ``label_map_600.txt``
(Apache-2.0): the official class names sorted alphabetically, the order torchvision, PyTorchVideo and PySlowFast
use too. ``ssv2`` is Something-Something v2's 174 templates in its labels file's index order (the order of
the ``id2label`` of MCG-NJU's and facebook's SSv2 checkpoints, whose names keep the ``[something]`` brackets).
``imagenet1k`` comes from timm's ImageNet metadata (a dependency of vidact). ``hagrid40`` is PYSKL's
``GestureDataset.label_names`` (Apache-2.0), the classes of its HaGRID hand-gesture model.
``ntu60`` and ``ntu120`` are the action names of NTU RGB+D 60 / 120 (A001 "drink water" .. A120), in action
number order as the dataset's documentation lists them (its typos kept: "hush (quite)").
A plugin adds its own list with :func:`register_label_list` (a list of names, or a function returning them).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Sequence

from ..._registry import Registry
from ...errors import ConfigError

__all__ = ["label_names", "register_label_list", "LABEL_LISTS"]

#: Label lists by name: a function returning the class names in index order.
_LISTS: Registry[Callable[[], list[str]]] = Registry("label list")


def register_label_list(name: str, names: Sequence[str] | Callable[[], Sequence[str]]) -> None:
    """Make ``name`` a label list (a ``Weights.labels`` value): its class names in index order, or a function
    returning them (called on each use, so a large list is read only when needed).

    Raises:
        ValueError: the name is taken.
    """
    if callable(names):
        _LISTS.register(name, lambda: list(names()))
    else:
        fixed = [str(n) for n in names]
        _LISTS.register(name, lambda: list(fixed))


def _shipped(name: str) -> Callable[[], list[str]]:
    def read() -> list[str]:
        text = importlib.resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
        return [line.strip() for line in text.splitlines() if line.strip()]

    return read


def _imagenet1k() -> list[str]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i) for i in range(1000)]


for _name in ("kinetics400", "kinetics600", "ssv2", "hagrid40", "ntu60", "ntu120"):
    _LISTS.register(_name, _shipped(_name))
_LISTS.register("imagenet1k", _imagenet1k)

#: Label list name -> a function returning its names (a live view: plugins' lists show).
LABEL_LISTS = _LISTS.view(lambda read: read)


def label_names(name: str, num_classes: int | None = None) -> list[str]:
    """The class names of the label list ``name``; checks there are ``num_classes`` of them when given.

    Raises:
        ConfigError: an unknown list (with the closest names), or one of another length.
    """
    names = _LISTS.get(name)()
    if num_classes is not None and len(names) != num_classes:
        raise ConfigError(f"label list {name!r} has {len(names)} names, the weights {num_classes} classes")
    return names
