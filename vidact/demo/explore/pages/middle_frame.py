"""Page 1, "Same middle frame": a clip and the same clip played backwards share their middle frame; a per-frame
model cannot tell them apart, a temporal model can.

The clips are the demo's (:func:`vidact.data.synth.render_clip` with :func:`~vidact.data.synth.clip_rng`, a pair
of :data:`~vidact.data.synth.TEMPORAL_PAIRS`), rendered with an odd number of frames so that the middle frame is
one frame, the same in both. Both go through the demo's two models with :func:`vidact.demo.flicker.flicker_pair`
(the numbers the report's flicker chart shows): the per-frame model (a 2D CNN on each frame, TSN) and the temporal
model (Simple3D). The models are, in this order:

* a ``vidact demo --out`` folder given as ``--runs``: ``runs/temporal-per_frame`` and ``runs/temporal-temporal``;
* models this page trained earlier, in ``<cache>/middle_frame/runs/`` (same layout);
* else ``POST /api/middle_frame/train`` trains them, in the background: ``vidact synth`` writes the demo's
  temporal-pairs data set and ``vidact train`` trains the demo's two recipes (:data:`vidact.demo.run.MODEL_RECIPES`
  on the ``quick`` preset's sizes, the ``raise`` pair first so that the clips are stick figures), each in a
  child process; progress is read from the data folder (videos written) and each run's ``metrics.csv`` (epochs
  done). Cancel stops the child; a later Train resumes the run from its ``checkpoints/last.ckpt``.

Endpoints (under ``/api/middle_frame``):

* ``GET /status`` -> ``{"ready", "source": "runs"|"trained"|null, "pairs", "training": job id|null,
  "models": {"per_frame"|"temporal": {"name", "classes"}}|null, "plan": {"pairs", "epochs", "videos"}}``
* ``POST /train`` -> ``{"job": id}`` (the running training job if there is one); the job's result is the status.
* ``GET /clips?pair=raise&index=0`` -> ``{"pair", "classes", "fps", "frames", "middle", "middle_identical",
  "clips": [{"name", "frames": [PNG data URLs]}, ...], "answers": {...}|null}``; ``answers`` (when the models
  are ready): per clip, each model's :meth:`~vidact.demo.flicker.Flicker.to_json` and the per-frame model's
  probabilities at the middle frame.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query

from ....errors import ConfigError, VidactError
from ..context import ExploreContext, get_context
from ..jobs import Job, JobCancelled
from . import Page, register_page
from ._common import heavy

if TYPE_CHECKING:
    from ...run import DemoPreset

__all__ = ["router", "plan", "SEED", "find_runs", "train_models"]

#: Imported under the pages' one import lock before an endpoint runs (see :func:`._common.heavy`).
router = APIRouter(
    dependencies=[
        Depends(heavy("vidact.demo.run", "vidact.infer.predict", "vidact.data.synth", "vidact.demo.flicker"))
    ]
)

MODELS = ("per_frame", "temporal")
SEED = 0
#: A cancelled training loses at most this many optimizer steps (its ``last.ckpt`` is this recent).
CHECKPOINT_EVERY_STEPS = 20


@lru_cache(maxsize=1)
def plan() -> DemoPreset:
    """What this page trains when no ``--runs`` folder has the models: the demo's ``quick`` preset (the reduced
    size its tests run) with the stick-figure pair ``raise`` in place of ``approach``."""
    from ...run import PRESETS

    return replace(PRESETS["quick"], pairs=("raise", "lift", "slide"))


class ModelsNotReady(VidactError):
    """The page's models are not there yet (train them first): HTTP 409."""

    http_status = 409


class NotTheDemosModels(VidactError):
    """A runs folder whose models are not the demo's temporal-pairs classifiers."""


# ---------------------------------------------------------------- where the models are


def _complete(run: Path) -> bool:
    """A finished run: ``metrics.json`` (written last by the training loop) and a checkpoint."""
    ckpts = run / "checkpoints"
    return (run / "metrics.json").is_file() and (
        (ckpts / "best.ckpt").is_file() or (ckpts / "last.ckpt").is_file()
    )


