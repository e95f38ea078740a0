"""The registry of tasks: the recipe's ``task: NAME`` -> a :class:`~.base.Task` subclass.

A task registers itself from its own file (``@register_task`` on the class), inside vidact or not (a plugin, a
recipe's ``imports:``); the loop needs no edit.
"""

from __future__ import annotations

import difflib
import inspect
from typing import TypeVar

from ..._registry import Registry
from ...errors import ConfigError
from ..config import Config
from .base import Task

__all__ = ["register_task", "list_tasks", "get_task", "build_task"]

_TASKS: Registry[type[Task]] = Registry("task")
T = TypeVar("T", bound=type[Task])


def register_task(cls: T) -> T:
    """Class decorator: make ``cls`` available as the recipe's ``task: <cls.name>``.

    Raises:
        ValueError: another class is registered under ``cls.name``.
    """
    return _TASKS.register(cls.name, cls)


def list_tasks() -> list[str]:
    """The registered task names, sorted."""
    return _TASKS.names()


def get_task(name: str) -> type[Task]:
    """The task class registered as ``name``.

    Raises:
        ConfigError: an unknown name (with the closest one, and the list).
    """
    if name not in _TASKS:
        close = difflib.get_close_matches(name, list_tasks(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"task.name: unknown task '{name}'{hint}; tasks: {', '.join(list_tasks())}")
    return _TASKS.get(name)


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
