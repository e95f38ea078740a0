"""Page 10, "Your video": what ``vidact info`` says about a video, how the default model samples it, and what every
model with real weights here makes of it, as timelines.

The video is an upload (``POST /api/uploads``; checked by content, kept in a private folder) or a clip of the
shared data folder. The models are the catalogue entries whose weights are on this machine
(:func:`vidact.models.hub.is_cached`; the bundled ImageNet EfficientNet-Lite0 at least, and the shared skeleton
models once registered from ``../shared/data`` as ``vidact demo``'s real-video section does). Each goes through
:func:`vidact.infer.predict.predict_video` as ``vidact predict`` runs it (2 s windows, 1 s apart); skeleton
models extract the pose with MediaPipe first. A model that cannot run here (MediaPipe missing, a video too short
for its clip) is listed with its one-line reason; the others still answer.

Endpoints (under ``/api/your_video``):

* ``GET /models`` -> ``{"models": [{"name", "modality", "family"}]}``
* ``POST /analyse`` ``{"upload": id}`` or ``{"shared": key}``, optional ``"models": [names]`` -> ``{"job"}``; the
  job's result: ``{"info"`` (``io.probe(path).to_json(with_index=False)``, its path the name shown), ``"sampling"``
  (the default model's windows and the frames its clips take), ``"predictions": [{"model", "modality", "top",
  "timeline", "note"?, "seconds"}]``, ``"failures": [{"model", "error"}]}``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ....errors import ConfigError, VidactError
from ..context import ExploreContext, get_context
from ..jobs import Job, one_line
from . import Page, register_page
from ._common import heavy

__all__ = ["router", "WINDOW", "STRIDE", "SHOWN_WINDOWS"]

router = APIRouter(
    dependencies=[
        Depends(
            heavy(
                "vidact.demo.run",
                "vidact.io",
                "vidact.infer.predict",
                "vidact.models.hub",
                "vidact.demo.showcase",
            )
        )
    ]
)

#: ``vidact predict``'s windows: 2 s long, 1 s apart.
WINDOW, STRIDE = 2.0, 1.0
#: Windows whose sampled frames the page draws (the first ones; a 10-minute video has 600).
SHOWN_WINDOWS = 40


@router.get("/models")
def models() -> dict[str, Any]:
    """The models with real weights here."""
    from ..predicting import real_models

    return {"models": real_models()}


class AnalyseRequest(BaseModel):
    """One video (an upload or a shared clip) and, optionally, which models."""

    upload: str | None = Field(None, max_length=100)
    shared: str | None = Field(None, max_length=200)
    models: list[str] | None = Field(None, max_length=64)


@router.post("/analyse")
def analyse(req: AnalyseRequest, ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
    """Start the analysis (a job with progress)."""
    from ..predicting import real_models, video_path

    video_path(ctx, upload=req.upload, shared=req.shared)  # a bad video id fails now, not in the job
    here = [m["name"] for m in real_models()]
    chosen = here if req.models is None else req.models
    unknown = [m for m in chosen if m not in here]
    if unknown:
        raise ConfigError(f"no weights here for {', '.join(unknown)}; models here: {', '.join(here)}")
    if not chosen:
        raise ConfigError("no model to run: choose at least one")
    return {"job": ctx.jobs.submit("analyse", lambda job: run_analysis(ctx, req, chosen, job)).id}


def _info(ctx: ExploreContext, req: AnalyseRequest, path: Any, name: str) -> dict[str, Any]:
    if req.upload is not None:
        return dict(ctx.uploads.get(req.upload).info)
    from ....io import probe

    info = probe(path).to_json(with_index=False)
    info["path"] = name
    return info


def sampling(pred: Any, path: Any, *, window: float = WINDOW, stride: float = STRIDE) -> dict[str, Any]:
    """How ``pred`` samples the video: its windows and, for the first :data:`SHOWN_WINDOWS`, the times of the frames
    its clip takes (``vidact.infer``'s own window bounds and clip sampling)."""
    from ....data.sampling import window_clip
    from ....infer.base import modality_of, unit_bounds
    from ....io import VideoReader

    spec = pred.spec
    how = modality_of(pred).default_sampling(spec) or "stride"
    with VideoReader(path) as reader:
        times = reader.timestamps()
    bounds = unit_bounds(times, window, stride, "seconds")
    shown = []
    for start, end in bounds[:SHOWN_WINDOWS]:
        clip = window_clip(times, float(start), float(end), spec, how)
        shown.append(
            {"start": float(start), "end": float(end), "frames": [round(float(times[i]), 4) for i in clip]}
        )
    return {
        "model": pred.name,
        "window": window,
        "stride": stride,
        "sampling": how,
        "clip_frames": int(spec.frames),
        "frame_stride": int(getattr(spec, "frame_stride", 1)),
        "num_windows": int(len(bounds)),
        "windows": shown,
    }


def run_analysis(ctx: ExploreContext, req: AnalyseRequest, names: list[str], job: Job) -> dict[str, Any]:
    """The job: info, the default model's sampling, then each model's prediction (see the module docstring)."""
    from ..predicting import predict_with_progress, predictor, video_path

    path, name = video_path(ctx, upload=req.upload, shared=req.shared)
    job.progress(0.0, "reading the video")
    info = _info(ctx, req, path, name)
    duration = float(info["duration"])
    predictions: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    sample = None
    share = 1.0 / len(names)
    for k, model in enumerate(names):
        lo, hi = k * share, (k + 1) * share
        job.progress(lo, f"{model}: loading ({k + 1} of {len(names)})")
        started = time.perf_counter()
        try:
            pred = predictor(ctx, model)
            if sample is None and pred.spec.modality == "video":
                sample = sampling(pred, path)
            if pred.spec.modality == "video":
                prediction = predict_with_progress(
                    pred,
                    path,
                    job,
                    window=WINDOW,
                    stride=STRIDE,
                    duration=duration,
                    span=(lo, hi),
                    message=f"{model} ({k + 1} of {len(names)})",
                )
            else:
                from ....infer.predict import predict_video

                job.progress(lo, f"{model}: finding the pose with MediaPipe ({k + 1} of {len(names)})")
                prediction = predict_video(pred, path, window=WINDOW, stride=STRIDE)
        except VidactError as e:
            failures.append({"model": model, "error": one_line(e).replace(str(path), name)})
            continue
        job.check()
        summary = prediction.to_json(5)
        summary["video"] = name
        if "note" in summary:  # the server's path of the file is not the user's business
            summary["note"] = summary["note"].replace(str(path), name)
        summary.update(modality=pred.spec.modality, seconds=round(time.perf_counter() - started, 2))
        predictions.append(summary)
    job.progress(1.0, "done")
    return {"info": info, "sampling": sample, "predictions": predictions, "failures": failures}


register_page(
    Page(
        slug="your_video",
        title="Your video",
        summary="Drop in a video: what it is, how a model samples it, and what every model with real weights here "
        "makes of it.",
        order=10,
        router=router,
    )
)
