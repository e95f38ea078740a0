"""What an extractor is, the registry of kinds, and the keys that say whether an output is up to date.

An extractor is a small picklable object: a ``name`` (its kind), the ``params()`` that determine its output, and
a call on one video that either writes as it goes, ``(video path, out: VideoOutput) -> None``, or returns its
arrays, ``video path -> {array name: array}``. The runner (:func:`vidact.extract.extract`) knows nothing else of
it, so a new kind (optical flow, pose) is one class and one registered factory:

    >>> @register_extractor("brightness")
    ... def brightness(short_side: int = 64) -> Brightness:
    ...     return Brightness(short_side)

A video's output is keyed by the sha256 of the video's bytes and of the kind's parameters (:func:`output_key`):
the same video with the same parameters is skipped on a re-run, wherever it lies and whatever its name; a changed
byte or parameter recomputes.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._registry import Registry
from ..errors import ConfigError, VideoError
from .output import VideoOutput

__all__ = [
    "Extractor",
    "register_extractor",
    "build_extractor",
    "get_extractor_factory",
    "list_extractors",
    "video_digest",
    "output_key",
]

_CHUNK = 1 << 20


@runtime_checkable
class Extractor(Protocol):
    """A per-video function the runner maps over a corpus.

    Attributes:
        name: the kind (``"features"``); output files are ``<video>.<array name>.npy`` and ``<video>.<name>.json``.
        item_folder: optional (a class attribute): the name of the folder of per-item files beside the video's
            outputs, a template of ``{name}`` (the video's file name) and ``{kind}``; default ``"{name}.{kind}"``
            (``OUT/a/v1.features/``). The ``flow`` kind sets ``"{name}"``: mmaction2's ``OUT/a/v1/flow_x_00001.jpg``.

    It must pickle cheaply (it travels to every worker process and Ray actor): load models lazily, on the first
    call, and leave them out of the pickled state.

    Its call takes one of two forms, told apart by its signature (:func:`vidact.extract.job.takes_output`):

    * ``__call__(video, out)`` writes as it goes into ``out``, a :class:`~vidact.extract.output.VideoOutput`:
      ``out.array(name).append(chunk)`` appends ``[n, ...]`` rows to ``<video>.<name>.npy``, ``out.file(name)``
      is where a per-item file goes (``<video>.<kind>/<name>``, or the folder ``item_folder`` names). Nothing of a video need sit whole in memory
      (optical flow of a 10-minute video: two JPEGs per frame pair), and nothing reaches its final path before
      the call returned. It returns None (or a dict of arrays, written as well).
    * ``__call__(video) -> {name: array}`` returns the arrays, which the runner writes.

    Optionally, a method ``write(arrays, stem: Path) -> list[Path]`` writes the returned arrays in the kind's own
    formats (each file atomically, named ``<stem>.<name>.<ext>``) in place of the ``.npy`` files, and returns
    the files it wrote (the ``pose`` kind writes a PYSKL ``.pkl`` and an ``.npz``).
    """

    name: str

    def params(self) -> dict[str, Any]:
        """The settings that determine the output (JSON values): part of every output's key."""
        ...

    def __call__(self, video: str, out: VideoOutput) -> dict[str, np.ndarray] | None:
        """Extract one video (file or frame folder): arrays named by letters, digits, ``_`` and ``-``, written
        to ``out`` or returned (then ``out`` is not a parameter; see above).

        Raises:
            VideoError: the video cannot be read (the runner lists it as failed and goes on).
        """
        ...


#: Extraction kinds by name: ``factory(**options) -> Extractor``.
_REGISTRY: Registry[Callable[..., Extractor]] = Registry("extraction kind")


def register_extractor(kind: str) -> Callable[[Callable[..., Extractor]], Callable[..., Extractor]]:
    """Register ``factory(**options) -> Extractor`` as the kind ``kind`` (a decorator), from any module (a
    plugin, see :mod:`vidact._plugins`).

    The factory validates its options, raising a one-line :class:`~vidact.errors.VidactError` for bad ones, so a
    wrong option fails once, before any video is read.

    Raises:
        ValueError: another factory is registered as ``kind``.
    """
    return _REGISTRY.register(kind)


def list_extractors() -> list[str]:
    """The registered kinds, sorted."""
    return _REGISTRY.names()


def get_extractor_factory(kind: str) -> Callable[..., Extractor]:
    """The factory registered as ``kind`` (its signature is the kind's options).

    Raises:
        ConfigError: an unknown kind (naming close matches).
    """
    return _REGISTRY.get(kind)


def build_extractor(kind: str, **options: Any) -> Extractor:
    """The extractor of a registered kind, built from its options.

    Raises:
        ConfigError: an unknown kind (naming close matches), or an option the kind does not take.
    """
    factory = get_extractor_factory(kind)
    signature = inspect.signature(factory)
    unknown = [name for name in options if name not in signature.parameters]
    if unknown:
        takes = ", ".join(signature.parameters)
        raise ConfigError(f"extraction kind {kind!r} does not take {', '.join(unknown)} (it takes {takes})")
    missing = [
        name
        for name, p in signature.parameters.items()
        if p.default is inspect.Parameter.empty and name not in options
    ]
    if missing:
        raise ConfigError(f"extraction kind {kind!r} needs {', '.join(missing)}")
    return factory(**options)


def video_digest(video: str | os.PathLike) -> str:
    """sha256 of a video's bytes (hex); of a frame folder, of its files' names and bytes in name order.

    Raises:
        VideoError: the path does not exist or cannot be read.
    """
    path = Path(video)
    digest = hashlib.sha256()
    try:
        if path.is_dir():
            for file in sorted(p for p in path.iterdir() if p.is_file()):
                digest.update(file.name.encode() + b"\0")
                _update(digest, file)
        else:
            _update(digest, path)
    except FileNotFoundError:
        raise VideoError(path, "no such file or folder") from None
    except OSError as e:
        raise VideoError(path, f"cannot read it ({e.strerror or e})") from None
    return digest.hexdigest()


def _update(digest: Any, file: Path) -> None:
    with open(file, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)


def canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys and no spaces: the same settings always give the same text.

    Raises:
        ConfigError: ``value`` holds something JSON cannot (an array, a path object).
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"extractor parameters must be JSON values: {e}") from None


def output_key(kind: str, params: dict[str, Any], digest: str) -> str:
    """The key of one video's output: sha256 (hex) of the kind, its parameters and the video's digest."""
    text = canonical_json({"kind": kind, "params": params, "video_sha256": digest})
    return hashlib.sha256(text.encode()).hexdigest()
