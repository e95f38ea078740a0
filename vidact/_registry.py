"""The one registry type behind every "by name" lookup in vidact: models and their cards, tasks, extraction
kinds, dataset layouts, weights converters and readers, label lists.

Each extension registers itself from its own file; nothing keeps a central table::

    MODELS: Registry[Callable[..., nn.Module]] = Registry("model")

    @MODELS.register("tiny")           # a decorator ...
    def tiny(num_classes=10): ...

    MODELS.register("tiny2", tiny2)    # ... or a call

    MODELS.get("tny")                  # ConfigError: unknown model 'tny'; did you mean tiny? known: tiny, tiny2

Before its first read (:meth:`Registry.get`, :meth:`~Registry.names`, ``in``, iteration, ``len``) a registry
imports the installed plugins (:func:`vidact._plugins.load_plugins`), so a third-party extension's
registrations are there before any name is looked up.

A bottom module: it imports only the standard library and :mod:`vidact.errors`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, overload

from ._plugins import load_plugins
from .errors import ConfigError

__all__ = ["Registry", "RegistryView"]

T = TypeVar("T")
U = TypeVar("U")


class Registry(Generic[T]):
    """Objects of one kind by name.

    Args:
        kind: what the objects are, in messages (``"model"``, ``"task"``, ``"extraction kind"``).
        plugins: import the ``vidact.plugins`` entry points before the first read (default ``True``).
    """

    def __init__(self, kind: str, *, plugins: bool = True):
        self.kind = kind
        self._plugins = plugins
        self._entries: dict[str, T] = {}

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"

    # -- writing -------------------------------------------------------------------------------------------------
    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, obj: T) -> T: ...

    def register(self, name: str, obj: Any = None) -> Any:
        """Register ``obj`` as ``name``; without ``obj``, a decorator that registers what it decorates.

        Registering the same object again is a no-op (a module imported twice, a reload); another object under
        a taken name is a programming error.

        Raises:
            ValueError: ``name`` is empty, or taken by another object.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")

        def add(value: T) -> T:
            existing = self._entries.get(name, value)
            if existing is not value:
                raise ValueError(f"{self.kind} {name!r} is already registered ({_describe(existing)})")
            self._entries[name] = value
            return value

        return add if obj is None else add(obj)

    # -- reading -------------------------------------------------------------------------------------------------
    def _read(self) -> dict[str, T]:
        if self._plugins:
            load_plugins()
        return self._entries

    def get(self, name: str) -> T:
        """The object registered as ``name``.

        Raises:
            ConfigError: an unknown name; the message gives the closest names and lists the known ones.
        """
        entries = self._read()
        try:
            return entries[name]
        except (KeyError, TypeError):
            raise ConfigError(self.unknown(name)) from None

    def unknown(self, name: object) -> str:
        """The one-line message for an unknown ``name``: ``unknown <kind> 'x'; did you mean y? known: ...``."""
        close = self.close_matches(str(name))
        hint = f"did you mean {', '.join(close)}? " if close else ""
        return f"unknown {self.kind} {name!r}; {hint}known: {', '.join(self.names()) or 'none'}"

    def close_matches(self, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` registered names close to ``name``: those that contain it or that it contains first
        (``r2plus1d`` -> ``r2plus1d_18``), then the closest spellings (difflib)."""
        names = self.names()
        lowered = name.lower()
        within = [k for k in names if lowered and (lowered in k.lower() or k.lower() in lowered)]
        spelled = difflib.get_close_matches(name, names, n=n, cutoff=0.6)
        return list(dict.fromkeys([*within, *spelled]))[:n]

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._read())

    def items(self) -> list[tuple[str, T]]:
        """``(name, object)`` pairs, sorted by name."""
        entries = self._read()
        return [(name, entries[name]) for name in sorted(entries)]

    def view(self, fn: Callable[[T], U]) -> RegistryView[U]:
        """A read-only mapping ``name -> fn(object)`` that follows the registry (later registrations show)."""
        return RegistryView(self, fn)

    def __contains__(self, name: object) -> bool:
        return name in self._read()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._read())


class RegistryView(Mapping[str, U]):
    """``name -> fn(object)`` over a :class:`Registry`, live: what a module exports as a constant
    (``DATASET_KINDS``: layout -> description) without a second table to keep in step."""

    def __init__(self, registry: Registry[Any], fn: Callable[[Any], U]):
        self._registry = registry
        self._fn = fn

    def __getitem__(self, name: str) -> U:
        if name not in self._registry:
            raise KeyError(name)
        return self._fn(self._registry.get(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{k!r}: {v!r}' for k, v in self.items())}}}"


def _describe(obj: object) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(obj)
