"""Page 7, "Temporal detection": press Detect on a long video and see the detector's segments, with their scores,
on a timeline against the ground truth, each matched as the evaluation matches it.

Everything comes from vidact at request time:

* **The detector**: a run of the ``detection`` task in the explorer's runs folder (``--runs``: the folder, the
  folders in it, and those in its ``runs/``), known by its ``metrics.json`` (``"task": "detection"``) or, without
  one, by its checkpoint's ``task``; loaded with :func:`vidact.infer.detect.load_detector`.
* **Its features model**: the recognition model whose window features it was trained on. Its run records it by the
  sha256 of its checkpoint (``spec.extractor["model_sha256"]``): the page finds the run of the runs folder whose
  best checkpoint has that sha256 (:func:`vidact.models.weights.sha256_of`, each checkpoint hashed once per
  size and modification time), or the published weights it names, and loads it with
  :func:`vidact.infer.detect.extractor_predictor` (which checks the sha256 again).
* **The videos and their ground truth**: the detection run's recipe names its annotations (``data.annotations``,
  the ``annotations.json`` of ``vidact synth --kind untrimmed``), read with
  :func:`vidact.detect.annotations.read_ground_truth`; the videos are the ``videos/`` folder beside it.
* **Detect** runs :func:`vidact.infer.detect.detect_video` (the function behind ``vidact detect``) as a job: one
  streaming decode, the features window batch by window batch (the progress bar counts them; Cancel stops at the
  next batch), then the detector.
* **The matches** are :func:`vidact.detect.evaluation.match_detections` (the evaluation's own greedy matching) of
  the detections scored at least ``min_score``, at the page's tIoU threshold, and the AP at that threshold is
  :func:`vidact.detect.evaluation.evaluate_detection` on this one video.

Endpoints (under ``/api/detection``):

* ``GET /options`` -> ``{"runs": [{"key", "detector", "classes", "features_model", "problem", "annotations",
  "videos": [{"key", "subset", "duration", "segments"}]}], "message", "commands"}``: without a detection run,
  ``runs`` is empty, ``message`` says so in one line and ``commands`` are those that make one (the header of the
  shipped ``synthetic_actionformer.yaml``).
* ``GET /video?run=KEY&video=KEY`` -> ``{"run", "video", "subset", "duration", "fps", "num_frames", "classes",
  "ground_truth": [{"index", "start", "end", "label"}], "thumbnails": [{"t", "image"}]}``.
* ``POST /detect`` ``{"run", "video"}`` -> ``{"job"}``; the job's result: ``{"run", "video", "duration",
  "segments": [{"index", "start", "end", "label", "score"}] (detect_video's, best first), "feature_steps",
  "step_seconds", "extractor", "detector", "seconds"}``.
* ``GET /match?job=ID&tiou=0.5&min_score=0`` -> ``{"job", "tiou", "min_score", "shown", "matches": [{"detection",
  "rank", "gt", "tiou", "best_gt", "true_positive"}], "true_positives", "false_positives", "ground_truth",
  "found", "ap", "mAP"}``: ``detection`` indexes the job's ``segments``, ``gt`` and ``best_gt`` the video's
  ``ground_truth``; ``ap`` per class with ground truth here, ``mAP`` their mean (null without ground truth).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from ....errors import CheckpointError, ConfigError, DatasetError, VidactError
from ..context import ExploreContext, get_context
from ..jobs import Job, one_line
from . import Page, register_page
from ._common import heavy

__all__ = [
    "router",
    "find_detection_runs",
    "features_run",
    "setup_commands",
    "detect",
    "matches",
    "DETECTION_TASK",
    "RECIPE",
]

router = APIRouter(
    dependencies=[
        Depends(
            heavy(
                "numpy",
                "vidact.data.sampling",
                "vidact.detect.annotations",
                "vidact.detect.evaluation",
                "vidact.engine.checkpoint",
                "vidact.infer.detect",
                "vidact.io",
            )
        )
    ]
)

#: The task whose runs are detectors.
DETECTION_TASK = "detection"
#: The shipped recipe whose header says how to make a detection run.
RECIPE = "synthetic_actionformer.yaml"
#: Frames drawn along the timeline.
THUMBNAILS = 16
#: Their short side, pixels.
THUMBNAIL_SIDE = 48
#: Windows per forward pass of the features model (``detect_video``'s default).
BATCH = 8
#: The job's kind (the match endpoint reads only such jobs).
KIND = "detection"


# ---------------------------------------------------------------- the runs folder
def _candidates(runs: Path | None) -> list[Path]:
    """The folders that may be runs: ``runs``, the folders in it, and those in its ``runs/`` (a ``vidact demo``
    output)."""
    if runs is None or not runs.is_dir():
        return []
    out = [runs]
    for parent in (runs, runs / "runs"):
        if parent.is_dir():
            out += sorted(p for p in parent.iterdir() if p.is_dir() and p not in out)
    return out


def _checkpoint(folder: Path) -> Path | None:
    """A run's best checkpoint (``best.ckpt``, else ``last.ckpt``), or ``None`` when it has none."""
    for name in ("best.ckpt", "last.ckpt"):
        path = folder / "checkpoints" / name
        if path.is_file():
            return path
    return None


