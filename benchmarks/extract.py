"""Extraction speed: videos/s of ``vidact extract features`` in this process, a 2-process pool and a local 2-actor
Ray, and how well the workers scale.

    python benchmarks/extract.py                 # writes benchmarks/results/extract.json (about 2 minutes on 2 cores)
    python benchmarks/extract.py --quick         # a smoke run (6 videos)

Corpus: the 7 Kinetics clips of ../shared/data/videos/kinetics (10 s, 340x256 or so, H.264 at 30 fps), each
copied ``--copies`` times into benchmarks/.cache/extract/videos (14 videos, 140 s of video by default). Model:
Simple3D at its model card's input (16 frames at 112x112, short side 128), randomly initialised (seed 0) and saved
as a vidact checkpoint; windows of 16 frames every 16 (``--window-frames 16 --stride-frames 16``), batch 8.

Each backend extracts the whole corpus into a fresh folder, in turn: ``1 worker, 1 thread`` (in this process, torch
with one thread, the baseline: each of the other backends' workers has one thread on 2 cores), ``1 worker, all
threads`` (torch with all the CPU's threads: what ``vidact extract`` does with no ``--workers`` and ``--threads``),
``2 workers`` (spawned processes), ``ray`` (``ray="auto"``: a fresh local Ray with 2 actors). Reported per backend:

* ``seconds``, ``videos_per_s``: the wall time of the whole call and videos / that, start-up included;
* ``startup_seconds``: the wall time of the same call on ``workers`` tiny videos (16 frames of 32x32) in a fresh
  folder just before: spawning processes, importing torch, loading the model once per process, starting Ray;
* ``videos_per_s_after_startup``: videos / (``seconds`` - ``startup_seconds``);
* ``speedup`` against the 1-worker, 1-thread run, and ``efficiency``: speedup / the cores used (workers x
  threads), both ways.

Also the re-run of the 1-worker corpus, where everything is up to date: videos/s of hashing and skipping.
Numbers depend on what else the machine runs: the JSON keeps the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache" / "extract"
KINETICS = ROOT.parent / "shared" / "data" / "videos" / "kinetics"
RESULTS = HERE / "results" / "extract.json"


def make_corpus(copies: int, limit: int | None) -> Path:
    """``copies`` copies of every Kinetics clip (optionally the first ``limit`` videos only)."""
    videos = CACHE / "videos"
    shutil.rmtree(videos, ignore_errors=True)
    sources = sorted(KINETICS.glob("*.mp4"))
    if not sources:
        sys.exit(f"no videos in {KINETICS}")
    made = 0
    for copy in range(copies):
        for source in sources:
            if limit is not None and made >= limit:
                return videos
            target = videos / f"copy{copy}" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            made += 1
    return videos


def make_checkpoint() -> Path:
    """Simple3D at its card's input, random weights (seed 0), as a vidact checkpoint."""
    from vidact.engine.checkpoint import atomic_save, make_checkpoint
    from vidact.engine.config import Config
    from vidact.models import build_model

    path = CACHE / "simple3d.ckpt"
    torch.manual_seed(0)
    cfg = Config()
    cfg.data.clip_len, cfg.data.stride, cfg.data.short_side, cfg.data.crop_size = 16, 1, 128, 112
    model = build_model("simple3d", num_classes=10)
    classes = [f"class_{i}" for i in range(10)]
    atomic_save(
        make_checkpoint(model, model_name="simple3d", model_kwargs={}, classes=classes, config=cfg.to_dict()),
        path,
    )
    return path


def make_tiny(count: int) -> Path:
    """``count`` videos of 16 frames at 32x32: what start-up costs, with next to no work."""
    import numpy as np

    from vidact.io.writer import write_video

    tiny = CACHE / f"tiny{count}"
    if not tiny.exists():
        rng = np.random.default_rng(0)
        tiny.mkdir(parents=True)
        for i in range(count):
            write_video(tiny / f"t{i}.mp4", rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), 8.0)
    return tiny


