"""vidact checkpoints: one file format for training state and for inference, written atomically.

A checkpoint is a ``dict`` of tensors and plain Python containers only, so that it loads with
``torch.load(..., weights_only=True)``:

====================  ============================================================================
key                   value
====================  ============================================================================
``format``            ``"vidact.checkpoint/1"``
``task``              the training task that made it (:mod:`vidact.engine.tasks`; absent: classification)
``input``             the input spec (:mod:`vidact.data.inputs`, ``spec.to_dict()``): how the model's input is
                      made; absent in checkpoints written before it was stored (derived from ``config`` on load)
``classifier``        whether ``state_dict`` is a classifier that evaluation and prediction can use (absent: a
                      ``classification`` or ``skeleton`` checkpoint)
``backbone``          the ``state_dict`` prefix of the network that seeds another model's training
                      (``model.pretrained``): ``""`` the whole network, ``"encoder."`` a pre-training run's encoder
``model_name``        registry name (``vidact.models.build_model``)
``model_kwargs``      keyword arguments for the builder (without ``num_classes``)
``num_classes``       int
``classes``           list of class names, index = label
``state_dict``        the model's state_dict
``config``            the resolved training recipe (nested dict), so evaluation and prediction rebuild the
                      same input pipeline (clip length, stride, crop size, normalisation)
``train_state``       optional: optimizer / scheduler state, epoch, step, RNG states, ... (resume only)
``metrics``           optional: the validation metrics at save time
====================  ============================================================================

A run directory (``runs/<name>/``) keeps ``checkpoints/last.ckpt`` and ``checkpoints/best.ckpt``;
:func:`resolve_checkpoint` accepts either a run directory or a checkpoint file. A model with its input spec and
classes is loaded by :func:`vidact.engine.load.load_model`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._atomic import atomic_write
from ..errors import CheckpointError
from ..models.weights import read_checkpoint

__all__ = [
    "FORMAT",
    "atomic_save",
    "make_checkpoint",
    "resolve_checkpoint",
    "load_checkpoint",
    "backbone_state",
]

FORMAT = "vidact.checkpoint/1"
_REQUIRED = ("format", "model_name", "model_kwargs", "num_classes", "classes", "state_dict", "config")


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    A run killed mid-write leaves the previous file intact, never a truncated one.
    """
    with atomic_write(path) as f:
        torch.save(obj, f)


def make_checkpoint(
    model: nn.Module,
    *,
    model_name: str,
    model_kwargs: dict[str, Any],
    classes: list[str],
    config: dict[str, Any],
    task: str = "classification",
    input: dict[str, Any] | None = None,
    classifier: bool = True,
    backbone: str = "",
    train_state: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a checkpoint dict (see the module docstring; ``input``, ``classifier`` and ``backbone`` are the
    task's :meth:`~vidact.engine.tasks.Task.checkpoint_fields`)."""
    module = getattr(model, "module", model)  # unwrap DDP
    module = getattr(module, "_orig_mod", module)  # unwrap torch.compile
    ckpt: dict[str, Any] = {
        "format": FORMAT,
        "task": task,
        "model_name": model_name,
        "model_kwargs": dict(model_kwargs),
        "num_classes": len(classes),
        "classes": list(classes),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "config": config,
        "classifier": bool(classifier),
        "backbone": str(backbone),
    }
    if input is not None:
        ckpt["input"] = dict(input)
    if train_state is not None:
        ckpt["train_state"] = train_state
    if metrics is not None:
        ckpt["metrics"] = metrics
    return ckpt


def resolve_checkpoint(run_or_ckpt: str | os.PathLike, which: str = "best") -> Path:
    """The checkpoint file for a run directory (``best`` falling back to ``last``) or a file path."""
    p = Path(run_or_ckpt)
    if p.is_dir():
        for name in (f"{which}.ckpt", "best.ckpt", "last.ckpt"):
            cand = p / "checkpoints" / name
            if cand.is_file():
                return cand
        raise CheckpointError(
            f"{p}: no checkpoints/{which}.ckpt or checkpoints/last.ckpt in this run directory"
        )
    if not p.exists():
        raise CheckpointError(f"{p}: no such file or run directory")
    return p


def load_checkpoint(run_or_ckpt: str | os.PathLike, which: str = "best") -> tuple[dict[str, Any], Path]:
    """Read and validate a vidact checkpoint; returns ``(checkpoint dict, path)``."""
    path = resolve_checkpoint(run_or_ckpt, which)
    ckpt = read_checkpoint(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        fmt = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"{path}: not a vidact checkpoint (format {fmt!r}); for published weights use --weights with --model"
        )
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: incomplete vidact checkpoint (missing {', '.join(missing)})")
    if len(ckpt["classes"]) != ckpt["num_classes"]:
        raise CheckpointError(f"{path}: {len(ckpt['classes'])} class names for {ckpt['num_classes']} classes")
    return ckpt, path


def backbone_state(ckpt: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The weights of a checkpoint that seed another model (``model.pretrained``): the whole ``state_dict``, or
    for a checkpoint whose ``backbone`` is a prefix (a pre-training run's ``encoder.``) the keys under it, the
    prefix removed.

    Returns:
        ``(state_dict, notice)``: the notice says what was left out (``None`` when nothing was).
    """
    state = ckpt["state_dict"]
    prefix = str(ckpt.get("backbone") or "")
    if not prefix:
        return state, None
    kept = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    dropped = sorted({k.split(".", 1)[0] for k in state if not k.startswith(prefix)})
    notice = None
    if dropped:
        notice = (
            f"{ckpt.get('task', 'the')} checkpoint: loading its {prefix.rstrip('.')} only "
            f"({', '.join(dropped)} left out)"
        )
    return kept, notice
