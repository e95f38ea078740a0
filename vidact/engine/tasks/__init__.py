"""Tasks: what the generic training loop trains, picked by the recipe's ``task`` key.

    >>> list_tasks()
    ['classification', 'masked_reconstruction', 'skeleton']
    >>> task = build_task(cfg)        # cfg.task.name, cfg.task.kwargs

A new task is one :class:`Task` subclass decorated with :func:`register_task` (see :mod:`.base`); the loop
(:mod:`vidact.engine.loop`) needs no edit.
"""

from __future__ import annotations

import difflib
import inspect
from typing import TypeVar

from ...errors import ConfigError
from ..config import Config
from .base import StepOutput, Task, TaskData, build_network, video_datasets

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

_TASKS: dict[str, type[Task]] = {}
T = TypeVar("T", bound=type[Task])


def register_task(cls: T) -> T:
    """Class decorator: make ``cls`` available as the recipe's ``task: <cls.name>``."""
    if cls.name in _TASKS and _TASKS[cls.name] is not cls:
        raise ValueError(f"task {cls.name!r} is already registered ({_TASKS[cls.name].__qualname__})")
    _TASKS[cls.name] = cls
    return cls


def list_tasks() -> list[str]:
    """The registered task names, sorted."""
    return sorted(_TASKS)


def get_task(name: str) -> type[Task]:
    """The task class registered as ``name``.

    Raises:
        ConfigError: an unknown name (with the closest one, and the list).
    """
    if name not in _TASKS:
        close = difflib.get_close_matches(name, list(_TASKS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"task.name: unknown task '{name}'{hint}; tasks: {', '.join(list_tasks())}")
    return _TASKS[name]


def build_task(config: Config) -> Task:
    """The recipe's task, ``task.kwargs`` checked against its constructor first.

    Raises:
        ConfigError: an unknown task, or ``task.kwargs`` it does not take or that are out of range.
    """
    cls = get_task(config.task.name)
    signature = inspect.signature(cls.__init__)
    try:
        signature.bind(None, config, **config.task.kwargs)
    except TypeError as e:
        takes = ", ".join(p for p in signature.parameters if p not in ("self", "config")) or "no arguments"
        raise ConfigError(f"task.kwargs: {e} ({cls.name} takes {takes})") from None
    return cls(config, **config.task.kwargs)


# The built-in tasks register themselves on import.
from . import classification, masked, skeleton  # noqa: E402, F401
