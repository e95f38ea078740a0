"""Tasks: what the generic training loop trains, picked by the recipe's ``task`` key.

    >>> list_tasks()
    ['classification', 'detection', 'masked_reconstruction', 'skeleton', 'two_stream', 'videomae_pretraining']
    >>> task = build_task(cfg)        # cfg.task.name, cfg.task.kwargs

A new task is one :class:`Task` subclass decorated with :func:`register_task` (see :mod:`.base`), in its own
file (:mod:`.registry`: the registry; a task outside vidact registers itself the same way, see
:mod:`vidact._plugins`); the loop (:mod:`vidact.engine.loop`) needs no edit.
"""

from __future__ import annotations

from .base import StepOutput, Task, TaskData, build_network, video_datasets
from .registry import build_task, get_task, list_tasks, register_task

__all__ = [
    "Task",
    "TaskData",
    "StepOutput",
    "build_network",
    "video_datasets",
    "register_task",
    "list_tasks",
    "get_task",
    "build_task",
]

# The built-in tasks register themselves on import.
from . import classification, detection, masked, skeleton, two_stream, videomae  # noqa: E402, F401, I001