def _stamp(path: Path) -> str:
    """A file's identity for the caches: path, size and modification time."""
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _task(ctx: ExploreContext, folder: Path) -> str | None:
    """A run's task: its ``metrics.json``'s, else its checkpoint's; ``None`` when it has neither."""
    try:
        task = json.loads((folder / "metrics.json").read_text(encoding="utf-8")).get("task")
        if task:
            return str(task)
    except (OSError, ValueError, AttributeError):
        pass
    ckpt = _checkpoint(folder)
    if ckpt is None:
        return None
    return _read(ctx, ckpt)["task"]


def _read(ctx: ExploreContext, ckpt: Path) -> dict[str, Any]:
    """A checkpoint's task and recipe, read once per version of the file."""
    from ....engine.checkpoint import load_checkpoint

    def load() -> dict[str, Any]:
        try:
            data, _ = load_checkpoint(ckpt)
        except CheckpointError:
            return {"task": None, "config": {}}
        return {"task": str(data.get("task", "classification")), "config": dict(data.get("config") or {})}

    return ctx.model(f"detection:checkpoint:{_stamp(ckpt)}", load)


def find_detection_runs(ctx: ExploreContext) -> dict[str, Path]:
    """The detection runs of the runs folder, by key (the folder's path relative to the runs folder, ``.`` for the
    folder itself)."""
    out = {}
    for folder in _candidates(ctx.runs):
        if _checkpoint(folder) is not None and _task(ctx, folder) == DETECTION_TASK:
            out[folder.relative_to(ctx.runs).as_posix() if ctx.runs else folder.name] = folder
    return out


def _sha256(ctx: ExploreContext, path: Path) -> str:
    from ....models.weights import sha256_of

    return ctx.model(f"detection:sha256:{_stamp(path)}", lambda: sha256_of(path))


def features_run(ctx: ExploreContext, sha256: str) -> Path | None:
    """The run of the runs folder whose best checkpoint has this sha256 (the features model a detector records),
    or ``None``."""
    for folder in _candidates(ctx.runs):
        ckpt = _checkpoint(folder)
        if ckpt is not None and _sha256(ctx, ckpt) == sha256:
            return folder
    return None


def setup_commands() -> list[str]:
    """The commands that make a detection run and open it here: those in the header of the shipped
    :data:`RECIPE` (continued lines joined), then ``vidact explore --runs runs``."""
    from ....engine.config import RECIPES_DIR

    commands: list[str] = []
    continued = False
    for line in (RECIPES_DIR / RECIPE).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if continued:
            commands[-1] = f"{commands[-1]} {text.rstrip(chr(92)).strip()}"
        elif text.startswith("vidact "):
            commands.append(text.rstrip(chr(92)).strip())
        else:
            continue
        continued = text.endswith("\\")
    return [*commands, "vidact explore --runs runs"]


