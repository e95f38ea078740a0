"""One lock for the explorer's first imports of heavy modules.

Endpoints and jobs run in threads and import torch, the models and the decoders on first use (so that the server
starts fast). Two threads importing overlapping parts of vidact for the first time can meet in Python's import
machinery and fail with ``_DeadlockError``; importing under one process-wide lock avoids it. Afterwards an import
is a dictionary lookup.
"""

from __future__ import annotations

import importlib
import threading

__all__ = ["IMPORT_LOCK", "import_heavy"]

IMPORT_LOCK = threading.RLock()


def import_heavy(*modules: str) -> None:
    """Import ``modules`` (dotted names) under :data:`IMPORT_LOCK`."""
    with IMPORT_LOCK:
        for name in modules:
            importlib.import_module(name)
