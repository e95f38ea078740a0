"""Page 2, "Flicker": frame by frame, what a per-frame model believes about two actions, next to a clip-level
answer.

A per-frame model scores every frame on its own (:func:`vidact.infer.predict.predict_video` with
``frame_scores=True``); :func:`vidact.demo.flicker.flicker` picks the two classes out of that prediction, the same
function the demo report's flicker chart is drawn from. Sources: a synthetic clip of a time-reversed pair (as the
report's), a real clip of the shared data folder, or an uploaded video. Models: the demo's per-frame model (a
``--runs`` folder's, or the one the "Same middle frame" page trained; with it, the demo's temporal model gives its
one answer for a synthetic clip) and every published per-frame model with its weights here (the bundled
ImageNet EfficientNet-Lite0 at least).

Each window of the per-frame model is as long as its clip (so every frame is scored once) on a short video; on a
long one the windows grow so that about :data:`MAX_SCORED` frames are scored, spread evenly.

Endpoints (under ``/api/flicker``):

* ``GET /options`` -> ``{"models": [{"key", "label", "kind"}], "pairs", "shared", "synthetic_models"}``
* ``GET /classes?model=KEY`` -> ``{"model", "classes"}``
* ``POST /run`` ``{"model", "source": "synthetic"|"shared"|"upload", "pair", "index", "reverse", "shared", "upload",
  "classes"}`` -> ``{"job"}``; the job's result: ``{"video": {"name", "duration", "fps", "num_frames"}, "model",
  "classes", "flicker" (:meth:`Flicker.to_json`), "temporal" (the same, or null), "window", "scored", "strip"}``
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from ....errors import ConfigError
from ..context import ExploreContext, get_context
from ..jobs import Job
from . import Page, register_page
from ._common import heavy

__all__ = ["router", "MAX_SCORED"]

router = APIRouter(
    dependencies=[
        Depends(heavy("vidact.demo.run", "vidact.infer.predict", "vidact.data.synth", "vidact.demo.flicker"))
    ]
)

#: About how many frames of a long video the per-frame model scores (the windows grow to keep to it).
MAX_SCORED = 480
_DEMO = "demo"


def _models(ctx: ExploreContext) -> list[dict[str, Any]]:
    from ..predicting import real_models
    from .middle_frame import find_runs

    out = []
    if find_runs(ctx) is not None:
        out.append({"key": _DEMO, "label": "the demo's per-frame model (synthetic classes)", "kind": "demo"})
    for m in real_models():
        if m["family"] == "per_frame":
            out.append({"key": m["name"], "label": m["name"], "kind": "published"})
    return out


def _predictor(ctx: ExploreContext, key: str) -> Any:
    from ..predicting import predictor
    from .middle_frame import find_runs

    if key == _DEMO:
        found = find_runs(ctx)
        if found is None:
            raise ConfigError("the demo's models are not here: train them on the 'Same middle frame' page")
        return predictor(ctx, found[0]["per_frame"])
    known = [m["key"] for m in _models(ctx)]
    if key not in known:
        raise ConfigError(f"no per-frame model {key!r} here; choose from {', '.join(known)}")
    return predictor(ctx, key)


@router.get("/options")
def options(ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
    """The models, the synthetic pairs and the shared clips this page can use."""
    from ....data.synth import TEMPORAL_PAIRS
    from ..predicting import shared_videos
    from .middle_frame import find_runs, plan

    models = _models(ctx)
    found = find_runs(ctx)
    pairs = list(plan().pairs) + [p for p in TEMPORAL_PAIRS if p not in plan().pairs]
    if found is not None:
        from .middle_frame import _pairs_known, _predictors

        pairs = _pairs_known(_predictors(ctx, found[0]))
    return {"models": models, "pairs": pairs, "shared": list(shared_videos()), "demo": found is not None}


@router.get("/classes")
def classes(
    model: str = Query(..., max_length=120), ctx: ExploreContext = Depends(get_context)
) -> dict[str, Any]:
    """A model's class names."""
    return {"model": model, "classes": list(_predictor(ctx, model).classes)}


class RunRequest(BaseModel):
    """What to score: a model and one video."""

    model: str = Field(max_length=120)
    source: Literal["synthetic", "shared", "upload"] = "synthetic"
    pair: str = Field("raise", max_length=40)
    index: int = Field(0, ge=0, le=999)
    reverse: bool = False
    shared: str | None = Field(None, max_length=200)
    upload: str | None = Field(None, max_length=100)
    classes: list[str] | None = Field(None, min_length=1, max_length=4)


