"""What every page's endpoints share: the runs folder, loaded models, jobs, uploads and limits.

An endpoint reaches it with a dependency::

    from fastapi import APIRouter, Depends
    from ..context import ExploreContext, get_context

    router = APIRouter()

    @router.get("/scores")
    def scores(ctx: ExploreContext = Depends(get_context)) -> dict:
        model = ctx.model("fusion:scores", lambda: read_scores(...))  # loaded once, shared read-only
        ...

Models (and any other costly, read-only object) are loaded once per key, by the first request that asks, while
concurrent requests wait for that load instead of loading twice (one load at a time: :data:`LOAD_LOCK`); a
loader that fails is retried by the next request. Whoever uses a cached object must not change it (a torch model: ``eval()`` mode, inference
under ``torch.inference_mode()``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request

from ..._home import cache_dir as _vidact_cache_dir
from .jobs import JobManager
from .uploads import UploadLimits, UploadStore

__all__ = ["ExploreContext", "ModelCache", "LOAD_LOCK", "get_context"]

T = TypeVar("T")


#: Held while a model (or any checkpoint) loads: one load at a time in the whole server. vidact's checkpoint
#: reader (:func:`vidact.models.weights.read_checkpoint`) widens torch's weights-only unpickler for the length of
#: each load with ``torch.serialization.safe_globals``, process-wide state that two loads in two threads undo
#: for each other ("not a readable checkpoint"). Loads are rare, so serialising them costs little.
LOAD_LOCK = threading.RLock()


class ModelCache:
    """A thread-safe load-once cache: ``get(key, loader)`` calls ``loader()`` once per key (one load at a time,
    under :data:`LOAD_LOCK`)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str, loader: Callable[[], T]) -> T:
        """The cached value of ``key``, loading it with ``loader()`` on the first call.

        Args:
            key: names what is loaded (``"predictor:runs/temporal-per_frame"``).
            loader: builds the value; its exceptions propagate and nothing is cached.
        """
        with self._lock:
            if key in self._values:
                return self._values[key]
        with LOAD_LOCK:
            with self._lock:
                if key in self._values:  # loaded by the thread we waited for
                    return self._values[key]
            value = loader()
            with self._lock:
                self._values[key] = value
            return value

    def peek(self, key: str) -> Any | None:
        """The cached value of ``key``, or ``None`` when it was not loaded (never loads)."""
        with self._lock:
            return self._values.get(key)

    def drop(self, key: str) -> None:
        """Forget ``key`` (the next :meth:`get` loads it again), e.g. after training a new model for it."""
        with self._lock:
            self._values.pop(key, None)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._values


class ExploreContext:
    """The explorer's shared state, one per app (``app.state.ctx``).

    Args:
        runs: a ``vidact demo --out`` folder (or any folder of runs) whose models the pages may use; ``None``:
            pages train what they need on first use, into ``cache``.
        limits: upload limits.
        cache: where pages keep what they make on first use (trained models): ``runs`` when given, else
            ``$VIDACT_HOME/cache/explore``.

    Attributes:
        runs: as given.
        cache: as resolved (not created here; writers make it).
        models: the load-once cache (:meth:`model` is its shortcut).
        jobs: background jobs.
        uploads: uploaded videos.
        limits: the upload limits.
    """

    def __init__(
        self,
        *,
        runs: Path | None = None,
        limits: UploadLimits | None = None,
        cache: Path | None = None,
    ) -> None:
        self.runs = Path(runs) if runs is not None else None
        self.cache = Path(cache) if cache is not None else (self.runs or _vidact_cache_dir("explore"))
        self.limits = limits or UploadLimits()
        self.models = ModelCache()
        self.jobs = JobManager()
        self.uploads = UploadStore(self.limits)

    def model(self, key: str, loader: Callable[[], T]) -> T:
        """``self.models.get(key, loader)``: load once, share read-only."""
        return self.models.get(key, loader)

    def close(self) -> None:
        """Cancel the jobs (waiting a few seconds for them) and delete the uploads."""
        self.jobs.shutdown()
        self.uploads.close()


def get_context(request: Request) -> ExploreContext:
    """FastAPI dependency: the app's :class:`ExploreContext` (``ctx: ExploreContext = Depends(get_context)``)."""
    return request.app.state.ctx
