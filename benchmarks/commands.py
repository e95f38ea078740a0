"""The fast path in the commands: wall time of ``vidact predict``, ``vidact extract features`` and ``vidact eval``
with ``--precision auto`` against ``--precision 32``, and how far the answers move.

    python benchmarks/commands.py            # writes benchmarks/results/commands.json (about 4 minutes on 2 cores)
    python benchmarks/commands.py --quick    # one clip per model, one round

Models:

* ``per_frame_efficientnet_lite0.imagenet``: the bundled ImageNet EfficientNet-Lite0 per frame (1,000 ImageNet
  classes, its float32-declared early layers kept float32 by the fast path), on the real clips.
* ``simple3d`` (3D CNN): the tour's Simple3D recipe (``configs/synthetic_simple3d.yaml``) trained here for a short
  run on a small synthesized time-reversal set (``vidact synth``, 32x32, 16 frames), so that it has trained
  weights and a labelled set to evaluate on without a network; its run directory is the ``--model``.

Commands, each run as a user runs it (``python -m vidact ...``, a new process, so the wall time includes starting
Python and loading the model), ``--rounds`` times per precision, interleaved, the median reported:

* ``vidact predict CLIP --model M --json OUT --top 1000 --precision P`` for each real clip
  (``../shared/data/videos``: Kinetics and UCF-101 clips); every window's probabilities are compared: top-1
  agreement over all windows, the largest absolute probability difference;
* ``vidact extract features LIST --model M --out DIR --precision P`` over the same clips: per window, the cosine
  similarity of the two precisions' features (the smallest) and the largest absolute difference relative to the
  largest float32 feature;
* ``vidact eval RUN DATA --split val --json OUT --per-video --precision P`` (the 3D CNN on the synthetic set's
  validation split; the ImageNet classifier has no labelled video set here): accuracy both ways, top-1 agreement of
  every video, the largest probability difference.

A command that fails (an option not there yet, say) is recorded with its exit status and last error line instead
of numbers. The JSON keeps the CPU, whether it computes bfloat16 natively (what ``auto`` resolves to) and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from vidact._atomic import write_json  # noqa: E402

RESULTS = HERE / "results" / "commands.json"
VIDEOS = ROOT.parent / "shared" / "data" / "videos"
#: Real clips, labelled (Kinetics-400, UCF-101), 8-10 s each.
CLIPS = (
    "kinetics/tai_chi.mp4",
    "kinetics/arm_wrestling.mp4",
    "kinetics/skateboarding.mp4",
    "ucf101/apply_eye_makeup.avi",
)
PRECISIONS = ("32", "auto")
LITE0 = "per_frame_efficientnet_lite0.imagenet"


# -- comparisons (pure) ---------------------------------------------------------------------------------------------
def probability_agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    """How far ``other`` [N, K] class probabilities moved from ``reference`` [N, K] (same rows, same classes).

    Returns:
        ``{"rows": N, "top1_agreement": fraction of rows with the same arg-max, "max_prob_diff": the largest
        |reference - other| over all rows and classes}``.
    """
    if reference.shape != other.shape or reference.ndim != 2:
        raise ValueError(f"expected two [N, K] arrays of one shape, got {reference.shape} and {other.shape}")
    same = reference.argmax(axis=1) == other.argmax(axis=1)
    return {
        "rows": int(reference.shape[0]),
        "top1_agreement": float(same.mean()) if len(same) else float("nan"),
        "max_prob_diff": float(np.abs(reference - other).max()) if reference.size else float("nan"),
    }


def feature_agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    """How far ``other`` [W, D] features moved from ``reference`` [W, D]: the smallest per-row cosine similarity
    and the largest absolute difference relative to the largest |reference| value."""
    if reference.shape != other.shape or reference.ndim != 2:
        raise ValueError(f"expected two [W, D] arrays of one shape, got {reference.shape} and {other.shape}")
    a, b = reference.astype(np.float64), other.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cosine = (a * b).sum(axis=1) / np.maximum(norms, 1e-30)
    return {
        "rows": int(a.shape[0]),
        "min_cosine": float(cosine.min()),
        "max_rel_diff": float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30)),
    }


def timeline_probabilities(prediction: dict[str, Any], classes: list[str]) -> np.ndarray:
    """[W, K] window probabilities of a ``vidact predict --json`` file written with ``--top`` >= K."""
    index = {name: i for i, name in enumerate(classes)}
    out = np.zeros((len(prediction["timeline"]), len(classes)))
    for w, window in enumerate(prediction["timeline"]):
        for entry in window["top"]:
            out[w, index[entry["label"]]] = entry["score"]
    return out


def video_probabilities(evaluation: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    """(paths, [N, K] probabilities) of a ``vidact eval --json --per-video`` file written with all K classes."""
    classes = evaluation["classes"]
    index = {name: i for i, name in enumerate(classes)}
    videos = evaluation["videos"]
    out = np.zeros((len(videos), len(classes)))
    for v, video in enumerate(videos):
        for entry in video["top"]:
            out[v, index[entry["label"]]] = entry["score"]
    return [video["path"] for video in videos], out


# -- running commands ------------------------------------------------------------------------------------------------
def vidact(*args: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``python -m vidact ARGS`` in a new process: ``{"seconds", "rc", "error"}`` (error: its last line)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "vidact", *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    seconds = time.perf_counter() - started
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return {
        "seconds": seconds,
        "rc": done.returncode,
        "error": lines[-1] if done.returncode and lines else None,
    }


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median wall seconds of a command's runs, or the first failure's exit status and error line."""
    failed = next((r for r in results if r["rc"]), None)
    if failed:
        return {"rc": failed["rc"], "error": failed["error"]}
    return {"seconds": round(statistics.median(r["seconds"] for r in results), 2)}