# ---------------------------------------------------------------- one run: detector, features model, data
def _detector(ctx: ExploreContext, run: Path) -> Any:
    from ....infer.detect import load_detector

    ckpt = _checkpoint(run)
    if ckpt is None:
        raise CheckpointError(f"{run}: no checkpoints/best.ckpt or last.ckpt")
    return ctx.model(f"detection:detector:{_stamp(ckpt)}", lambda: load_detector(run))


def _features_source(ctx: ExploreContext, detector: Any) -> tuple[str | None, str | None]:
    """Where the detector's features model is: ``(run folder or published weights name, None)``, or ``(None,
    one-line problem)``."""
    from ....engine.refs import resolve_model_ref

    params = detector.spec.extractor
    if params is None:
        return None, f"{detector.name} was trained on features made elsewhere (no vidact extractor recorded)"
    recorded = str(params.get("model", "") or "a vidact model")
    expected = params.get("model_sha256")
    if expected:
        found = features_run(ctx, str(expected))
        if found is not None:
            return str(found), None
    try:
        if resolve_model_ref(recorded).kind == "weights":
            return recorded, None
    except (ConfigError, CheckpointError):
        pass
    sha = f" (sha256 {str(expected)[:12]}...)" if expected else ""
    return None, (
        f"its features model, a {recorded} checkpoint{sha}, is not in {ctx.runs}: put the run it was trained on "
        "there (a retrained one gives other features)"
    )


def _resolve_data(ctx: ExploreContext, run: Path, annotations: str) -> Path | None:
    """The recipe's ``data.annotations``: as written when absolute, else the first that exists of the path from
    the working folder, the runs folder's parent, the runs folder and the run's parent."""
    path = Path(os.path.expanduser(annotations))
    if path.is_absolute():
        return path if path.is_file() else None
    bases = [Path.cwd(), *((ctx.runs.parent, ctx.runs) if ctx.runs else ()), run.parent]
    for base in bases:
        if (base / path).is_file():
            return base / path
    return None


def _ground_truth(ctx: ExploreContext, path: Path) -> Any:
    from ....detect.annotations import read_ground_truth

    return ctx.model(f"detection:gt:{_stamp(path)}", lambda: read_ground_truth(path))


_VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".gif")


def _videos(ctx: ExploreContext, run: Path) -> tuple[Path | None, Any, dict[str, Path], str | None]:
    """The run's ground truth and the videos it annotates: ``(annotations, ground truth, {video id: file},
    problem)``."""
    config = _read(ctx, _checkpoint(run))["config"]  # type: ignore[arg-type]
    written = str(((config.get("data") or {}).get("annotations")) or "")
    if not written:
        return None, None, {}, f"{run.name}'s recipe names no data.annotations"
    path = _resolve_data(ctx, run, written)
    if path is None:
        return None, None, {}, f"{run.name}'s annotations {written} are not here (relative to {Path.cwd()})"
    gt = _ground_truth(ctx, path)
    folder = path.parent / "videos"
    files = {}
    if folder.is_dir():
        by_stem = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in _VIDEO_SUFFIXES}
        for video in gt.videos:
            for stem in (video, video.removeprefix("v_"), f"v_{video}"):
                if stem in by_stem:
                    files[video] = by_stem[stem]
                    break
    if not files:
        return path, gt, {}, f"no video of {path.name} in {folder}"
    return path, gt, files, None


def _run_info(ctx: ExploreContext, key: str, run: Path) -> dict[str, Any]:
    detector = _detector(ctx, run)
    source, problem = _features_source(ctx, detector)
    annotations, gt, files, data_problem = _videos(ctx, run)
    videos = []
    if gt is not None:
        order = sorted(
            files,
            key=lambda v: (
                str(gt.videos[v].subset or "").lower().startswith("train"),
                list(gt.videos).index(v),
            ),
        )
        for video in order:
            a = gt.videos[video]
            videos.append({"key": video, "subset": a.subset, "duration": a.duration, "segments": len(a)})
    return {
        "key": key,
        "detector": detector.name,
        "classes": list(detector.classes),
        "features_model": None if source is None else Path(source).name,
        "problem": problem or data_problem,
        "annotations": None if annotations is None else str(annotations),
        "videos": videos,
    }


