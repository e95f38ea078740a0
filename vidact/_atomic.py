"""Atomic file writes: the one mechanism behind every file vidact writes that a reader might see half-done
(checkpoints, metadata caches, results JSON, CSV tables, PNGs, recipes, synthetic-dataset manifests).

    >>> with atomic_write("runs/x/metrics.csv", "w") as f:      # any writer that takes an open file
    ...     f.write("epoch,loss\\n")
    >>> write_json({"top1": 0.9, "confusion_matrix": [[9, 1], [0, 10]]}, "runs/x/metrics.json")
    >>> write_text("runs/x/config.yaml", text); write_bytes("out/report.png", png)
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "write_bytes", "write_text", "write_json", "format_json"]


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; when the block ends, fsync it and rename it over
    ``path``; on any error (or an interrupt) remove it, leaving the previous ``path`` intact.

    The temporary file is created with ``open`` (so the umask sets its permissions, as for a direct write) and
    a unique name, so concurrent writers of the same path never share one. ``mode`` is ``"wb"`` or ``"w"``
    (UTF-8 text, universal newlines: ``"\\n"`` is written as is).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
    try:
        with open(tmp, mode.replace("w", "x"), **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as f:
        f.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "w") as f:
        f.write(text)


def write_json(payload: Any, path: str | os.PathLike) -> None:
    """Write ``payload`` as JSON (:func:`format_json`, then a newline) to ``path`` atomically."""
    write_text(path, format_json(payload) + "\n")


def format_json(value: Any, level: int = 0) -> str:
    """JSON with one entry a line, except lists of numbers or strings, which keep one line each (a 400-class
    confusion matrix is 400 lines, not 160,000); ``json.loads`` reads it back."""
    outer, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, Mapping) and value:
        entries = [f"{inner}{json.dumps(str(k))}: {format_json(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(entries) + f"\n{outer}}}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in value):
        entries = [f"{inner}{format_json(v, level + 1)}" for v in value]
        return "[\n" + ",\n".join(entries) + f"\n{outer}]"
    return json.dumps(value)
