"""Where one video's outputs go while an extractor computes them: arrays appended chunk by chunk, per-item files,
nothing in its final place until the whole video succeeded.

An extractor that takes a second argument (``__call__(video, out)``) writes as it goes, so a 10-minute video's
outputs never sit whole in memory:

    >>> def __call__(self, video: str, out: VideoOutput) -> None:
    ...     with out.array("features") as features, out.array("timestamps") as times:
    ...         for batch, windows in self.batches(video):     # [B, D] float32, [B, 2] float64
    ...             features.append(batch)
    ...             times.append(windows)
    ...     for i, image in enumerate(self.flow(video)):       # one JPEG per frame pair
    ...         write_bytes(out.file(f"x_{i:05d}.jpg"), image)

* :meth:`VideoOutput.array` gives an :class:`ArrayWriter`: chunks ``[n_i, *shape]`` appended along axis 0 to a
  hidden temporary ``.npy`` beside the final ``<name>.<array>.npy``, its header (which holds the length) written
  with room to spare and filled in at :meth:`~ArrayWriter.close`. ``numpy.load`` reads the result as any ``.npy``.
* :meth:`VideoOutput.file` gives the path of a per-item file inside a hidden temporary folder that becomes
  ``<name>.<kind>/`` (``OUT/a/v1.<kind>/x_00000.jpg``), or the folder an extractor's ``item_folder`` names
  (the ``flow`` kind: ``OUT/a/v1/flow_x_00001.jpg``).
* :meth:`VideoOutput.commit` (the runner's, once the extractor returned) fsyncs and renames everything into place;
  :meth:`VideoOutput.abort` (on any failure) removes every temporary. The runner writes the video's record
  (``<name>.<kind>.json``, which alone says "done") only after the commit, so an interrupted video leaves nothing
  a re-run would take for finished, and never a partial file at a final path.

The older form, ``__call__(video) -> {name: array}``, stays valid: the runner writes the returned arrays through
the same :class:`VideoOutput` (one chunk each).
"""

from __future__ import annotations

import os
import shutil
import struct
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

__all__ = ["ArrayWriter", "VideoOutput", "NAME_CHARS", "DEFAULT_ITEM_FOLDER"]

#: The characters of an array name (it becomes part of a file name).
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_MAGIC = b"\x93NUMPY\x01\x00"  # .npy format version 1.0: a header of at most 65535 bytes
_ALIGN = 64