def _home(ctx: ExploreContext) -> Path:
    """Where this page trains: ``<cache>/middle_frame`` (``data/temporal``, ``runs/``, ``recipes/``)."""
    return ctx.cache / "middle_frame"


def find_runs(ctx: ExploreContext) -> tuple[dict[str, Path], str] | None:
    """The two run directories and where they come from (``"runs"``: ``--runs``; ``"trained"``: this page
    trained them), or ``None`` when neither place has both finished runs."""
    places = []
    if ctx.runs is not None:
        places.append((ctx.runs / "runs", "runs"))
    places.append((_home(ctx) / "runs", "trained"))
    for root, source in places:
        runs = {m: root / f"temporal-{m}" for m in MODELS}
        if all(_complete(r) for r in runs.values()):
            return runs, source
    return None


def _predictors(ctx: ExploreContext, runs: dict[str, Path]) -> dict[str, Any]:
    from ....infer.predict import load_predictor

    out = {}
    for m, run in runs.items():
        out[m] = ctx.model(
            f"middle_frame:{run.resolve()}", lambda run=run: load_predictor(run, progress=False)
        )
    return out


def _pairs_known(predictors: dict[str, Any]) -> list[str]:
    from ....data.synth import TEMPORAL_PAIRS

    known = [
        p
        for p, names in TEMPORAL_PAIRS.items()
        if all(n in pr.classes for pr in predictors.values() for n in names)
    ]
    return sorted(known, key=lambda p: (p != "raise", p != "gesture", list(TEMPORAL_PAIRS).index(p)))


def _clip_params(runs: dict[str, Path] | None) -> dict[str, Any]:
    """The clips' size, frames, fps and seed: the models' training data's (its ``manifest.json``, found through the
    temporal run's ``config.yaml``), else the plan's."""
    p = plan()
    params = {"size": p.size, "frames": p.frames, "fps": p.fps, "seed": SEED}
    if runs is None:
        return params
    try:
        import yaml

        config = yaml.safe_load((runs["temporal"] / "config.yaml").read_text())
        manifest = json.loads((Path(config["data"]["root"]) / "manifest.json").read_text())["params"]
        size = manifest["size"]
        params.update(
            size=int(size[0] if isinstance(size, list) else size),
            frames=int(manifest["frames"]),
            fps=float(manifest["fps"]),
            seed=int(manifest["seed"]),
        )
    except (OSError, KeyError, TypeError, ValueError, AttributeError):
        pass  # a runs folder without its data: the demo's own sizes
    return params


# ---------------------------------------------------------------- training (child processes)

_training_lock = threading.Lock()
_training: dict[str, Job] = {}  # cache folder -> the job training into it


