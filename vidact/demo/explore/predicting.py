"""Models with real weights here, videos the pages may read, and predictions that report progress (the flicker
and "your video" pages).

* :func:`real_models`: the catalogue entries whose weights are on this machine (:func:`vidact.models.hub.is_cached`,
  bundled weights included), after registering the shared skeleton weights as ``vidact demo``'s real-video
  section does (:func:`vidact.demo.showcase.ensure_shared_weights`).
* :func:`shared_videos` / :func:`video_path`: the real clips of the shared data folder, by a key the server made
  (a client never sends a path), and uploads by id.
* :func:`predict_with_progress`: :func:`vidact.infer.predict.predict_video` with the job's progress and cancel,
  counted at each batch the model runs.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import ConfigError, DatasetError
from .context import LOAD_LOCK, ExploreContext
from .jobs import Job

__all__ = ["real_models", "shared_videos", "video_path", "predictor", "predict_with_progress", "frame_strip"]

#: Video files the shared clips may be (the type is still checked by decoding).
_VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".gif", ".webm", ".mov")


def real_data() -> Path | None:
    """The shared real-data folder (``$VIDACT_REAL_DATA``, else ``../shared/data``), as ``vidact demo`` finds it;
    ``None`` when there is none."""
    from ..run import default_real_data

    return default_real_data()


def real_models() -> list[dict[str, Any]]:
    """Every published classifier whose weights are here: ``[{"name", "modality", "family"}]``.

    Optical-flow estimators (RAFT) are left out: they are not classifiers.
    """
    from ...models import hub
    from ..showcase import ensure_shared_weights

    data = real_data()
    if data is not None:
        with LOAD_LOCK:  # it reads the checkpoints: one load at a time (see LOAD_LOCK)
            ensure_shared_weights(data)
    out = []
    for w in hub.list_weights():
        if w.card.modality not in ("video", "skeleton") or not hub.is_cached(w):
            continue
        out.append({"name": w.name, "modality": w.card.modality, "family": w.card.family})
    return out


def shared_videos() -> dict[str, Path]:
    """The shared data folder's clips, ``{"<dataset>/<file>": path}`` (empty without the folder)."""
    data = real_data()
    if data is None:
        return {}
    videos = data / "videos"
    return {
        f"{p.parent.name}/{p.name}": p
        for p in sorted(videos.glob("*/*"))
        if p.is_file() and p.suffix.lower() in _VIDEO_SUFFIXES
    }


def video_path(
    ctx: ExploreContext, *, upload: str | None = None, shared: str | None = None
) -> tuple[Path, str]:
    """The file of an upload (by id) or of a shared clip (by its key), and the name to show.

    Raises:
        ConfigError: neither or both given, or an unknown shared clip.
        UploadNotFound: an unknown upload.
    """
    if (upload is None) == (shared is None):
        raise ConfigError("give one video: an uploaded one (upload) or a shared clip (shared)")
    if upload is not None:
        up = ctx.uploads.get(upload)
        return up.path, up.name
    clips = shared_videos()
    if shared not in clips:
        raise DatasetError(
            f"no shared clip {shared!r}; choose from {', '.join(clips) or 'none (no shared data here)'}"
        )
    return clips[shared], shared  # type: ignore[index]


def predictor(ctx: ExploreContext, name: str | os.PathLike) -> Any:
    """A predictor (published weights by name, or a run directory), loaded once per server and shared."""
    from ...infer.predict import load_predictor

    key = f"predictor:{Path(name).resolve() if isinstance(name, Path) else name}"
    return ctx.model(key, lambda: load_predictor(name, progress=False))


class _Counted:
    """A predictor's model that calls ``on_batch()`` at each forward pass (each a batch of windows)."""

    def __init__(self, model: Any, on_batch: Callable[[], None]) -> None:
        self._model = model
        self._on_batch = on_batch

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._on_batch()
        return self._model(*args, **kwargs)

    def forward_features(self, *args: Any, **kwargs: Any) -> Any:
        self._on_batch()
        return self._model.forward_features(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def counting(pred: Any, on_batch: Callable[[], None]) -> Any:
    """A copy of predictor ``pred`` whose model calls ``on_batch()`` at each forward pass (each a batch of
    windows); ``pred`` itself is shared and left unchanged."""
    return dataclasses.replace(pred, model=_Counted(pred.model, on_batch))


def predict_with_progress(
    pred: Any,
    video: str | os.PathLike,
    job: Job | None,
    *,
    window: float,
    stride: float,
    duration: float,
    span: tuple[float, float] = (0.0, 1.0),
    message: str = "scoring",
    batch_size: int = 8,
    **kwargs: Any,
) -> Any:
    """:func:`~vidact.infer.predict.predict_video`, reporting ``job`` progress within ``span`` as batches run (and
    stopping there when the job is cancelled).

    Args:
        pred: a predictor (shared: it is not changed; a counting stand-in wraps its model for this call).
        video: the file.
        job: the job to report to (``None``: no progress).
        window, stride: as for ``predict_video``, in seconds.
        duration: the video's length in seconds (for the expected number of windows).
        span: the part of the job's bar this prediction fills.
        message: the progress line.
        kwargs: more ``predict_video`` arguments (``frame_scores``, ``sampling``).
    """
    from ...infer.predict import predict_video

    if job is None:
        return predict_video(pred, video, window=window, stride=stride, batch_size=batch_size, **kwargs)
    windows = max(1, math.ceil(max(0.0, duration - window) / stride) + 1)
    batches = max(1, math.ceil(windows / batch_size))
    done = [0]
    lo, hi = span

    def on_batch() -> None:
        job.progress(
            lo + (hi - lo) * min(done[0] / batches, 0.99), f"{message}: batch {done[0] + 1} of {batches}"
        )
        done[0] += 1

    job.progress(lo, message)
    counted = counting(pred, on_batch)
    out = predict_video(counted, video, window=window, stride=stride, batch_size=batch_size, **kwargs)
    job.progress(hi, message)
    return out


def frame_strip(video: str | os.PathLike, times: list[float], short_side: int = 72) -> list[dict[str, Any]]:
    """Frames of ``video`` at ``times`` (seconds) as ``[{"t", "image"}]`` (PNG data URLs, ``short_side`` pixels)."""
    from ...io import VideoReader
    from .encode import png_data_url

    with VideoReader(video, short_side=short_side) as reader:
        frames = reader.get_frames_at(times).numpy()  # [F, H, W, 3]
    return [{"t": round(float(t), 3), "image": png_data_url(f)} for t, f in zip(times, frames, strict=True)]