def _tmp_name(path: Path) -> Path:
    """A hidden, unique temporary name beside ``path`` (as :func:`vidact._atomic.atomic_write` makes them)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _npy_header(dtype: np.dtype, shape: tuple[int, ...], size: int | None = None) -> bytes:
    """An ``.npy`` v1.0 header of ``dtype`` and ``shape``, padded with spaces to ``size`` bytes (default: the next
    multiple of 64), as ``numpy.lib.format`` writes it."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
    body = text.encode("latin1")
    fixed = len(_MAGIC) + 2 + len(body) + 1  # magic, header length, header, "\n"
    if size is None:
        size = -(-fixed // _ALIGN) * _ALIGN
    if fixed > size or size - len(_MAGIC) - 2 > 0xFFFF:
        raise ValueError(f"an .npy header for shape {shape} does not fit in {size} bytes")
    return _MAGIC + struct.pack("<H", size - len(_MAGIC) - 2) + body + b" " * (size - fixed) + b"\n"


class ArrayWriter:
    """An ``.npy`` file written chunk by chunk along axis 0 (see the module docstring); from
    :meth:`VideoOutput.array`.

    The first chunk fixes the dtype and the trailing shape unless they were given; every later chunk must have the
    same trailing shape and a dtype that casts to it safely (``float32`` into a ``float64`` array, not the
    reverse). Memory held: none beyond the chunk being written.

    Args:
        path: the final file (``OUT/a/v1.features.npy``).
        dtype: the array's dtype (default: the first chunk's).
        shape: the shape of one row, ``[*shape]`` of ``[N, *shape]`` (default: the first chunk's).
    """

    def __init__(self, path: Path, *, dtype: Any = None, shape: tuple[int, ...] | None = None) -> None:
        self.path = path
        self.tmp = _tmp_name(path)
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.row_shape = None if shape is None else tuple(int(n) for n in shape)
        self.length = 0
        self._file: Any = None
        self._scalar = False  # a 0-d array (written by VideoOutput.write_array): one row, shape ()
        self.closed = False
        if self.dtype is not None and self.dtype.hasobject:
            raise TypeError(f"array {path.name!r} has dtype object")

    def __enter__(self) -> ArrayWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()

    @property
    def shape(self) -> tuple[int, ...]:
        """``(N, *row_shape)``: the rows written so far (``()`` for a 0-d array)."""
        return () if self._scalar else (self.length, *(self.row_shape or ()))

    def _open(self) -> None:
        assert self.dtype is not None and self.row_shape is not None
        self._reserved = len(_npy_header(self.dtype, (2**63 - 1, *self.row_shape)))  # room for any length
        self._file = open(self.tmp, "xb")  # noqa: SIM115 (closed by close() or VideoOutput.abort())
        self._file.write(_npy_header(self.dtype, (0, *self.row_shape), self._reserved))

    def append(self, chunk: Any) -> None:
        """Write ``chunk`` ([n, *shape]; n may be 0) after the rows written so far.

        Raises:
            ValueError: another trailing shape, or a write after :meth:`close`.
            TypeError: a dtype that does not cast safely to the array's, or dtype object.
        """
        if self.closed:
            raise ValueError(f"{self.path.name}: append after close")
        array = np.asarray(chunk)
        if array.ndim == 0:
            raise ValueError(f"{self.path.name}: a chunk is [n, ...] rows, got a scalar")
        if self.dtype is None:
            self.dtype = array.dtype
        if self.row_shape is None:
            self.row_shape = tuple(array.shape[1:])
        if array.dtype.hasobject or self.dtype.hasobject:
            raise TypeError(f"array {self.path.stem.rsplit('.', 1)[-1]!r} has dtype object")
        if tuple(array.shape[1:]) != self.row_shape:
            raise ValueError(
                f"{self.path.name}: a chunk of rows {list(array.shape[1:])} after rows {list(self.row_shape)}"
            )
        if not np.can_cast(array.dtype, self.dtype, casting="safe"):
            raise TypeError(f"{self.path.name}: a {array.dtype} chunk does not cast safely to {self.dtype}")
        if self._file is None:
            self._open()
        data = np.ascontiguousarray(array, dtype=self.dtype)
        self._file.write(memoryview(data).cast("B") if data.size else b"")
        self.length += len(data)

    def close(self) -> None:
        """Write the final header in place and fsync; the file stays at its temporary name until
        :meth:`VideoOutput.commit`.

        Raises:
            TypeError: nothing was appended and no dtype and shape were given (there is no array to describe).
        """
        if self.closed:
            return
        if self._file is None:
            if self.dtype is None or self.row_shape is None:
                raise TypeError(f"{self.path.name}: no chunk was appended, and no dtype and shape were given")
            self._open()
        self._file.seek(0)
        self._file.write(_npy_header(self.dtype, self.shape, self._reserved))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.closed = True

    def discard(self) -> None:
        """Close without finishing and remove the temporary file."""
        if self._file is not None and not self._file.closed:
            self._file.close()
        self.tmp.unlink(missing_ok=True)
        self.closed = True


#: Where a video's per-item files go unless its extractor says otherwise (``Extractor.item_folder``): the video's
#: name and the kind (``OUT/a/v1.flow/``).
DEFAULT_ITEM_FOLDER = "{name}.{kind}"


class VideoOutput:
    """The outputs of one video under way: arrays and per-item files at temporary names until :meth:`commit`.

    Args:
        out: the output folder.
        name: the video's output name (``a/v1``: outputs go to ``out/a/v1.*``).
        kind: the extractor's kind (per-item files go to ``out/a/v1.<kind>/``).
        item_folder: the per-item folder's name beside the stem, a template of ``{name}`` (the video's file
            name, ``v1``) and ``{kind}``: :data:`DEFAULT_ITEM_FOLDER`, or ``"{name}"`` for the layout of
            mmaction2's frame and flow folders (``out/a/v1/flow_x_00001.jpg``).
    """

    def __init__(
        self, out: str | os.PathLike, name: str, kind: str, *, item_folder: str = DEFAULT_ITEM_FOLDER
    ) -> None:
        self.stem = Path(out) / name
        self.kind = kind
        folder = item_folder.format(name=self.stem.name, kind=kind)
        if not folder or PurePosixPath(folder).name != folder or folder in (".", ".."):
            raise ValueError(f"item folder {item_folder!r} must name one folder beside the video's outputs")
        self._folder_name = folder
        self.arrays: dict[str, ArrayWriter] = {}
        self._folder_tmp: Path | None = None
        self._items: set[str] = set()

    @property
    def folder(self) -> Path:
        """Where the per-item files end up: ``<stem>.<kind>/`` (or as ``item_folder`` says)."""
        return self.stem.with_name(self._folder_name)

    def array_path(self, name: str) -> Path:
        """``<stem>.<name>.npy``."""
        return self.stem.with_name(f"{self.stem.name}.{name}.npy")

    def array(self, name: str, *, dtype: Any = None, shape: tuple[int, ...] | None = None) -> ArrayWriter:
        """A new array ``<stem>.<name>.npy`` to append chunks to (see :class:`ArrayWriter`).

        Raises:
            ValueError: a name that is not letters, digits, ``_`` and ``-``, or one already taken.
        """
        if not isinstance(name, str) or not name or not set(name) <= NAME_CHARS:
            raise ValueError(f"array name {name!r}: use letters, digits, '_' and '-'")
        if name in self.arrays:
            raise ValueError(f"array {name!r} is written twice")
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        writer = ArrayWriter(self.array_path(name), dtype=dtype, shape=shape)
        self.arrays[name] = writer
        return writer

    def write_array(self, name: str, value: Any) -> None:
        """A whole array at once (what the runner does with a returned ``{name: array}``)."""
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(f"array {name!r} has dtype object")
        with self.array(name, dtype=array.dtype, shape=array.shape[1:]) as writer:
            writer._scalar = array.ndim == 0
            writer.append(array.reshape(-1) if writer._scalar else array)

    def file(self, relative: str) -> Path:
        """The path to write a per-item file to (``"x_00001.jpg"``, ``"u/00001.jpg"``): inside a temporary folder
        renamed to :attr:`folder` at :meth:`commit`. Write it whole (it is not itself renamed).

        Raises:
            ValueError: an absolute path, ``..``, or a name given twice.
        """
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
            raise ValueError(f"per-item file {relative!r}: a relative path inside the video's folder")
        key = "/".join(parts)
        if key in self._items:
            raise ValueError(f"per-item file {relative!r} is written twice")
        self._items.add(key)
        if self._folder_tmp is None:
            self._folder_tmp = _tmp_name(self.folder)
            self._folder_tmp.mkdir(parents=True)
        path = self._folder_tmp.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def describe(self) -> dict[str, dict[str, Any]]:
        """``{name: {"file", "shape", "dtype"}}`` of the arrays (files relative to the stem's folder)."""
        return {
            name: {
                "file": w.path.name,
                "shape": list(w.shape),
                "dtype": str(w.dtype),
            }
            for name, w in self.arrays.items()
        }

    def commit(self) -> list[str]:
        """Finish every array and rename everything into place; return the files (and the per-item folder),
        relative to the stem's folder.

        Raises:
            TypeError: an array without a chunk, dtype or shape (then everything is removed, as by :meth:`abort`).
        """
        try:
            for writer in self.arrays.values():
                writer.close()
            if self._folder_tmp is not None:
                _fsync_tree(self._folder_tmp)
        except BaseException:
            self.abort()
            raise
        files = []
        for writer in self.arrays.values():
            os.replace(writer.tmp, writer.path)
            files.append(writer.path.name)
        if self._folder_tmp is not None:
            _replace_folder(self._folder_tmp, self.folder)
            self._folder_tmp = None
            files.append(self.folder.name)
        return files

    def abort(self) -> None:
        """Remove every temporary (finished or not); what an earlier run committed stays as it was."""
        for writer in self.arrays.values():
            writer.discard()
        if self._folder_tmp is not None:
            shutil.rmtree(self._folder_tmp, ignore_errors=True)
            self._folder_tmp = None


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def _replace_folder(new: Path, final: Path) -> None:
    """Put the folder ``new`` at ``final``, replacing an older one (moved aside first, then removed)."""
    old = None
    if final.exists():
        old = _tmp_name(final)
        os.replace(final, old)
    os.replace(new, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
