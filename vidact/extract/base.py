"""What an extractor is, the registry of kinds, and the keys that say whether an output is up to date.

An extractor is a small picklable object: a ``name`` (its kind), the ``params()`` that determine its output, and
a call ``video path -> {array name: array}``. The runner (:func:`vidact.extract.extract`) knows nothing else of
it, so a new kind (optical flow, pose) is one class and one registered factory:

    >>> @register_extractor("brightness")
    ... def brightness(short_side: int = 64) -> Brightness:
    ...     return Brightness(short_side)

A video's output is keyed by the sha256 of the video's bytes and of the kind's parameters (:func:`output_key`):
the same video with the same parameters is skipped on a re-run, wherever it lies and whatever its name; a changed
byte or parameter recomputes.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, VideoError

__all__ = [
    "Extractor",
    "register_extractor",
    "build_extractor",
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

    It must pickle cheaply (it travels to every worker process and Ray actor): load models lazily, on the first
    call, and leave them out of the pickled state.

    Optionally, a method ``write(arrays, stem: Path) -> list[Path]`` writes a video's arrays in the kind's own
    formats (each file atomically, named ``<stem>.<name>.<ext>``) in place of the ``.npy`` files, and returns
    the files it wrote (the ``pose`` kind writes a PYSKL ``.pkl`` and an ``.npz``).
    """

    name: str

    def params(self) -> dict[str, Any]:
        """The settings that determine the output (JSON values): part of every output's key."""
        ...

    def __call__(self, video: str) -> dict[str, np.ndarray]:
        """The arrays of one video (file or frame folder), by name (letters, digits, ``_`` and ``-``).

        Raises:
            VideoError: the video cannot be read (the runner lists it as failed and goes on).
        """
        ...


_REGISTRY: dict[str, Callable[..., Extractor]] = {}


def register_extractor(kind: str) -> Callable[[Callable[..., Extractor]], Callable[..., Extractor]]:
    """Register ``factory(**options) -> Extractor`` as the kind ``kind`` (a decorator).

    The factory validates its options, raising a one-line :class:`~vidact.errors.VidactError` for bad ones, so a
    wrong option fails once, before any video is read.
    """

    def register(factory: Callable[..., Extractor]) -> Callable[..., Extractor]:
        if kind in _REGISTRY and _REGISTRY[kind] is not factory:
            raise ValueError(f"extractor kind {kind!r} is already registered")
        _REGISTRY[kind] = factory
        return factory

    return register


def list_extractors() -> list[str]:
    """The registered kinds, sorted."""
    return sorted(_REGISTRY)


def build_extractor(kind: str, **options: Any) -> Extractor:
    """The extractor of a registered kind, built from its options.

    Raises:
        ConfigError: an unknown kind (naming close matches), or an option the kind does not take.
    """
    try:
        factory = _REGISTRY[kind]
    except KeyError:
        close = difflib.get_close_matches(kind, _REGISTRY, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ConfigError(
            f"unknown extraction kind {kind!r}; {hint}known: {', '.join(list_extractors())}"
        ) from None
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