def _run(ctx: ExploreContext, key: str) -> Path:
    runs = find_detection_runs(ctx)
    if key not in runs:
        raise ConfigError(f"no detection run {key!r} here; choose from {', '.join(runs) or 'none'}")
    return runs[key]


def _video(ctx: ExploreContext, run: Path, video: str) -> tuple[Path, Any]:
    """A video of the run's data: its file and its annotation."""
    _, gt, files, problem = _videos(ctx, run)
    if problem:
        raise DatasetError(problem)
    if video not in files:
        raise DatasetError(
            f"no video {video[:80]!r} in {run.name}'s data; choose from {', '.join(list(files)[:8])}"
        )
    return files[video], gt.videos[video]


# ---------------------------------------------------------------- endpoints
@router.get("/options")
def options(ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
    """The detection runs here and their videos, or why there are none and how to make one."""
    runs = find_detection_runs(ctx)
    if not runs:
        where = f"in {ctx.runs}" if ctx.runs is not None else "(the explorer was started without --runs)"
        return {
            "runs": [],
            "message": f"no detection run {where}: make one with the commands below, then reload this page",
            "commands": setup_commands(),
        }
    listed = []
    for key, run in runs.items():
        try:
            listed.append(_run_info(ctx, key, run))
        except VidactError as e:  # one unreadable run does not hide the others
            listed.append(
                {
                    "key": key,
                    "detector": None,
                    "classes": [],
                    "features_model": None,
                    "problem": one_line(e),
                    "annotations": None,
                    "videos": [],
                }  # fmt: skip
            )
    return {"runs": listed, "message": None, "commands": []}


@router.get("/video")
def video(
    run: Annotated[str, Query(max_length=200)],
    video: Annotated[str, Query(max_length=200)],
    ctx: ExploreContext = Depends(get_context),
) -> dict[str, Any]:
    """A video's length, ground truth and frames along its timeline."""
    from ....io import probe
    from ..predicting import frame_strip

    folder = _run(ctx, run)
    path, annotation = _video(ctx, folder, video)
    meta = probe(path)
    times = [meta.duration * (i + 0.5) / THUMBNAILS for i in range(THUMBNAILS)]
    return {
        "run": run,
        "video": video,
        "subset": annotation.subset,
        "duration": float(meta.duration),
        "fps": float(meta.fps),
        "num_frames": int(meta.num_frames),
        "classes": list(_detector(ctx, folder).classes),
        "ground_truth": [
            {"index": i, "start": float(s), "end": float(e), "label": label}
            for i, ((s, e), label) in enumerate(zip(annotation.segments, annotation.labels, strict=True))
        ],
        "thumbnails": frame_strip(path, times, short_side=THUMBNAIL_SIDE),
    }


class DetectRequest(BaseModel):
    """A video of a detection run's data."""

    run: str = Field(max_length=200)
    video: str = Field(max_length=200)


@router.post("/detect")
def start(req: DetectRequest, ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
    """Start detecting (a job whose result is :func:`detect`'s)."""
    folder = _run(ctx, req.run)  # bad requests fail here, at once, not in the job
    _video(ctx, folder, req.video)
    _, problem = _features_source(ctx, _detector(ctx, folder))
    if problem:
        raise ConfigError(problem)
    return {"job": ctx.jobs.submit(KIND, lambda job: detect(ctx, req.run, req.video, job)).id}


def _window_count(spec: Any, path: Path) -> int:
    """How many windows the features model sees in the video (for the progress bar)."""
    from ....data.sampling import frame_window_bounds, window_bounds
    from ....io import VideoReader

    params = spec.extractor or {}
    with VideoReader(path) as reader:
        times = reader.timestamps()
    if params.get("unit", "seconds") == "frames":
        bounds = frame_window_bounds(times, int(params.get("window", 16)), int(params.get("stride", 4)))
    else:
        bounds = window_bounds(times, float(params.get("window", 2.0)), float(params.get("stride", 1.0)))
    return len(bounds)


def detect(ctx: ExploreContext, run: str, video: str, job: Job | None = None) -> dict[str, Any]:
    """:func:`vidact.infer.detect.detect_video` on a video of the run's data, reporting to ``job`` (the features
    model's batches fill the bar; a cancel stops at the next one)."""
    from ....infer.detect import detect_video, extractor_predictor
    from ..predicting import counting

    def report(fraction: float, message: str) -> None:
        if job is not None:
            job.progress(fraction, message)

    folder = _run(ctx, run)
    path, _ = _video(ctx, folder, video)
    report(0.01, "loading the detector")
    detector = _detector(ctx, folder)
    source, problem = _features_source(ctx, detector)
    if problem:
        raise ConfigError(problem)
    report(0.03, "loading its features model")
    predictor = ctx.model(
        f"detection:extractor:{source}:{detector.spec.extractor.get('model_sha256')}",
        lambda: extractor_predictor(detector, source),
    )
    batches = max(1, math.ceil(_window_count(detector.spec, path) / BATCH))
    done = [0]

    def on_batch() -> None:
        report(0.05 + 0.9 * min(done[0] / batches, 0.99), f"features: batch {done[0] + 1} of {batches}")
        done[0] += 1

    report(0.05, "features")
    counted = counting(predictor, on_batch)
    found = detect_video(detector, path, predictor=counted, batch_size=BATCH)
    report(0.98, "detected")
    out = found.to_json()
    out["segments"] = [{"index": i, **s} for i, s in enumerate(out["segments"])]
    out.update(run=run, video=video, detector=detector.name)
    return out


def matches(
    ctx: ExploreContext, result: dict[str, Any], tiou: float, min_score: float = 0.0
) -> dict[str, Any]:
    """The matches of a detection job's result (see the module docstring)."""
    import dataclasses as dc

    from ....detect.annotations import Detection
    from ....detect.evaluation import evaluate_detection, match_detections

    folder = _run(ctx, result["run"])
    _, annotation = _video(ctx, folder, result["video"])
    shown = [s for s in result["segments"] if s["score"] >= min_score]
    detections = [Detection(s["start"], s["end"], s["label"], s["score"]) for s in shown]
    found = match_detections(annotation.segments, annotation.labels, detections, tiou)
    rows = []
    for m in found:
        row = m.to_json()
        row["detection"] = shown[m.detection]["index"]
        rows.append(row)
    tp = sum(m.true_positive for m in found)
    ap, mean_ap = None, None
    if len(annotation):
        _, gt, _, _ = _videos(ctx, folder)
        one = dc.replace(gt, videos={result["video"]: annotation}, ambiguous={})
        scored = evaluate_detection(one, {result["video"]: detections}, tious=[tiou], unknown_labels="ignore")
        ap = {name: float(v[0]) for name, v in scored.ap.items()}
        mean_ap = float(scored.mAP[0])
    return {
        "tiou": tiou,
        "min_score": min_score,
        "shown": len(shown),
        "matches": rows,
        "true_positives": tp,
        "false_positives": len(found) - tp,
        "ground_truth": len(annotation),
        "found": len({m.gt for m in found if m.gt is not None}),
        "ap": ap,
        "mAP": mean_ap,
    }


@router.get("/match")
def match(
    job: Annotated[str, Query(max_length=100)],
    tiou: Annotated[float, Query(gt=0.0, le=1.0)] = 0.5,
    min_score: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
    ctx: ExploreContext = Depends(get_context),
) -> dict[str, Any]:
    """The evaluation's matching of a finished detection job's segments scored at least ``min_score``."""
    state = ctx.jobs.get(job)
    if state.kind != KIND:
        raise ConfigError(f"job {job[:40]!r} is not a detection")
    data = state.to_json()
    if data["state"] != "done":
        raise ConfigError(f"the detection is {data['state']}: no segments to match")
    return {"job": job, **matches(ctx, data["result"], tiou, min_score)}


register_page(
    Page(
        slug="detection",
        title="Temporal detection",
        summary="A detector finds actions in a long video: its scored segments on a timeline against the ground "
        "truth, each matched as the evaluation matches it.",
        order=7,
        router=router,
    )
)