def speedup(times: dict[str, Any]) -> float | None:
    if all("seconds" in times[p] for p in PRECISIONS):
        return round(times["32"]["seconds"] / times["auto"]["seconds"], 3)
    return None


# -- the 3D CNN: a short run of the tour's recipe ----------------------------------------------------------------------
def train_simple3d(work: Path, epochs: int) -> tuple[Path, Path]:
    """Synthesize a small time-reversal set and train the tour's Simple3D recipe on it; (run dir, data root)."""
    data = work / "synthetic-temporal"
    run = work / "simple3d"
    pairs = ["--pair", "raise", "--pair", "slide"]  # 4 classes: --per-video lists all (its top 5)
    for step in (
        [
            "synth",
            str(data),
            "--size",
            "32",
            "--frames",
            "16",
            "--train",
            "24",
            "--val",
            "6",
            "--test",
            "1",
            *pairs,
        ],
        [
            "train",
            str(ROOT / "configs" / "synthetic_simple3d.yaml"),
            f"data.root={data}",
            f"train.epochs={epochs}",
            "train.warmup_epochs=0",
            "data.num_workers=0",
            "--out",
            str(run),
            "--no-progress",
        ],
    ):
        result = vidact(*step)
        if result["rc"]:
            raise SystemExit(f"vidact {step[0]} failed: {result['error']}")
    return run, data


# -- the benchmark ------------------------------------------------------------------------------------------------------
def bench_predict(model: str, clips: list[Path], work: Path, rounds: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    probabilities: dict[str, list[np.ndarray]] = {p: [] for p in PRECISIONS}
    for clip in clips:
        outs = {p: work / f"predict-{p}-{clip.stem}.json" for p in PRECISIONS}
        times: dict[str, Any] = {p: [] for p in PRECISIONS}
        for _ in range(rounds):
            for precision in PRECISIONS:
                command = ["predict", str(clip), "--model", model, "--json", str(outs[precision])]
                times[precision].append(vidact(*command, "--top", "1000", "--precision", precision))
        row: dict[str, Any] = {"clip": str(clip.relative_to(VIDEOS))}
        row.update({precision: summarise(results) for precision, results in times.items()})
        if all("seconds" in row[p] for p in PRECISIONS):
            predictions = {p: json.loads(outs[p].read_text()) for p in PRECISIONS}
            classes = sorted({e["label"] for w in predictions["32"]["timeline"] for e in w["top"]})
            for precision in PRECISIONS:
                probabilities[precision].append(timeline_probabilities(predictions[precision], classes))
            row.update(probability_agreement(probabilities["32"][-1], probabilities["auto"][-1]))
        rows.append(row)
    summary: dict[str, Any] = {"clips": rows}
    if all(probabilities[p] for p in PRECISIONS):
        summary.update(probability_agreement(*(np.concatenate(probabilities[p]) for p in PRECISIONS)))
        summary["windows"] = summary.pop("rows")
    for precision in PRECISIONS:
        seconds = [row[precision].get("seconds") for row in rows]
        summary[precision] = (
            {"seconds": round(sum(seconds), 2)} if None not in seconds else {"error": rows[0][precision]}
        )
    summary["speedup"] = speedup(summary)
    return summary


def bench_extract(model: str, clips: list[Path], work: Path, rounds: int) -> dict[str, Any]:
    listing = work / "clips.txt"
    listing.write_text("".join(f"{clip}\n" for clip in clips))
    outs = {p: work / f"features-{p}" for p in PRECISIONS}
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in PRECISIONS}
    for _ in range(rounds):
        for precision in PRECISIONS:
            shutil.rmtree(outs[precision], ignore_errors=True)  # a re-run would skip what is done
            command = ["extract", "features", str(listing), "--model", model, "--out", str(outs[precision])]
            runs[precision].append(vidact(*command, "--no-progress", "--precision", precision))
    summary: dict[str, Any] = {precision: summarise(results) for precision, results in runs.items()}
    summary["speedup"] = speedup(summary)
    if summary["speedup"] is not None:
        arrays = {p: sorted(outs[p].rglob("*.features.npy")) for p in PRECISIONS}
        if arrays["32"] and [a.name for a in arrays["32"]] == [a.name for a in arrays["auto"]]:
            pairs = [(np.load(a), np.load(b)) for a, b in zip(arrays["32"], arrays["auto"], strict=True)]
            summary.update(feature_agreement(*(np.concatenate(x) for x in zip(*pairs, strict=True))))
            summary["windows"] = summary.pop("rows")
    return summary