@router.post("/run")
def run(req: RunRequest, ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
    """Start scoring (a job): its result is the flicker of the two classes."""
    from ..predicting import video_path

    pred = _predictor(ctx, req.model)  # bad requests fail here, at once, not in the job
    if req.source == "upload":
        video_path(ctx, upload=req.upload or "")
    if req.source == "shared":
        video_path(ctx, shared=req.shared or "")
    if req.source == "synthetic" and req.model == _DEMO:
        from .middle_frame import _pairs_known, _predictors, find_runs

        known = _pairs_known(_predictors(ctx, find_runs(ctx)[0]))  # type: ignore[index]
        if req.pair not in known:
            raise ConfigError(
                f"the demo's models were not trained on the pair {req.pair!r}; choose from {', '.join(known)}"
            )
    unknown = [c for c in req.classes or () if c not in pred.classes]
    if unknown:
        raise ConfigError(f"{pred.name} has no class {', '.join(map(repr, unknown))}")
    return {"job": ctx.jobs.submit("flicker", lambda job: score(ctx, req, pred, job)).id}


def score(ctx: ExploreContext, req: RunRequest, pred: Any, job: Job | None = None) -> dict[str, Any]:
    """The flicker of ``req`` (see the module docstring)."""
    from ....io import probe
    from ...flicker import flicker
    from ..predicting import frame_strip, predict_with_progress, video_path

    with tempfile.TemporaryDirectory(prefix="vidact-flicker-") as tmp:
        temporal = None
        if req.source == "synthetic":
            path, name, default_classes, temporal = _synthetic(ctx, req, Path(tmp))
        else:
            path, name = video_path(
                ctx,
                upload=req.upload if req.source == "upload" else None,
                shared=req.shared if req.source == "shared" else None,
            )
            default_classes = None
        meta = probe(path)
        frames_per_window = pred.spec.frames
        window = min(meta.duration, frames_per_window / meta.fps)
        if meta.num_frames > MAX_SCORED:
            window = max(window, meta.duration * frames_per_window / MAX_SCORED)
        prediction = predict_with_progress(
            pred,
            path,
            job,
            window=window,
            stride=window,
            duration=meta.duration,
            span=(0.0, 0.85 if temporal else 0.95),
            message="the per-frame model, frame by frame",
            frame_scores=True,
            sampling="uniform",
        )
        chosen = req.classes or default_classes or [label for label, _ in prediction.top(2)]
        numbers = flicker(prediction, chosen)
        temporal_json = None
        if temporal is not None:
            tm = predict_with_progress(
                temporal,
                path,
                job,
                window=meta.duration,
                stride=meta.duration,
                duration=meta.duration,
                span=(0.85, 0.95),
                message="the temporal model, the whole clip",
            )
            temporal_json = flicker(tm, chosen).to_json()
        times = [meta.duration * (i + 0.5) / 8 for i in range(8)]
        strip = frame_strip(path, times)
    out = numbers.to_json()
    return {
        "video": {
            "name": name,
            "duration": round(meta.duration, 3),
            "fps": round(meta.fps, 3),
            "num_frames": meta.num_frames,
        },
        "model": pred.name,
        "classes": list(numbers.classes),
        "flicker": out,
        "temporal": temporal_json,
        "window": window,
        "scored": len(numbers.frame_times),
        "strip": strip,
    }


def _synthetic(ctx: ExploreContext, req: RunRequest, tmp: Path) -> tuple[Path, str, list[str] | None, Any]:
    """A synthetic clip of ``req.pair`` (its reversal with ``req.reverse``) written to ``tmp``, as the report's:
    the path, its name, the pair's classes when the model knows them, and the demo's temporal model (or None)."""
    from ....data.synth import TEMPORAL_PAIRS, clip_rng, render_clip
    from ....io.writer import write_video
    from ..predicting import predictor
    from .middle_frame import _clip_params, find_runs

    if req.pair not in TEMPORAL_PAIRS:
        raise ConfigError(f"unknown pair {req.pair!r}; choose from {', '.join(TEMPORAL_PAIRS)}")
    found = find_runs(ctx)
    params = _clip_params(found[0] if found else None)
    forward, backward = TEMPORAL_PAIRS[req.pair]
    name = backward if req.reverse else forward
    frames = render_clip(
        "temporal",
        name,
        clip_rng(params["seed"], "test", forward, req.index),
        size=params["size"],
        frames=params["frames"],
    )
    path = tmp / f"{name}.mp4"
    write_video(path, frames, params["fps"])
    temporal = predictor(ctx, found[0]["temporal"]) if (found is not None and req.model == _DEMO) else None
    return (
        path,
        f"synthetic {name.replace('_', ' ')} #{req.index}",
        [forward, backward] if req.model == _DEMO else None,
        temporal,
    )


register_page(
    Page(
        slug="flicker",
        title="Flicker",
        summary="Frame by frame, a per-frame model's belief in two actions swings with whatever pose is on screen; "
        "a temporal model answers once.",
        order=2,
        router=router,
    )
)