def run(
    backend: str, extractor, videos: Path, out: Path, workers: int, ray: str | None, threads: int | None
) -> dict:
    from vidact.extract import extract
    from vidact.extract.backends import available_cpus

    def timed(source: Path, folder: Path) -> tuple[float, int]:
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        report = extract(extractor, source, folder, workers=workers, ray=ray, threads=threads, progress=False)
        seconds = time.perf_counter() - start
        if report.failed or report.done != report.videos:
            sys.exit(f"{backend}: {report.failed[:3]}")
        return seconds, report.videos

    startup, _ = timed(make_tiny(workers), out.with_name(out.name + "_tiny"))
    seconds, count = timed(videos, out)
    result = {
        "backend": backend,
        "workers": workers,
        "cores": workers * (threads or (1 if ray else max(1, available_cpus() // workers))),
        "videos": count,
        "seconds": round(seconds, 2),
        "startup_seconds": round(startup, 2),
        "videos_per_s": round(count / seconds, 3),
        "videos_per_s_after_startup": round(count / max(seconds - startup, 1e-9), 3),
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2, help="copies of each of the 7 Kinetics clips")
    parser.add_argument("--quick", action="store_true", help="6 videos: a smoke run")
    parser.add_argument("--window-frames", type=int, default=16)
    parser.add_argument("--stride-frames", type=int, default=16)
    parser.add_argument("--no-ray", action="store_true", help="leave the Ray run out")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from vidact.extract import build_extractor
    from vidact.extract.backends import available_cpus

    load_before = os.getloadavg()
    started = time.perf_counter()
    CACHE.mkdir(parents=True, exist_ok=True)
    videos = make_corpus(1 if args.quick else args.copies, 6 if args.quick else None)
    ckpt = make_checkpoint()
    extractor = build_extractor(
        "features", model=str(ckpt), window_frames=args.window_frames, stride_frames=args.stride_frames
    )
    cpus = available_cpus()
    runs = [run("1 worker, 1 thread", extractor, videos, CACHE / "out1", 1, None, 1)]
    start = time.perf_counter()
    from vidact.extract import extract

    rerun = extract(extractor, videos, CACHE / "out1", progress=False)
    rerun_seconds = time.perf_counter() - start
    assert rerun.skipped == rerun.videos, rerun
    runs.append(run(f"1 worker, {cpus} threads", extractor, videos, CACHE / "out1t", 1, None, cpus))
    runs.append(run("2 workers", extractor, videos, CACHE / "out2", 2, None, None))
    if not args.no_ray:
        runs.append(run("ray, 2 actors", extractor, videos, CACHE / "out_ray", 2, "auto", None))
    base = runs[0]
    for r in runs:
        for key, rate in (("", "videos_per_s"), ("after_startup_", "videos_per_s_after_startup")):
            speedup = r[rate] / base[rate] if base[rate] else None
            r[f"{key}speedup"] = round(speedup, 3) if speedup else None
            r[f"{key}efficiency"] = round(speedup / r["cores"], 3) if speedup else None

    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpus": cpus,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "settings": {
            "videos": len(list(videos.rglob("*.mp4"))),
            "corpus": "Kinetics clips of ../shared/data/videos/kinetics, copied",
            "model": "simple3d (random weights), 16x112x112 clips, short side 128",
            "params": extractor.params(),
            "batch_size": extractor.batch_size,
        },
        "runs": runs,
        "rerun_up_to_date": {
            "videos": rerun.videos,
            "seconds": round(rerun_seconds, 3),
            "videos_per_s": round(rerun.videos / rerun_seconds, 1),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    from vidact._atomic import atomic_write

    with atomic_write(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")
    print("| backend | videos/s | start-up (s) | videos/s after start-up | speed-up | efficiency |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r['backend']} | {r['videos_per_s']:.2f} | {r['startup_seconds']:.1f} | "
            f"{r['videos_per_s_after_startup']:.2f} | {r['speedup']:.2f}x / {r['after_startup_speedup']:.2f}x | "
            f"{r['efficiency']:.0%} / {r['after_startup_efficiency']:.0%} |"
        )


if __name__ == "__main__":
    main()
