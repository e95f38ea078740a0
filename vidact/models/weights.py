"""Loading weights safely: untrusted files, foreign layouts, clear errors.

Every checkpoint is read with ``torch.load(..., weights_only=True)`` (no pickled code runs). A file may hold
a bare state_dict or wrap it (``{"state_dict": ...}``, ``{"model_state": ...}`` as PySlowFast saves,
``{"model": ...}``, Lightning's ``{"state_dict": {"model.xxx": ...}}``); :func:`extract_state_dict` finds it.
A converter (a plain function ``dict -> dict``) maps a published layout onto vidact's key names. Any
mismatch — missing or unexpected keys, wrong shapes — is a :class:`~vidact.errors.CheckpointError` naming the
file and the first offending keys, never a half-loaded model.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from .._unpickle import safe_unpickle as _safe_unpickle
from ..errors import CheckpointError, UnsafePickleError

__all__ = [
    "read_checkpoint",
    "extract_state_dict",
    "read_state_dict",
    "load_weights",
    "load_pretrained",
    "classifier_classes",
    "strip_prefix",
    "sha256_of",
    "safe_unpickle",
]

StateDict = dict[str, torch.Tensor]
_WRAPPER_KEYS = ("state_dict", "model_state", "model", "module", "net", "weights")
_PICKLE_PROTOCOL_WARNING = r"Detected pickle protocol \d+ in the checkpoint"
#: Serialises :func:`read_checkpoint`'s loads (see there).
_LOAD_LOCK = threading.Lock()


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_checkpoint(path: str | os.PathLike, *, sha256: str | None = None) -> Any:
    """``torch.load`` a checkpoint file with ``weights_only=True`` onto the CPU; a ``.safetensors`` file (Hugging
    Face's format: tensors only, nothing to unpickle) through :func:`read_safetensors`.

    Besides tensors and containers, numpy arrays of numbers or booleans and numpy scalars load (training
    checkpoints in the wild hold them: EfficientGCN's stores a confusion matrix and its optimizer's learning
    rate): torch's weights-only unpickler admits the few numpy functions and types that rebuild them
    (:func:`_numpy_safe_globals`) for this call only. Object arrays and anything else still fail.

    Raises:
        CheckpointError: missing, empty, not a torch file, corrupt, checksum mismatch, or it needs code to load.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a directory, expected a checkpoint file")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes)")
    if sha256 is not None and sha256_of(path) != sha256:
        raise CheckpointError(f"{path}: checksum mismatch (expected sha256 {sha256[:12]}...)")
    if path.endswith(".safetensors"):
        return read_safetensors(path)
    try:
        # torch's safe_globals and catch_warnings change process-wide state for the duration: one load at a time
        # (threads of a server loading two models at once would otherwise see each other's state restored)
        with _LOAD_LOCK, warnings.catch_warnings():
            # A pickle of another protocol than torch.save's 2 (pickle.dump writes 4) makes torch warn that
            # its weights-only unpickler may not support every instruction of it. The load then succeeds or
            # raises, and a raise becomes the one-line error below: the warning adds nothing but a second,
            # misleading stderr line before it. Only that warning is silenced, and only around this call.
            warnings.filterwarnings("ignore", message=_PICKLE_PROTOCOL_WARNING, category=UserWarning)
            with torch.serialization.safe_globals(_numpy_safe_globals()):  # for this load only
                return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError (zip), EOFError, ...
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            msg = (
                "it stores Python objects beyond tensors, which vidact will not unpickle (weights_only=True)"
            )
        raise CheckpointError(f"{path}: not a readable checkpoint ({msg})") from None


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file, on the CPU.

    Raises:
        CheckpointError: missing, truncated or not a safetensors file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(os.fspath(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{os.fspath(path)}: not a readable safetensors file ({e})") from None


def _numpy_safe_globals() -> list[Any]:
    """What a weights-only ``torch.load`` may additionally call or build: numpy's array and scalar
    reconstructors (under numpy 1's and numpy 2's module names, as pickles name them), ``ndarray``, ``dtype``
    and the dtype classes of booleans and numbers. Not object, string, void (structured) or datetime dtypes:
    an object array's elements could be anything, so a file holding one is refused."""
    import importlib

    import numpy as np

    try:
        multiarray = importlib.import_module("numpy._core.multiarray")  # numpy 2
    except ImportError:
        multiarray = importlib.import_module("numpy.core.multiarray")
    allowed: list[Any] = [np.ndarray, np.dtype]
    for name in ("_reconstruct", "scalar"):
        function = getattr(multiarray, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # as numpy 1 and numpy 2 name it
            allowed.append((function, f"{module}.{name}"))
    numeric = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
    numeric += (np.float16, np.float32, np.float64, np.complex64, np.complex128)
    allowed += list(dict.fromkeys(type(np.dtype(t)) for t in numeric))  # the dtype classes (numpy >= 1.25)
    return allowed


def safe_unpickle(path: str | os.PathLike, *, encoding: str = "latin1", tensors: bool = False) -> Any:
    """A checkpoint that is a plain pickle (Caffe2 blobs, numpy-era weights), read by
    :func:`vidact._unpickle.safe_unpickle` (containers, numbers, strings and numpy arrays only: never code),
    every error of it a one-line :class:`~vidact.errors.CheckpointError`.

    Annotation and score files are not checkpoints: their readers call :func:`vidact._unpickle.safe_unpickle`.

    Raises:
        CheckpointError: missing, empty or corrupt file, or a pickle that asks for anything beyond that.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        return _safe_unpickle(path, encoding=encoding, tensors=tensors)
    except UnsafePickleError as e:
        raise CheckpointError(str(e)) from None
    except (OSError, pickle.UnpicklingError) as e:
        raise CheckpointError(f"{path}: {e}") from None


def extract_state_dict(obj: Any, *, source: str = "checkpoint") -> StateDict:
    """Find the tensor dict inside a loaded checkpoint (bare, or under a usual wrapper key)."""
    cur = obj
    for _ in range(3):
        if isinstance(cur, Mapping) and cur and all(isinstance(v, torch.Tensor) for v in cur.values()):
            return dict(cur)
        if isinstance(cur, Mapping):
            inner = next((cur[k] for k in _WRAPPER_KEYS if k in cur and isinstance(cur[k], Mapping)), None)
            if inner is None:
                break
            cur = inner
        else:
            break
    raise CheckpointError(f"{source}: no state_dict of tensors found (top-level keys: {_keys_preview(obj)})")


def _keys_preview(obj: Any, n: int = 6) -> str:
    if isinstance(obj, Mapping):
        ks = list(obj)[:n]
        return ", ".join(map(str, ks)) + (" ..." if len(obj) > n else "")
    return type(obj).__name__


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> StateDict:
    """Drop ``prefix`` from every key that has it (``module.`` from DDP, ``model.`` from Lightning)."""
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in state.items()}


def read_state_dict(
    weights: str | os.PathLike | Mapping[str, torch.Tensor],
    *,
    converter: Callable[[StateDict], StateDict] | None = None,
    sha256: str | None = None,
    source: str | None = None,
) -> tuple[StateDict, str]:
    """The state_dict of ``weights`` (a file or a mapping) in the model's key names, and its name for messages.

    Unwraps the usual containers, drops a ``module.`` (DDP) or ``_orig_mod.`` (``torch.compile``) prefix
    common to every key, and applies ``converter``.

    Raises:
        CheckpointError: an unreadable file, or a state_dict the converter cannot map.
    """
    if isinstance(weights, (str, os.PathLike)):
        source = os.fspath(weights)
        obj = read_checkpoint(weights, sha256=sha256)
    else:
        source = source or "state_dict"
        obj = weights
    state = extract_state_dict(obj, source=source)
    for prefix in ("module.", "_orig_mod."):
        if all(k.startswith(prefix) for k in state):
            state = strip_prefix(state, prefix)
    if converter is not None:
        try:
            state = converter(state)
        except CheckpointError:
            raise
        except KeyError as e:
            raise CheckpointError(f"{source}: not in the expected layout (missing key {e})") from None
    return state, source


def classifier_classes(state: Mapping[str, torch.Tensor], classifier: str, *, source: str = "weights") -> int:
    """How many classes the classifier ``classifier`` (a parameter prefix: ``"fc"``, ``"fc8"``, ``"logits"``)
    of a state_dict in the model's key names has: the first dimension of its weight.

    Raises:
        CheckpointError: the state_dict has no such classifier.
    """
    weight = state.get(f"{classifier}.weight")
    if weight is None or weight.ndim < 2:
        raise CheckpointError(f"{source}: no classifier {classifier!r} (no 2-D or 5-D {classifier}.weight)")
    return int(weight.shape[0])


def load_pretrained(
    model: nn.Module,
    weights: str | os.PathLike | Mapping[str, torch.Tensor],
    *,
    classifier: str,
    converter: Callable[[StateDict], StateDict] | None = None,
    sha256: str | None = None,
    source: str | None = None,
) -> str | None:
    """Load ``weights`` to fine-tune ``model``: all of it, or all but a classifier for another class count.

    When the weights' classifier (parameters under ``classifier.``) has another shape than the model's — the
    weights were trained on other classes — it is left out and the model keeps its new classifier; every other
    tensor must fit exactly (as :func:`load_weights` with ``strict=True``).

    Returns:
        a one-line notice when the classifier was left out, else ``None``.

    Raises:
        CheckpointError: as :func:`load_weights`.
    """
    state, source = read_state_dict(weights, converter=converter, sha256=sha256, source=source)
    prefix = f"{classifier}."
    own = model.state_dict()
    theirs = {k: v for k, v in state.items() if k.startswith(prefix)}
    mine = {k: v for k, v in own.items() if k.startswith(prefix)}
    differs = theirs.keys() != mine.keys() or any(
        tuple(v.shape) != tuple(mine[k].shape) for k, v in theirs.items()
    )
    if not differs:
        load_weights(model, state, source=source)
        return None
    load_weights(model, state, ignore=(prefix,), source=source)
    was = f"{classifier_classes(state, classifier, source=source)} classes" if theirs else "no classifier"
    now = getattr(model, "num_classes", None)
    return (
        f"{source}: {was} in the weights and {now} in the model: classifier {classifier!r} not loaded "
        "(it starts new, to be fine-tuned)"
    )


def load_weights(
    model: nn.Module,
    weights: str | os.PathLike | Mapping[str, torch.Tensor],
    *,
    converter: Callable[[StateDict], StateDict] | None = None,
    strict: bool = True,
    ignore: tuple[str, ...] = (),
    sha256: str | None = None,
    source: str | None = None,
) -> nn.Module:
    """Load ``weights`` (a file or a state_dict) into ``model``, converting its layout first.

    Args:
        converter: maps the source key layout onto the model's (e.g. torchvision or PySlowFast names).
        strict: every model key must be filled and every source key used, with matching shapes.
        ignore: key prefixes to leave out on both sides (e.g. ``("fc.",)`` to fine-tune a new head).
        source: the name to use in error messages when ``weights`` is an in-memory state_dict.

    Raises:
        CheckpointError: unreadable file, or keys/shapes that do not match, listing the first few.
    """
    state, source = read_state_dict(weights, converter=converter, sha256=sha256, source=source)
    own = model.state_dict()
    if ignore:
        state = {k: v for k, v in state.items() if not k.startswith(ignore)}
        own = {k: v for k, v in own.items() if not k.startswith(ignore)}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if shape:
        raise CheckpointError(
            f"{source}: shape mismatch for {len(shape)} tensors (first: {'; '.join(shape[:3])})"
        )
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (first: {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {', '.join(unexpected[:3])})")
        raise CheckpointError(f"{source}: does not fit {type(model).__name__}: {'; '.join(parts)}")
    model.load_state_dict(state, strict=False)
    return model
