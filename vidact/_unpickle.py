"""Reading plain pickles without running code: the one restricted unpickler of vidact.

A pickle is a program: unpickling it may import and call anything (``os.system``), so a file from elsewhere is
never read with :func:`pickle.load`. :func:`safe_unpickle` admits only what data files hold — containers,
numbers, strings, bytes, numpy arrays, dtypes and scalars (under numpy 1's and numpy 2's module names, as
pickles name them) and, on request, torch tensors (their bytes read by ``torch.load(weights_only=True)``) — and
refuses any other global with a one-line :class:`~vidact.errors.UnsafePickleError` naming the file and the
global, before it is imported:

    >>> data = safe_unpickle("annotations.pkl")                 # PYSKL / mmaction2 skeleton annotations
    >>> scores = safe_unpickle("joint.pkl", tensors=True)       # test scores holding torch tensors

It lives at the bottom of the package (it imports nothing of vidact but its errors) because three layers read
pickles that are not theirs to police: annotation files (:mod:`vidact.data.skeleton.formats`), published
checkpoints (:mod:`vidact.models.weights`, which turns its errors into ``CheckpointError``) and score files
(:mod:`vidact.infer.fusion`). What a file *should* have been (an annotation file, a checkpoint) is the caller's to
say; whether it is *safe* is said here, once.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable
from typing import IO, Any

from .errors import UnsafePickleError

__all__ = ["SAFE_GLOBALS", "safe_unpickle"]

#: The globals a pickle may name: plain containers, numpy arrays, dtypes and scalars (under numpy 1 and numpy 2
#: module names), and the string-to-bytes codec their data needs in protocol-2 pickles. None of them runs code
#: beyond building the value: an array of dtype object holds elements that were themselves unpickled here.
SAFE_GLOBALS = frozenset(
    {
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),  # how Python 3's protocol-2 pickles store bytes (numpy array data)
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),  # arrays in protocol-5 pickles
        ("numpy._core.numeric", "_frombuffer"),
    }
)


def _tensor_from_bytes(data: bytes) -> Any:
    """What ``torch.storage._load_from_bytes`` does for a tensor pickled with plain ``pickle``, but through
    torch's weights-only loader: the bytes are a whole ``torch.save`` file, which could otherwise run code."""
    import torch  # only files that hold tensors need it

    return torch.load(io.BytesIO(data), weights_only=True)


def _rebuild_tensor_v2(*args: Any, **kwargs: Any) -> Any:
    """``torch._utils._rebuild_tensor_v2`` (it only views a storage that :func:`_tensor_from_bytes` built)."""
    from torch._utils import _rebuild_tensor_v2

    return _rebuild_tensor_v2(*args, **kwargs)


#: With ``tensors=True``, a tensor pickled with plain ``pickle`` (``pickle.dump`` of a dict of tensors, as score
#: files are often written): the rebuild function, and the storage loader replaced by :func:`_tensor_from_bytes`.
_TENSOR_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch.storage", "_load_from_bytes"): _tensor_from_bytes,
}


class _Forbidden(pickle.UnpicklingError):
    """Raised inside the unpickler for a global outside the allow-list; becomes an UnsafePickleError."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.qualname = f"{module}.{name}"


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], *, encoding: str, tensors: bool) -> None:
        super().__init__(file, encoding=encoding)
        self.tensors = tensors

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        if self.tensors and (module, name) in _TENSOR_GLOBALS:
            return _TENSOR_GLOBALS[module, name]
        raise _Forbidden(module, name)


def safe_unpickle(
    source: str | os.PathLike | IO[bytes], *, encoding: str = "latin1", tensors: bool = False
) -> Any:
    """Load a plain pickle, admitting only data (see the module docstring); never imports a refused global.

    Args:
        source: a path, or a binary file open for reading (named by its ``name`` in messages).
        encoding: how Python 2 ``str`` objects are read; ``"latin1"`` reads Python 2 pickles of numpy arrays
            (Caffe2's, old mmaction2 annotations) as numpy does.
        tensors: also admit torch tensors pickled with plain ``pickle``, their data read by
            ``torch.load(weights_only=True)``.

    Returns:
        The unpickled value.

    Raises:
        UnsafePickleError: the pickle names a global outside the allow-list (one line: the file and the global).
        FileNotFoundError, IsADirectoryError, PermissionError: ``source`` is a path that cannot be opened.
        pickle.UnpicklingError: not a pickle, or a truncated or corrupt one (one line; the caller says what the
            file should have been).
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return _load(io.BufferedReader(f), os.fspath(source), encoding, tensors)
    return _load(source, os.fspath(getattr(source, "name", "<pickle>")), encoding, tensors)


def _load(file: IO[bytes], name: str, encoding: str, tensors: bool) -> Any:
    try:
        return _RestrictedUnpickler(file, encoding=encoding, tensors=tensors).load()
    except _Forbidden as e:
        raise UnsafePickleError(name, e.qualname) from None
    except Exception as e:  # EOFError, UnpicklingError, ValueError, ...: truncated, corrupt or not a pickle
        text = str(e).strip().splitlines()
        if isinstance(e, pickle.UnpicklingError) and text:  # pickle's own words say what is wrong
            detail = text[0]
        else:
            detail = f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
        raise pickle.UnpicklingError(f"not a readable pickle ({detail})") from None
