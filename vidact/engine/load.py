"""Load whatever a model string names as one :class:`~vidact.models.loaded.LoadedModel`: the network with its
input spec, class names, name and the task whose hooks evaluate it.

    >>> loaded = load_model("runs/ucf101_simple3d")              # a run (best, else last checkpoint)
    >>> loaded = load_model("efficientgcn_b0.ntu60")             # published weights by name
    >>> loaded = load_model("r2plus1d_18", weights="r2plus1d_18-91a641e6.pth")   # a model name and a file
    >>> loaded.spec.modality, loaded.task                         # ("video", "classification")

What the string names is decided by :func:`~vidact.engine.refs.resolve_model_ref`. A checkpoint's input spec is
the one it stores; a checkpoint written before specs were stored gets its task's
:meth:`~vidact.engine.tasks.Task.input_spec` of its recipe, here and nowhere else.
"""

from __future__ import annotations

import os

from .._plugins import import_modules
from ..data.inputs import input_from_dict
from ..errors import CheckpointError, ConfigError
from ..models import build_model, hub
from ..models.loaded import LoadedModel
from ..models.weights import load_weights
from .checkpoint import load_checkpoint
from .refs import resolve_model_ref
from .tasks import get_task, list_tasks
from .tasks.base import recipe_of

__all__ = ["load_model", "load_run", "default_task"]


def default_task(modality: str) -> str:
    """The classifier task of ``modality`` (``video``: ``classification``, ``skeleton``: ``skeleton``): the
    one whose hooks evaluate published weights of that modality. Among several, the one named after the
    modality, else ``classification``, else the first by name.

    Raises:
        ConfigError: no registered classifier task reads that modality.
    """
    candidates = [
        name for name in list_tasks() if get_task(name).produces_classifier and get_task(name).reads(modality)
    ]
    if not candidates:
        raise ConfigError(f"no task evaluates {modality} models (tasks: {', '.join(list_tasks())})")
    for favourite in (modality, "classification"):
        if favourite in candidates:
            return favourite
    return candidates[0]


def load_run(run_or_ckpt: str | os.PathLike, which: str = "best", *, classifier: bool = True) -> LoadedModel:
    """The model of a run directory (its ``which`` checkpoint, ``best`` falling back to ``last``) or of a
    checkpoint file, in eval mode, with the spec, classes and recipe stored with it.

    Args:
        classifier: refuse checkpoints that are not classifiers (a pre-training run's): evaluation, prediction
            and extraction need one.

    Raises:
        CheckpointError: no such run or file, not a vidact checkpoint, or not a classifier.
    """
    ckpt, path = load_checkpoint(run_or_ckpt, which)
    # a run trained with a plugin's model or task (the recipe's imports) loads with it
    import_modules(list((ckpt["config"] or {}).get("imports") or []), source=str(path))
    task_name = str(ckpt.get("task", "classification"))
    try:
        task = get_task(task_name)
    except ConfigError as e:
        raise CheckpointError(f"{path}: {e} (a plugin's task? add it to the recipe's imports)") from None
    is_classifier = bool(ckpt.get("classifier", task.produces_classifier))
    if classifier and not is_classifier:
        raise CheckpointError(
            f"{path}: made by the {task_name} task, not a classifier: nothing to evaluate or predict"
        )
    if "input" in ckpt:
        spec = input_from_dict(ckpt["input"])
    else:  # written before checkpoints stored their input: the task derives it from the recipe, once, here
        spec = task.input_spec(recipe_of(ckpt["config"], source=str(path)))
    model = build_model(ckpt["model_name"], num_classes=ckpt["num_classes"], **ckpt["model_kwargs"])
    load_weights(model, ckpt["state_dict"], source=str(path))
    return LoadedModel(
        module=model.eval(),
        spec=spec,
        classes=list(ckpt["classes"]),
        name=ckpt["model_name"],
        source=str(path),
        task=task_name,
        config=ckpt["config"],
        metrics=dict(ckpt.get("metrics") or {}),
    )


def load_model(
    model: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    weights_layout: str | None = None,
    which: str = "best",
    progress: bool = True,
    classifier: bool = True,
) -> LoadedModel:
    """The model ``model`` names, ready to use (see the module docstring), in eval mode on the CPU.

    Args:
        model: a run directory or vidact checkpoint; published weights by name (``<model>.<tag>``, downloaded
            into the cache on first use); or a registered model name with ``weights``.
        weights: a weights file of the ``model`` name: the class count is read from the file, the key layout
            found by trying vidact's and the model's published ones (or ``weights_layout``), the input is the
            model card's, the classes ``class_0`` ...
        weights_layout: the key layout of ``weights``.
        which: a run's checkpoint, ``best`` or ``last``.
        progress: a progress bar while downloading.
        classifier: refuse a run whose checkpoints are not classifiers (:func:`load_run`).

    Raises:
        CheckpointError: a missing or unreadable run, checkpoint or file, weights that do not fit, published
            weights that cannot be downloaded, a checkpoint that is not a classifier (with ``classifier``).
        ConfigError: an unknown model or weights name, or options that do not go together.
    """
    if weights is None and weights_layout is not None:
        raise ConfigError("--weights-layout goes with --weights FILE")
    ref = resolve_model_ref(model, weights=weights)
    if ref.kind in ("run", "checkpoint"):
        return load_run(ref.name, which, classifier=classifier)
    if ref.kind == "weights":
        loaded = hub.load_published(ref.name, progress=progress)
    else:
        assert ref.weights is not None
        try:
            hub.model_card(ref.name)
        except KeyError:
            raise ConfigError(f"model {ref.name!r} has no model card, so its input is unknown") from None
        loaded = hub.load_file(ref.name, ref.weights, layout=weights_layout)
    loaded.task = default_task(loaded.modality)
    return loaded
