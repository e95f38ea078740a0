"""``vidact demo``'s run: the computer learns to tell raising a hand from lowering it.

The demo makes the field's first lesson measurable, end to end, on a laptop CPU in a few minutes:

1. it synthesizes two small datasets (:mod:`vidact.data.synth`): **temporal pairs**, classes that are each
   other's clips played backwards (raising vs lowering a hand, opening vs closing a lid, ...), so no single
   frame can tell the two classes of a pair apart; and **scene-biased** classes, where one frame is enough;
2. it trains two models on each (:func:`vidact.engine.train.train`): the **per-frame** baseline (a 2D
   ResNet-18 on every frame, scores averaged, TSN-style) and a **temporal** model (Simple3D, a small 3D CNN);
3. it evaluates all four on the held-out test splits (:func:`vidact.engine.evaluate.evaluate`) and prints the
   comparison: on scene-biased data both do well; on temporal pairs the per-frame model finds the pair but
   guesses the direction (about half right), while the temporal model gets it;
4. it writes ``results.json`` (``{"<dataset>": {"<model>": {"top1": ..., "mean_class_acc": ...}}}``) and a
   self-contained ``report.html`` (:mod:`~vidact.demo.report`) with the table, the confusion matrices on the
   temporal pairs, and the "flicker" chart (:mod:`~vidact.demo.flicker`): frame by frame, the per-frame
   model's belief for one raising and one lowering clip swings with whatever pose is on screen, next to the
   temporal model's one stable answer.

Waving vs pointing, the textbook example, cannot be a time-reversed pair (a wave played backwards is still a
wave); raising vs lowering a hand is the stick-figure pair here, and the arm passes through the pointing pose on
its way up.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_bytes, write_json, write_text
from ..data.synth import synthesize
from ..errors import ConfigError
from .flicker import flicker_pair
from .report import DATASETS, flicker_chart, report_html

__all__ = ["DemoPreset", "PRESETS", "MODEL_RECIPES", "run_demo", "default_real_data", "comparison_rows"]

_MARKER = ".vidact-demo"
MODELS = ("per_frame", "temporal")


@dataclass(frozen=True)
class DemoPreset:
    """Sizes of one demo run.

    Attributes:
        size: frame size of the synthetic videos (pixels, square).
        frames: frames per video.
        fps: their frame rate.
        pairs: the temporal pairs (:data:`vidact.data.synth.TEMPORAL_PAIRS`) in the temporal dataset.
        temporal_videos, scene_videos: videos per class and split.
        epochs: training epochs per (dataset, model).
        batch_size: clips per step.
        lr: AdamW learning rate (cosine schedule with a short warm-up).
        real_clips: the real clips of the "real video" section (``None``: all of them).
    """

    size: int = 32
    frames: int = 16
    fps: float = 8.0
    pairs: tuple[str, ...] = ("raise", "slide", "lid", "approach", "lift")
    temporal_videos: dict[str, int] = field(default_factory=lambda: {"train": 300, "val": 10, "test": 25})
    scene_videos: dict[str, int] = field(default_factory=lambda: {"train": 60, "val": 10, "test": 25})
    epochs: dict[tuple[str, str], int] = field(
        default_factory=lambda: {
            ("scene", "per_frame"): 4,
            ("scene", "temporal"): 6,
            ("temporal", "per_frame"): 3,
            ("temporal", "temporal"): 8,
        }
    )
    batch_size: int = 16
    lr: float = 3e-3
    #: The real clips of the "real video" section (file names; ``None``: every clip with a person in it,
    #: :func:`vidact.demo.showcase.find_real_clips`).
    real_clips: tuple[str, ...] | None = None


#: ``default`` is what ``make demo`` runs (about 7 minutes on 2 CPU cores); ``quick`` is the reduced size the
#: test suite runs (three of the pairs the temporal model learns fastest, fewer videos and epochs; the same
#: shape of result).
PRESETS: dict[str, DemoPreset] = {
    "default": DemoPreset(),
    "quick": DemoPreset(
        pairs=("lift", "slide", "approach"),
        temporal_videos={"train": 250, "val": 8, "test": 20},
        scene_videos={"train": 30, "val": 6, "test": 15},
        epochs={
            ("scene", "per_frame"): 3,
            ("scene", "temporal"): 4,
            ("temporal", "per_frame"): 3,
            ("temporal", "temporal"): 10,
        },
        real_clips=("S001C001P001R001A001_drink_water.avi", "yes.mkv"),
    ),
}

MODEL_RECIPES: dict[str, dict[str, Any]] = {
    # The per-frame baseline sees 8 frames, one per segment (TSN); the clip's score is their mean.
    "per_frame": {
        "data": {"sampler": "segments", "clip_len": 8},
        "model": {"name": "per_frame_resnet18", "kwargs": {"consensus": "mean_logits", "dropout": 0.1}},
    },
    # The temporal model sees all 16 frames in order.
    "temporal": {
        "data": {"sampler": "random", "clip_len": 16, "stride": 1},
        "model": {"name": "simple3d", "kwargs": {"dropout": 0.1}},
    },
}


def _recipe(preset: DemoPreset, dataset: str, model: str, root: Path, seed: int) -> dict[str, Any]:
    recipe = MODEL_RECIPES[model]
    return {
        "data": {
            "kind": "folder",
            "root": str(root),
            "train_split": "train",
            "val_split": "val",
            # the synthetic videos are already small: whole frames, no cropping
            "short_side": preset.size,
            "crop_size": preset.size,
            # a mirror image would turn moving left-to-right into right-to-left
            "flip_p": 0.0,
            "normalize": "imagenet",
            "batch_size": preset.batch_size,
            "num_workers": 1,
            **recipe["data"],
        },
        "model": dict(recipe["model"]),
        "train": {
            "epochs": preset.epochs[(dataset, model)],
            "optimizer": "adamw",
            "lr": preset.lr,
            "weight_decay": 0.01,
            "schedule": "cosine",
            "warmup_epochs": 0.5,
            "seed": seed,
            "val_every": 1,
        },
        "eval": {"num_clips": 1, "num_crops": 1, "split": "test"},
    }


def _prepare(out: Path) -> None:
    """Make ``out`` ready: a new or empty folder, or one an earlier demo wrote (its results are replaced)."""
    if out.exists() and any(out.iterdir()):
        if not (out / _MARKER).exists():
            raise ConfigError(f"{out}: not empty and not written by `vidact demo`; choose another --out")
        for name in ("data", "runs", "flicker"):
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / _MARKER, "written by vidact demo\n")


def run_demo(
    out_dir: str | os.PathLike = "demo_out",
    preset: str | DemoPreset = "default",
    *,
    seed: int = 0,
    real_data: str | os.PathLike | None | bool = True,
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """Run the whole demo into ``out_dir``; returns what ``results.json`` holds.

    Args:
        out_dir: a new or empty folder, or one an earlier ``vidact demo`` wrote.
        preset: a name from :data:`PRESETS` or a :class:`DemoPreset`.
        seed: seeds the synthetic data and the training runs.
        real_data: the folder of real clips and pretrained skeleton weights for the "real video" section
            (``videos/``, ``skeleton/pretrained/``); ``True``: :func:`default_real_data`; ``None`` or
            ``False``: no real video section.
        progress: progress bars.
        log: where one-line progress messages go.
    """
    from ..engine.config import Config
    from ..engine.evaluate import evaluate
    from ..engine.report import save_confusion_matrix
    from ..engine.train import train

    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ConfigError(f"unknown demo preset {preset!r}; choose from {', '.join(PRESETS)}")
        preset_name, preset = preset, PRESETS[preset]
    else:
        preset_name = "custom"
    out = Path(out_dir)
    _prepare(out)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    roots = {"temporal": out / "data" / "temporal", "scene": out / "data" / "scene"}
    t = time.perf_counter()
    log(f"[1/4] synthesizing videos into {out / 'data'}")
    synth = {
        "temporal": synthesize(
            roots["temporal"],
            "temporal",
            videos_per_class=preset.temporal_videos,
            size=preset.size,
            frames=preset.frames,
            fps=preset.fps,
            pairs=list(preset.pairs),
            seed=seed,
            progress=progress,
        ),
        "scene": synthesize(
            roots["scene"],
            "scene",
            videos_per_class=preset.scene_videos,
            size=preset.size,
            frames=preset.frames,
            fps=preset.fps,
            seed=seed,
            progress=progress,
        ),
    }
    timings["synthesize"] = time.perf_counter() - t

    results: dict[str, Any] = {}
    runs: dict[tuple[str, str], Path] = {}
    evals: dict[tuple[str, str], Any] = {}
    for dataset in DATASETS:
        results[dataset] = {}
        for model in MODELS:
            step = 2 if dataset == DATASETS[0] else 3
            log(f"[{step}/4] training the {model.replace('_', '-')} model on the {dataset} set")
            cfg = Config.from_dict(_recipe(preset, dataset, model, roots[dataset], seed), source="demo")
            t = time.perf_counter()
            run = train(cfg, out / "runs" / f"{dataset}-{model}", progress=progress)
            train_seconds = time.perf_counter() - t
            ev = evaluate(
                run.run_dir, roots[dataset], split="test", num_clips=1, num_crops=1, progress=progress
            )
            runs[dataset, model] = run.run_dir
            evals[dataset, model] = ev
            entry = {
                "model": cfg.model.name,
                "top1": ev.metrics["top1"],
                "top5": ev.metrics["top5"],
                "mean_class_acc": ev.metrics["mean_class_acc"],
                "num_test_videos": int(len(ev.labels)),
                "train_seconds": round(train_seconds, 1),
            }
            if dataset == "temporal":
                entry.update(_pair_metrics(ev, synth["temporal"].partners))
            results[dataset][model] = entry
            timings[f"train+eval {dataset}/{model}"] = time.perf_counter() - t
            log(f"      test top-1 {entry['top1']:.3f}   mean class accuracy {entry['mean_class_acc']:.3f}")

    real = _real_video(out, preset, real_data, progress, log)
    log("[4/4] writing the report")
    figures: dict[str, bytes] = {}
    for model in MODELS:
        ev = evals["temporal", model]
        path = out / f"confusion_temporal_{model}.png"
        save_confusion_matrix(
            ev.metrics["confusion_matrix"],
            ev.classes,
            path,
            title=f"{model.replace('_', '-')} model, temporal pairs (test, rows normalised)",
        )
        figures[f"confusion_{model}"] = path.read_bytes()
    clips = flicker_pair(
        runs["temporal", "per_frame"],
        runs["temporal", "temporal"],
        preset.pairs[0],
        out / "flicker",
        size=preset.size,
        frames=preset.frames,
        fps=preset.fps,
        seed=seed,
    )
    figures["flicker"] = flicker_chart(clips)
    write_bytes(out / "flicker" / "flicker.png", figures["flicker"])

    summary = {
        "preset": preset_name,
        "seed": seed,
        "classes": {d: list(synth[d].classes) for d in DATASETS},
        "chance": {d: 1.0 / len(synth[d].classes) for d in DATASETS},
        "pair_chance": 0.5,
        "seconds": round(time.perf_counter() - started, 1),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "flicker": {
            clip.name: {"per_frame": clip.per_frame.to_json(), "temporal": clip.temporal.to_json()}
            for clip in clips
        },
    }
    payload = {**results, "_about": summary, "real_video": real}
    write_json(payload, out / "results.json")
    write_text(out / "report.html", report_html(results, summary, figures, real, out))
    return payload


def default_real_data() -> Path | None:
    """``$VIDACT_REAL_DATA``, else ``../shared/data`` beside the working folder (the project's layout), if it
    holds videos; else ``None``."""
    candidate = Path(os.environ.get("VIDACT_REAL_DATA", Path.cwd().parent / "shared" / "data"))
    return candidate if (candidate / "videos").is_dir() else None


def _real_video(
    out: Path, preset: DemoPreset, real_data: str | os.PathLike | None | bool, progress: bool, log
) -> dict[str, Any]:
    """Real clips through the real skeleton models (:mod:`vidact.demo.showcase`), or why not."""
    if real_data is True:
        real_data = default_real_data()
    if real_data in (None, False):
        log("      real video: skipped (no real clips here; set VIDACT_REAL_DATA to a folder with videos/)")
        return {"skipped": "no real clips"}
    from .showcase import find_real_clips, run_real_clips

    clips = find_real_clips(real_data)
    if preset.real_clips is not None:
        clips = [c for c in clips if c.path.name in preset.real_clips]
    log(f"      real video: {len(clips)} real clips through the pretrained skeleton models")
    try:
        return run_real_clips(real_data, out / "real", clips=clips, progress=progress, log=log)
    except ConfigError as error:  # MediaPipe missing: the demo's synthetic part still stands
        log(f"      real video: skipped: {error}")
        return {"skipped": str(error)}


def _pair_metrics(ev: Any, partners: dict[str, str]) -> dict[str, float]:
    """How often the prediction lands in the right pair, and how often it picks the right one of the two."""
    classes = list(ev.classes)
    pred = np.asarray(ev.scores).argmax(axis=1)
    labels = np.asarray(ev.labels)
    pair_of = {c: frozenset((c, partners[c])) for c in classes if c in partners}
    in_pair = np.array([classes[p] in pair_of[classes[y]] for p, y in zip(pred, labels, strict=True)])
    correct = pred == labels
    return {
        "pair_acc": float(in_pair.mean()),
        "direction_acc_within_pair": float(correct[in_pair].mean()) if in_pair.any() else 0.0,
    }


def comparison_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(dataset, per-frame top-1, temporal top-1, gap) rows of the seed's comparison table."""
    rows = []
    for dataset in DATASETS:
        pf, tm = results[dataset]["per_frame"]["top1"], results[dataset]["temporal"]["top1"]
        rows.append((dataset, f"{pf:.1%}", f"{tm:.1%}", f"{tm - pf:+.1%}"))
    return rows
