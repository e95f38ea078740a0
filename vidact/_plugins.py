"""Third-party extensions without a fork: modules that register models, tasks, extraction kinds, dataset
layouts, weights converters or label lists with vidact's registries.

Two ways in:

* an installed distribution declares entry points in the group ``vidact.plugins``; each names a module, imported
  once, before any registry is read (:func:`load_plugins`, which every :class:`~vidact._registry.Registry` calls
  before its first lookup)::

      # pyproject.toml of the plugin
      [project.entry-points."vidact.plugins"]
      my_models = "my_package.vidact_models"

  An entry point that fails to import gives a one-line :class:`PluginWarning` naming it, and vidact goes on.
* a recipe's top-level ``imports: [module, ...]`` (:func:`import_modules`), imported when the recipe is loaded,
  before its task and model are looked up; a module that cannot be imported is a one-line
  :class:`~vidact.errors.ConfigError`.

A bottom module: it imports only the standard library and :mod:`vidact.errors`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
import warnings
from collections.abc import Iterable
from types import ModuleType

from .errors import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "PluginWarning", "load_plugins", "loaded_plugins", "import_modules"]

#: The entry-point group whose modules :func:`load_plugins` imports.
ENTRY_POINT_GROUP = "vidact.plugins"


class PluginWarning(UserWarning):
    """An installed vidact plugin could not be imported (it is left out; the rest of vidact works)."""


_lock = threading.RLock()
_started = False
_loaded: dict[str, str] = {}  # entry point name -> its value, for the plugins imported


def load_plugins() -> None:
    """Import the module of every entry point in the group ``vidact.plugins``, once per process.

    Called by every registry before it is read, so a plugin's registrations are in place before any name is
    looked up. A plugin's own import may read registries: the call is re-entrant (the plugins being imported
    are not imported again). An entry point that fails to import is left out with one :class:`PluginWarning`
    line naming it and the error.
    """
    global _started
    with _lock:
        if _started:
            return
        _started = True
        for entry in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            try:
                entry.load()
            except Exception as e:  # a broken plugin must not take vidact down with it
                reason = " ".join(str(e).split()) or type(e).__name__
                warnings.warn(
                    f"vidact plugin {entry.name!r} ({entry.value}) failed to import and is left out: "
                    f"{type(e).__name__}: {reason}",
                    PluginWarning,
                    stacklevel=2,
                )
                continue
            _loaded[entry.name] = entry.value


def loaded_plugins() -> dict[str, str]:
    """The plugins imported so far: entry point name -> module (``vidact plugins`` of a ``--version`` report)."""
    return dict(_loaded)


def import_modules(modules: Iterable[str], *, source: str = "imports") -> list[ModuleType]:
    """Import the modules a recipe's ``imports:`` names (each registers what it defines), in order.

    Args:
        modules: dotted module names, importable from ``sys.path`` (``my_project.models``).
        source: what names them in errors (the recipe file).

    Raises:
        ConfigError: a name that is not a string, or a module that cannot be imported (the message names it
            and the import's own error).
    """
    imported = []
    for name in modules:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{source}: imports: expected module names, got {name!r}")
        try:
            imported.append(importlib.import_module(name.strip()))
        except Exception as e:  # ImportError, or whatever the module raised while running
            reason = " ".join(str(e).split()) or type(e).__name__
            raise ConfigError(
                f"{source}: imports: cannot import {name!r} ({type(e).__name__}: {reason})"
            ) from None
    return imported
