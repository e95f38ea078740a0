"""Temporal action detection on the synthetic untrimmed benchmark: ActionFormer against the sliding-window
baseline, and what detection costs per hour of video on this CPU.

    python benchmarks/detection.py            # writes benchmarks/results/detection.{json,png} (~45 min, 2 cores)
    python benchmarks/detection.py --quick    # a smoke run (tiny data, 2 epochs)

Everything runs as a user runs it, through the CLI, in a scratch folder (``benchmarks/.cache/detection``), with the
commands of ``configs/synthetic_actionformer.yaml``'s header:

1. ``vidact synth`` the tour's trimmed clips and ``vidact train configs/synthetic_simple3d.yaml``: the recognition
   model whose window features the detectors read (``--extractor RUN`` reuses a trained one);
2. ``vidact synth --kind untrimmed``: 30-60 s videos at 8 fps, 32x32, in which actions of the 5 pairs (1-8 s)
   happen among background; ground truth in ActivityNet's JSON (200 training, 40 validation, 40 test videos);
3. ``vidact extract features`` of every untrimmed video (16-frame windows every 4 frames: a step every 0.5 s);
4. ``vidact train`` of ``synthetic_actionformer.yaml`` and ``synthetic_tad_baseline.yaml``, then ``vidact eval
   RUN FEATURES --split testing --json``: mAP at tIoU 0.5:0.95 (ActivityNet's convention) on the test videos;
5. speed: ``vidact detect``'s function (``detect_video``, models loaded once) on test videos from the raw video
   (decode, recognition model on every window, detector, Soft-NMS) and from the extracted features (detector and
   Soft-NMS only), as seconds of work per hour of video; and on the real THUMOS14 clip ``highjump.mp4``
   (320x180, 30 fps) from the raw video, where decoding the larger frames costs more.

The plot: one test video's ground truth and both detectors' detections on its timeline (``vidact detect --plot``).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from _cli import vidact  # benchmarks/_cli.py (this folder is on sys.path when run as a script)

from vidact.infer.detect import detect_video, extractor_predictor, load_detector

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "detection.json"
PAIRS = ("raise", "slide", "lid", "approach", "lift")
DETECTORS = ("actionformer", "tad_baseline")
REAL_CLIP = ROOT.parent / "shared" / "data" / "detection" / "thumos14" / "highjump.mp4"


def pair_args() -> list[str]:
    return [arg for pair in PAIRS for arg in ("--pair", pair)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and 2 epochs: a smoke run")
    parser.add_argument("--extractor", type=Path, help="a trained synthetic_simple3d run to reuse")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache" / "detection")
    parser.add_argument("--speed-videos", type=int, default=5, help="test videos timed by vidact detect")
    parser.add_argument(
        "--reuse-runs",
        action="store_true",
        help="keep the detectors trained by an earlier run of this script",
    )
    args = parser.parse_args()
    cache = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / "log.txt"
    log.write_text("")
    result: dict = {"quick": args.quick, "commands": []}

    # 1. the recognition model (the features' extractor)
    extractor = args.extractor
    if extractor is None:
        trimmed = cache / "synthetic-temporal"
        if not (trimmed / "manifest.json").exists():
            count = "20" if args.quick else "200"
            vidact(
                "synth",
                str(trimmed),
                "--size",
                "32",
                "--frames",
                "16",
                "--train",
                count,
                *pair_args(),
                log=log,
            )
        extractor = cache / "runs" / "synthetic_simple3d"
        if not (extractor / "checkpoints" / "best.ckpt").exists():
            epochs = ["train.epochs=2"] if args.quick else []
            seconds = vidact(
                "train", str(ROOT / "configs" / "synthetic_simple3d.yaml"), "--out", str(extractor),
                f"data.root={trimmed}", *epochs, log=log,
            )  # fmt: skip
            result["extractor_train_s"] = seconds
    result["extractor"] = str(extractor)

    # 2.-3. the untrimmed videos and their features
    data = cache / "synthetic-untrimmed"
    counts = ("6", "3", "3") if args.quick else ("200", "40", "40")
    if not (data / "annotations.json").exists():
        result["synth_s"] = vidact(
            "synth", str(data), "--kind", "untrimmed", "--size", "32", "--train", counts[0], "--val", counts[1],
            "--test", counts[2], *pair_args(), "--overwrite", log=log,
        )  # fmt: skip
    features = data / "features"
    result["extract_s"] = vidact(
        "extract", "features", str(data / "videos"), "--out", str(features), "--model", str(extractor),
        "--window-frames", "16", "--stride-frames", "4", "--workers", "2", log=log,
    )  # fmt: skip
    manifest = json.loads((data / "annotations.json").read_text())["database"]
    test_videos = sorted(v for v, e in manifest.items() if e["subset"] == "testing")

    # 4. the two detectors
    result["detectors"] = {}
    for name in DETECTORS:
        run = cache / "runs" / f"synthetic_{name}"
        out = cache / f"eval_{name}.json"
        recipe = ROOT / "configs" / f"synthetic_{name}.yaml"
        previous = json.loads(RESULTS.read_text())["detectors"].get(name, {}) if RESULTS.exists() else {}
        if not (args.reuse_runs and out.exists() and (run / "metrics.json").exists()):
            shutil.rmtree(run, ignore_errors=True)
            overrides = [f"data.root={features}", f"data.annotations={data / 'annotations.json'}"]
            if args.quick:
                overrides.append("train.epochs=2")
            previous = {"train_s": vidact("train", str(recipe), "--out", str(run), *overrides, log=log)}
            vidact("eval", str(run), str(features), "--split", "testing", "--json", str(out), log=log)
        metrics = json.loads(out.read_text())["metrics"]
        summary = json.loads((run / "metrics.json").read_text())
        detector = load_detector(run)
        result["detectors"][name] = {
            "recipe": recipe.name,
            "model": detector.name,
            "params": sum(p.numel() for p in detector.model.parameters()),
            "train_s": previous.get("train_s"),
            "tiou": metrics["tiou"],
            "mAP": metrics["mAP"],
            "average_mAP": metrics["average_mAP"],
            "val_best": summary.get("best", {}).get("average_mAP"),
        }

    # 5. speed: seconds of detection per hour of video, in this process (the models loaded once and warmed up on
    # one video, as a service or a batch job holds them), from the raw video and from extracted features
    torch.set_num_threads(2)
    detector = load_detector(cache / "runs" / "synthetic_actionformer")
    predictor = extractor_predictor(detector, extractor)
    timed = [data / "videos" / f"{v}.mp4" for v in test_videos[: args.speed_videos]]
    cases = [
        (f"raw video ({len(timed)} test videos, 32x32 at 8 fps)", timed, {"predictor": predictor}),
        (f"extracted features ({len(timed)} test videos)", timed, {"features": features}),
    ]
    if REAL_CLIP.exists():
        cases.append(("raw video (highjump.mp4, 320x180 at 30 fps)", [REAL_CLIP], {"predictor": predictor}))
    speed = {}
    for how, videos, source in cases:
        detect_video(detector, videos[0], **source)  # warm-up
        work = {"features": 0.0, "detector": 0.0}
        hours = 0.0
        for video in videos:
            found = detect_video(detector, video, **source)
            hours += found.duration / 3600
            for stage in work:
                work[stage] += found.seconds[stage]
        speed[how] = {
            "videos": len(videos),
            "video_hours": hours,
            "features_s_per_hour": work["features"] / hours,
            "detector_s_per_hour": work["detector"] / hours,
            "s_per_hour": (work["features"] + work["detector"]) / hours,
        }
    result["speed"] = speed
    result["speed_note"] = (
        "seconds of work per hour of video inside detect_video (what vidact detect runs): decoding and the "
        "recognition model's window features (features_s), then the detector, decoding and Soft-NMS (detector_s); "
        f"models loaded once and warmed up, {torch.get_num_threads()} threads; a vidact detect command adds its "
        "process start and model loading (~5-7 s here)"
    )

    # the timeline of one test video (ActionFormer's detections against the ground truth)
    video = data / "videos" / f"{test_videos[0]}.mp4"
    png = RESULTS.with_suffix(".png")
    vidact(
        "detect", str(video), "--model", str(run), "--features", str(features), "--gt",
        str(data / "annotations.json"), "--plot", str(png), "--min-score", "0.2", log=log,
    )  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    for name, entry in result["detectors"].items():
        print(
            f"{name}: test average mAP {100 * entry['average_mAP']:.1f} (mAP@0.5 {100 * entry['mAP'][0]:.1f})"
        )
    for how, entry in speed.items():
        print(f"detect from {how}: {entry['s_per_hour']:.1f} s per hour of video")
    print(f"wrote {RESULTS} and {png}")


if __name__ == "__main__":
    main()
