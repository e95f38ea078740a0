"""The published state_dict layouts vidact reads: the converter of each onto a model family's key names, and the
reader of each layout that is not a PyTorch file.

A converter is a plain function ``state_dict -> state_dict`` living in its family's file, which registers it at
its end (``register_converter("resnet3d", "torchvision", convert_torchvision_state_dict)``); a reader (a
TensorFlow checkpoint, a Caffe2 pickle) registers itself in its own file (``register_reader``). A layout whose
weights come as a folder with the architecture's config (Hugging Face's ``save_pretrained``: ``config.json`` +
``model.safetensors``) also has a config reader per family, ``config.json``'s dict -> the family builder's
arguments (``register_config_reader("vivit", read_hf_config)``), through which
:func:`vidact.models.hub.load_file` builds the model the folder describes. This module is the mechanism only: it
imports no family. Training (``model.pretrained_layout``), prediction
(``--weights-layout``) and the weights catalogue (:mod:`vidact.models.hub`) all look converters up here; a plugin
adds a layout by registering a converter for it.

    >>> from vidact.models.converters import get_converter
    >>> get_converter("slowfast", "pyslowfast")            # doctest: +ELLIPSIS
    <function convert_pyslowfast_state_dict at ...>
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from typing import Any, TypeVar

from .._registry import Registry
from ..errors import ConfigError
from .weights import StateDict, extract_state_dict, read_checkpoint

__all__ = [
    "VIDACT_LAYOUT",
    "WEIGHT_LAYOUTS",
    "Converter",
    "Reader",
    "ConfigReader",
    "FOLDER_LAYOUT",
    "register_converter",
    "register_reader",
    "register_config_reader",
    "get_config_reader",
    "config_reader_layouts",
    "get_converter",
    "converter_layouts",
    "is_pytorch_layout",
    "check_layout",
    "read_layout",
]

Converter = Callable[[StateDict], StateDict]
#: Reads the files of a checkpoint (in the catalogue's order) to a dict of name -> tensor or array.
Reader = Callable[[Sequence[str | os.PathLike]], Mapping[str, Any]]
#: Reads a checkpoint folder's config (``config.json`` as a dict) to the family builder's keyword arguments,
#: ``num_classes`` included.
ConfigReader = Callable[[Mapping[str, Any]], dict[str, Any]]
F = TypeVar("F", bound=Callable[..., Any])

#: The layout of folders with a config (Hugging Face's ``save_pretrained``): the default of
#: :func:`register_config_reader`.
FOLDER_LAYOUT = "hf"

#: vidact's own key names: no conversion.
VIDACT_LAYOUT = "vidact"

#: "<family>:<layout>" -> the converter of that layout's keys to the family's.
_CONVERTERS: Registry[Converter] = Registry("weights converter")
#: layout -> the reader of its files, for the layouts that are not PyTorch files.
_READERS: Registry[Reader] = Registry("weights reader")
#: "<family>:<layout>" -> the reader of that layout's folder config onto the family's builder arguments.
_CONFIG_READERS: Registry[ConfigReader] = Registry("config reader")


def register_converter(family: str, layout: str, fn: F | None = None) -> Any:
    """Register ``fn`` as the converter of ``layout`` weights onto ``family``'s keys (a call, or a decorator
    without ``fn``); a new layout name becomes known to :data:`WEIGHT_LAYOUTS` by it.

    Raises:
        ValueError: ``layout`` is ``"vidact"``, or (family, layout) already has another converter.
    """
    if layout == VIDACT_LAYOUT or ":" in family or ":" in layout:
        raise ValueError(f"cannot register a converter for {family!r}, {layout!r}")
    return _CONVERTERS.register(f"{family}:{layout}", fn)


def register_reader(layout: str, fn: F | None = None) -> Any:
    """Register ``fn(paths) -> {name: tensor or array}`` as the reader of ``layout``'s files, a layout that is
    not a PyTorch file (a call, or a decorator without ``fn``).

    Raises:
        ValueError: ``layout`` already has another reader.
    """
    return _READERS.register(layout, fn)


def register_config_reader(family: str, fn: F | None = None, *, layout: str = FOLDER_LAYOUT) -> Any:
    """Register ``fn(config) -> builder kwargs`` as the reader of ``layout`` folders' ``config.json`` for
    ``family`` (a call, or a decorator without ``fn``). The family also registers the converter of the
    folder's weights (:func:`register_converter` with the same layout).

    Raises:
        ValueError: (family, layout) already has another config reader, or a name holds a colon.
    """
    if ":" in family or ":" in layout:
        raise ValueError(f"cannot register a config reader for {family!r}, {layout!r}")
    return _CONFIG_READERS.register(f"{family}:{layout}", fn)


def config_reader_layouts(family: str) -> list[str]:
    """The folder layouts ``family`` has config readers for, sorted."""
    prefix = f"{family}:"
    return sorted(name[len(prefix) :] for name in _CONFIG_READERS if name.startswith(prefix))


def get_config_reader(family: str, layout: str = FOLDER_LAYOUT, *, model: str | None = None) -> ConfigReader:
    """The reader of ``layout`` folder configs for ``family``.

    Raises:
        ConfigError: the family has none for this layout (the message lists those it has).
    """
    key = f"{family}:{layout}"
    if key not in _CONFIG_READERS:
        known = ", ".join(config_reader_layouts(family)) or "none"
        what = f"{family} models" + (f" ({model})" if model else "")
        raise ConfigError(
            f"no config reader for {layout} checkpoint folders of {what} (folder layouts it reads: {known})"
        )
    return _CONFIG_READERS.get(key)


class _Layouts(Set[str]):
    """The layouts a weights file may have, live: ``"vidact"`` and every layout some family has a converter for."""

    def _names(self) -> list[str]:
        layouts = {name.split(":", 1)[1] for name in _CONVERTERS}
        return [VIDACT_LAYOUT, *sorted(layouts)]

    def __contains__(self, layout: object) -> bool:
        return layout in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return f"WEIGHT_LAYOUTS({', '.join(self._names())})"


#: The layouts a weights file may have (``"vidact"`` first, then the others sorted): a live view of the
#: registered converters, so it follows plugins. Supports ``in``, iteration and ``len``.
WEIGHT_LAYOUTS: Set[str] = _Layouts()


def converter_layouts(family: str) -> list[str]:
    """The layouts ``family`` has converters for, sorted (``"vidact"`` not included)."""
    prefix = f"{family}:"
    return [name[len(prefix) :] for name in _CONVERTERS if name.startswith(prefix)]


def is_pytorch_layout(layout: str) -> bool:
    """Files of ``layout`` are PyTorch files (no registered reader of another format)."""
    return layout not in _READERS


def check_layout(layout: str) -> str:
    """``layout`` itself when it is a known weights layout.

    Raises:
        ConfigError: an unknown layout (the message gives the closest and lists the known ones).
    """
    if layout not in WEIGHT_LAYOUTS:
        close = difflib.get_close_matches(str(layout), list(WEIGHT_LAYOUTS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown weights layout {layout!r}{hint}; choose from {', '.join(WEIGHT_LAYOUTS)}")
    return layout


def read_layout(layout: str, paths: Sequence[str | os.PathLike]) -> Mapping[str, Any]:
    """The tensors of a checkpoint of ``layout`` made of ``paths`` (one file, or a TF checkpoint's .index and
    .data), unconverted: PyTorch files through :func:`~vidact.models.weights.read_checkpoint` (weights only).

    Raises:
        CheckpointError: unreadable or corrupt files.
    """
    if not is_pytorch_layout(layout):
        return _READERS.get(layout)(paths)
    path = os.fspath(paths[0])
    return extract_state_dict(read_checkpoint(path), source=path)


def get_converter(family: str, layout: str, *, model: str | None = None) -> Converter | None:
    """The converter of ``layout`` weights to ``family``'s keys; ``None`` for vidact's own layout.

    Raises:
        ConfigError: an unknown layout, or one this family has no converter for (the message lists those it has).
    """
    check_layout(layout)
    if layout == VIDACT_LAYOUT:
        return None
    key = f"{family}:{layout}"
    if key not in _CONVERTERS:
        known = [*converter_layouts(family), VIDACT_LAYOUT]
        what = f"{family} models" + (f" ({model})" if model else "")
        raise ConfigError(f"no converter for {layout} weights of {what}; choose from {', '.join(known)}")
    return _CONVERTERS.get(key)
