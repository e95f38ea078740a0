"""The registry of dataset layouts :func:`~vidact.data.datasets.build_dataset` reads by name.

A layout registers its reader at the end of its own file (``folders.py``: ``folder``, ``ucf101``, ``hmdb51``;
``kinetics.py``, ``ssv2.py``, ``list_file.py``); a layout outside vidact registers itself the same way (a plugin,
a recipe's ``imports:``, see :mod:`vidact._plugins`)::

    def read_my_layout(root, split, *, annotations, classes, fold) -> SampleList: ...

    register_dataset_layout(DatasetLayout("mine", "split: ...; annotations: ...", read_my_layout))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..._registry import Registry
from ...errors import ConfigError
from .samples import SampleList

__all__ = ["DatasetLayout", "register_dataset_layout", "get_dataset_layout", "DATASET_KINDS"]


@dataclass(frozen=True)
class DatasetLayout:
    """One dataset layout.

    Attributes:
        name: the ``kind`` of :func:`~vidact.data.datasets.build_dataset` (``data.kind`` of a recipe).
        description: what ``split`` and ``annotations`` mean for it (one line; in errors and ``DATASET_KINDS``).
        read: ``read(root, split, *, annotations, classes, fold) -> SampleList``; raises a one-line
            :class:`~vidact.errors.ConfigError` for an argument it needs missing or one it cannot use given
            (:meth:`needs`, :meth:`unused`), :class:`~vidact.errors.DatasetError` for files not in the layout.
    """

    name: str
    description: str
    read: Callable[..., SampleList]

    def needs(self, **given: object) -> None:
        """Raises ConfigError naming the first of ``given`` that is ``None``."""
        for name, value in given.items():
            if value is None:
                raise ConfigError(f"dataset kind {self.name!r} needs {name}= ({self.description})")

    def unused(self, **given: object) -> None:
        """Raises ConfigError naming the first of ``given`` that is not ``None``."""
        for name, value in given.items():
            if value is not None:
                raise ConfigError(f"dataset kind {self.name!r} does not use {name}= ({self.description})")


_LAYOUTS: Registry[DatasetLayout] = Registry("dataset kind")


def register_dataset_layout(layout: DatasetLayout) -> DatasetLayout:
    """Make ``layout`` available as ``build_dataset(layout.name, ...)``.

    Raises:
        ValueError: another layout has that name.
    """
    return _LAYOUTS.register(layout.name, layout)


def get_dataset_layout(kind: str) -> DatasetLayout:
    """The layout registered as ``kind``.

    Raises:
        ConfigError: an unknown kind (the message lists the known ones).
    """
    if kind not in _LAYOUTS:
        raise ConfigError(f"unknown dataset kind {kind!r}; choose from {', '.join(_LAYOUTS.names())}")
    return _LAYOUTS.get(kind)


#: The layouts :func:`~vidact.data.datasets.build_dataset` knows -> what ``split`` and ``annotations`` mean for
#: each: a live view of the registry (a plugin's layouts show).
DATASET_KINDS = _LAYOUTS.view(lambda layout: layout.description)