def _child(args: list[str], log: Path, job: Job, poll) -> None:
    """Run ``python -m vidact ARGS`` (its output to ``log``), calling ``poll()`` every half second; stop it when
    the job is cancelled.

    Raises:
        JobCancelled: the job was cancelled (the child is stopped).
        ConfigError: the child failed (its last ``error:`` line, or its exit status).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vidact", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: stopping it stops its DataLoader workers too
        )
        try:
            while proc.poll() is None:
                if job.cancelled:
                    _stop(proc)
                    raise JobCancelled()
                poll()
                time.sleep(0.5)
        except BaseException:
            _stop(proc)
            raise
    poll()
    if proc.returncode != 0:
        raise ConfigError(f"vidact {args[0]} failed: {_last_error(log) or f'exit status {proc.returncode}'}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except (ProcessLookupError, PermissionError):
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _last_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.startswith("error: "):
            return line[len("error: ") :].strip()
    return lines[-1].strip()[:200] if lines else ""


def _epochs_done(run: Path) -> int:
    try:
        with open(run / "metrics.csv", newline="") as f:
            return sum(1 for _ in csv.DictReader(f))
    except OSError:
        return 0


def train_models(
    ctx: ExploreContext, job: Job, preset: DemoPreset | None = None, seed: int = SEED
) -> dict[str, Any]:
    """Synthesize the demo's temporal-pairs data and train its two models into ``<cache>/middle_frame``, each
    step a ``python -m vidact`` child process; progress from the files they write. A step already done is
    skipped; a run stopped halfway resumes from its ``last.ckpt``.

    Returns:
        the page's status (``/status``).
    """
    import yaml

    from ...run import _recipe

    preset = preset or plan()
    home = _home(ctx)
    data = home / "data" / "temporal"
    counts = preset.temporal_videos
    classes = 2 * len(preset.pairs)
    total_videos = classes * sum(counts.values())
    epochs = {m: preset.epochs[("temporal", m)] for m in MODELS}
    # shares of the bar: the data, then each model by its epochs (the temporal model's are the slower ones)
    weights = {
        "data": 0.15,
        "per_frame": 0.85 * epochs["per_frame"] / (epochs["per_frame"] + 2 * epochs["temporal"]),
    }
    weights["temporal"] = 0.85 - weights["per_frame"]

    if not (data / "manifest.json").is_file():

        def data_progress() -> None:
            made = sum(1 for _ in data.rglob("*.mp4")) if data.is_dir() else 0
            job.progress(
                weights["data"] * min(made, total_videos) / total_videos,
                f"synthesizing videos: {made} of {total_videos}",
            )

        job.progress(0.0, "synthesizing videos")
        args = [
            "synth",
            str(data),
            "--kind",
            "temporal",
            "--train",
            str(counts["train"]),
            "--val",
            str(counts["val"]),
        ]
        args += ["--test", str(counts["test"]), "--size", str(preset.size), "--frames", str(preset.frames)]
        args += ["--fps", str(preset.fps), "--seed", str(seed), "--overwrite"]
        for pair in preset.pairs:
            args += ["--pair", pair]
        _child(args, home / "logs" / "synth.log", job, data_progress)

    done_share = weights["data"]
    for m in MODELS:
        run = home / "runs" / f"temporal-{m}"
        label = "per-frame" if m == "per_frame" else "temporal"
        if not _complete(run):
            recipe = _recipe(preset, "temporal", m, data, seed)
            recipe["train"]["checkpoint_every_steps"] = CHECKPOINT_EVERY_STEPS
            path = home / "recipes" / f"temporal-{m}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(recipe, sort_keys=False))
            resume = (run / "checkpoints" / "last.ckpt").is_file()

            def run_progress(run=run, m=m, label=label, base=done_share) -> None:
                n = _epochs_done(run)
                job.progress(
                    base + weights[m] * n / epochs[m],
                    f"training the {label} model: epoch {min(n + 1, epochs[m])} of {epochs[m]}",
                )

            args = ["train", str(path), "--out", str(run), "--no-progress"] + (["--resume"] if resume else [])
            _child(args, home / "logs" / f"train-{m}.log", job, run_progress)
        done_share += weights[m]
    for m in MODELS:
        ctx.models.drop(f"middle_frame:{(home / 'runs' / f'temporal-{m}').resolve()}")
    return status(ctx)


# ---------------------------------------------------------------- endpoints


@router.get("/status")
def status(ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
    """Whether the models are here (and whence), the pairs they know, the training job if one runs."""
    from ...run import MODEL_RECIPES

    p = plan()
    found = find_runs(ctx)
    with _training_lock:
        job = _training.get(str(_home(ctx)))
    training = job.id if job is not None and job.state == "running" else None
    out: dict[str, Any] = {
        "ready": found is not None,
        "source": found[1] if found else None,
        "training": training,
        "models": None,
        "pairs": [],
        "plan": {
            "pairs": list(p.pairs),
            "epochs": {m: p.epochs[("temporal", m)] for m in MODELS},
            "videos": 2 * len(p.pairs) * sum(p.temporal_videos.values()),
            "recipes": {m: MODEL_RECIPES[m]["model"]["name"] for m in MODELS},
        },
    }
    if found:
        predictors = _predictors(ctx, found[0])
        out["models"] = {m: {"name": p.name, "classes": list(p.classes)} for m, p in predictors.items()}
        out["pairs"] = _pairs_known(predictors)
    return out


@router.post("/train")
def train(ctx: ExploreContext = Depends(get_context)) -> dict[str, Any]:
    """Start training the two models in the background (or return the job already doing it)."""
    key = str(_home(ctx))
    with _training_lock:
        job = _training.get(key)
        if job is None or job.state != "running":
            job = ctx.jobs.submit("train", lambda job: train_models(ctx, job))
            _training[key] = job
    return {"job": job.id}


@router.get("/clips")
def clips(
    pair: str = Query("raise", max_length=40),
    index: int = Query(0, ge=0, le=999),
    ctx: ExploreContext = Depends(get_context),
) -> dict[str, Any]:
    """The pair's two clips (the second is the first played backwards) and, when the models are here, their
    answers."""
    import numpy as np

    from ....data.synth import TEMPORAL_PAIRS, clip_rng, render_clip
    from ...flicker import flicker_pair
    from ..encode import frames_to_data_urls, rounded

    if pair not in TEMPORAL_PAIRS:
        raise ConfigError(f"unknown pair {pair!r}; choose from {', '.join(TEMPORAL_PAIRS)}")
    found = find_runs(ctx)
    params = _clip_params(found[0] if found else None)
    frames = params["frames"] + (1 - params["frames"] % 2)  # odd: one middle frame
    middle = frames // 2
    forward, backward = TEMPORAL_PAIRS[pair]
    out: dict[str, Any] = {
        "pair": pair,
        "index": index,
        "classes": [forward, backward],
        "fps": params["fps"],
        "frames": frames,
        "middle": middle,
        "answers": None,
    }
    answers = None
    if found is not None:
        predictors = _predictors(ctx, found[0])
        known = _pairs_known(predictors)
        if pair not in known:
            raise ConfigError(
                f"the models were not trained on the pair {pair!r}; choose from {', '.join(known) or 'none'}"
            )
        with tempfile.TemporaryDirectory(prefix="vidact-middle-") as tmp:
            made = flicker_pair(
                predictors["per_frame"],
                predictors["temporal"],
                pair,
                tmp,
                size=params["size"],
                frames=frames,
                fps=params["fps"],
                seed=params["seed"],
                index=index,
            )
        rendered = [c.frames for c in made]
        answers = []
        t_mid = middle / params["fps"]
        for c in made:
            pf = c.per_frame
            at = int(np.argmin(np.abs(pf.frame_times - t_mid))) if pf.per_frame else None
            answers.append(
                {
                    "name": c.name,
                    "per_frame": pf.to_json(),
                    "temporal": c.temporal.to_json(),
                    "middle_time": rounded(pf.frame_times[at], 4) if at is not None else None,
                    "middle_probs": dict(zip(pf.classes, rounded(pf.frame_probs[at], 3), strict=True))
                    if at is not None
                    else None,
                }
            )
    else:
        rng = clip_rng(params["seed"], "test", forward, index)
        first = render_clip("temporal", forward, rng, size=params["size"], frames=frames)
        rendered = [
            first,
            render_clip(
                "temporal",
                backward,
                clip_rng(params["seed"], "test", forward, index),
                size=params["size"],
                frames=frames,
            ),
        ]
    out["middle_identical"] = bool(np.array_equal(rendered[0][middle], rendered[1][middle]))
    out["reversed"] = bool(np.array_equal(rendered[0][::-1], rendered[1]))
    out["clips"] = [
        {"name": n, "frames": frames_to_data_urls(f)}
        for n, f in zip((forward, backward), rendered, strict=True)
    ]
    out["answers"] = answers
    out["source"] = found[1] if found else None
    return out


register_page(
    Page(
        slug="middle_frame",
        title="Same middle frame",
        summary="A clip and the same clip played backwards share their middle frame: the per-frame model cannot "
        "tell them apart, the temporal model can.",
        order=1,
        router=router,
    )
)