def bench_eval(run: Path, data: Path, work: Path, rounds: int) -> dict[str, Any]:
    outs = {p: work / f"eval-{p}.json" for p in PRECISIONS}
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in PRECISIONS}
    for _ in range(rounds):
        for precision in PRECISIONS:
            command = ["eval", str(run), str(data), "--split", "val", "--json", str(outs[precision])]
            runs[precision].append(vidact(*command, "--per-video", "--precision", precision))
    summary: dict[str, Any] = {precision: summarise(results) for precision, results in runs.items()}
    summary["speedup"] = speedup(summary)
    if summary["speedup"] is not None:
        evaluations = {p: json.loads(outs[p].read_text()) for p in PRECISIONS}
        for precision in PRECISIONS:
            summary[precision]["top1"] = evaluations[precision]["metrics"]["top1"]
        (paths, reference), (other_paths, other) = (video_probabilities(evaluations[p]) for p in PRECISIONS)
        if paths == other_paths:
            summary.update(probability_agreement(reference, other))
            summary["videos"] = summary.pop("rows")
    return summary


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return ""


def _cell(entry: dict[str, Any], key: str, fmt: str) -> str:
    value = entry.get(key)
    return format(value, fmt) if isinstance(value, (int, float)) else "-"


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'command':8s} {'model':40s} {'32 (s)':>8s} {'auto (s)':>9s} {'speedup':>8s} {'top-1 agree':>12s} {'max |dp|':>9s}"
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = [
            _cell(row["32"], "seconds", ".1f"),
            _cell(row["auto"], "seconds", ".1f"),
            _cell(row, "speedup", ".2f"),
            _cell(row, "top1_agreement", ".1%"),
            _cell(row, "max_prob_diff", ".4f"),
        ]
        if row["command"] == "extract":  # features: no classes; min cosine and relative difference instead
            cells[3] = "cos " + _cell(row, "min_cosine", ".5f")
            cells[4] = _cell(row, "max_rel_diff", ".4f")
        print(
            f"{row['command']:8s} {row['model']:40s} {cells[0]:>8s} {cells[1]:>9s} {cells[2]:>8s} {cells[3]:>12s} {cells[4]:>9s}"
        )
        for precision in PRECISIONS:
            if "error" in row[precision] or "rc" in row[precision]:
                print(f"    --precision {precision} failed: {row[precision]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="runs of each command per precision (median)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the Simple3D run")
    parser.add_argument("--quick", action="store_true", help="one clip per model, one round, one epoch")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed after)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    clips = [VIDEOS / clip for clip in (CLIPS[:1] if args.quick else CLIPS)]
    missing = [str(clip) for clip in clips if not clip.is_file()]
    if missing:
        raise SystemExit(f"missing clips (see ../shared/data/README.md): {', '.join(missing)}")
    if args.quick:
        args.rounds, args.epochs = 1, 1
    import torch

    from vidact.engine.precision import native_bf16

    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vidact-commands-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        run, data = train_simple3d(work, args.epochs)
        simple3d = f"simple3d (tour recipe, {args.epochs} epochs on a small synthetic set)"
        rows = []
        for label, model in ((LITE0, LITE0), (simple3d, str(run))):
            rows.append(
                {"command": "predict", "model": label, **bench_predict(model, clips, work, args.rounds)}
            )
            rows.append(
                {"command": "extract", "model": label, **bench_extract(model, clips, work, args.rounds)}
            )
        rows.append({"command": "eval", "model": simple3d, **bench_eval(run, data, work, args.rounds)})
    result = {
        "benchmark": "commands",
        "command": "python " + " ".join([os.path.relpath(__file__, ROOT), *sys.argv[1:]]),
        "machine": {
            "cpu": cpu_model(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "native_bf16": native_bf16(torch.device("cpu")),
            "auto_means": "bf16" if native_bf16(torch.device("cpu")) else "32",
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "clips": [str(clip.relative_to(VIDEOS)) for clip in clips],
        "rounds": args.rounds,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    print_table(rows)
    write_json(result, args.out)
    print(f"wrote {args.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
