"""Optical flow on a CPU: milliseconds per frame pair and end-point error of every flow method, in one run.

    python benchmarks/flow.py            # writes benchmarks/results/flow.{json,png} (about 10 minutes on 2 cores)
    python benchmarks/flow.py --quick    # a smoke run

**Accuracy on known warps.** RubberWhale and Basketball (../shared/data/images, the classic Middlebury pairs'
first frames) resized to 340x256 (TSN's flow size), each warped by 3 smooth random fields
(:func:`vidact.flow.warps.known_warp`: a 10x10 lattice of random vectors interpolated bicubically, scaled to a
largest displacement of 1, 2, 4, 6 and 10 px), clean and with Gaussian sensor noise (sigma 3 levels on each
frame). The error is the mean end-point error (px) with an 8-px border left out, averaged over the 3 fields.

**Speed.** Wall time per pair of each method's call (frames in, float32 flow out), one thread (OpenCV and
torch), the median of the pairs' times over every warp above; RAFT at 12 flow updates, with random weights when
its published weights are not in the cache (its time is the same; its error is then left out, not measured).

**Real video.** Without ground truth, each method's end-point distance to OpenCV TV-L1 (the two-stream
standard) on consecutive frames of three Kinetics clips at 340x256: how close a faster method's flow is to
the flow two-stream weights were trained on.

**Scaling.** Pairs/s of the default method and Farnebäck in one process and in two (a process pool, each
process one thread, the pairs split between them): efficiency = rate(2) / (2 x rate(1)).

The plot (``flow.png``): end-point error at a 6-px largest displacement (clean) against ms per pair, log scale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from vidact.errors import CheckpointError
from vidact.flow.methods import DEFAULT_METHOD, get_flow_method
from vidact.flow.warps import end_point_error, known_warp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data"
RESULTS = HERE / "results" / "flow.json"
SIZE = (340, 256)  # width, height
METHODS = (
    "tvl1",
    "farneback",
    "dis_ultrafast",
    "dis_fast",
    "dis_medium",
    "dis_fine",
    "raft_small",
    "raft_large",
)
IMAGES = ("rubberwhale1.png", "basketball1.png")
CLIPS = ("kinetics/tai_chi.mp4", "kinetics/skateboarding.mp4", "kinetics/arm_wrestling.mp4")
BORDER = 8


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_image(name: str) -> np.ndarray:
    """uint8 RGB [256, 340, 3] of one of the test images."""
    image = Image.open(SHARED / "images" / name).convert("RGB").resize(SIZE, Image.Resampling.BOX)
    return np.asarray(image)


def build(method: str):
    """The method, and whether its error means anything (RAFT without its published weights: no)."""
    flow = get_flow_method(method)
    if not method.startswith("raft"):
        return flow, True
    tiny = np.zeros((64, 64, 3), np.uint8)
    try:
        flow(tiny, tiny)  # loads the published weights: from the cache, or downloaded
        return flow, True
    except CheckpointError as error:  # no cached weights, no network: time it untrained
        print(f"  {method}: {str(error).splitlines()[0]}; timing random weights")
        return get_flow_method(method, weights=None), False


def real_pairs(count: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``count`` consecutive frame pairs from the middle of each clip, RGB at 340x256."""
    from vidact.io import VideoReader

    pairs = []
    for clip in CLIPS:
        path = SHARED / "videos" / clip
        with VideoReader(str(path)) as reader:
            middle = len(reader) // 2
            frames = reader.get_frames(list(range(middle, middle + count + 1)))
        frames = [cv2.resize(np.asarray(f), SIZE, interpolation=cv2.INTER_AREA) for f in _hwc(frames)]
        pairs += [(clip, frames[i], frames[i + 1]) for i in range(count)]
    return pairs


def _hwc(frames) -> list[np.ndarray]:
    array = frames.numpy() if hasattr(frames, "numpy") else np.asarray(frames)
    if array.shape[-1] != 3:  # [T, 3, H, W]
        array = array.transpose(0, 2, 3, 1)
    return list(array)


def _rate(args: tuple[str, list[tuple[np.ndarray, np.ndarray]]]) -> int:
    method, pairs = args
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    flow = get_flow_method(method)
    for prev, nxt in pairs:
        flow(prev, nxt)
    return len(pairs)


def scaling(method: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Pairs/s in one process and in two (each one thread), and the efficiency."""
    rates = {}
    for workers in (1, 2):
        chunks = [pairs[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_rate, [(method, chunk[:2]) for chunk in chunks]))  # start-up and warm-up
            start = time.perf_counter()
            done = sum(pool.map(_rate, [(method, chunk) for chunk in chunks]))
            rates[workers] = done / (time.perf_counter() - start)
    return {
        "pairs": len(pairs),
        "pairs_per_s_1": round(rates[1], 2),
        "pairs_per_s_2": round(rates[2], 2),
        "efficiency": round(rates[2] / (2 * rates[1]), 3),
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, row in results["methods"].items():
        error = row["epe"].get("clean", {}).get("6")
        if error is None:
            continue
        ax.scatter(row["ms_per_pair"], error, s=40, zorder=3)
        ax.annotate(name, (row["ms_per_pair"], error), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axvline(100, color="0.6", ls="--", lw=1)
    ax.text(100, ax.get_ylim()[1], " 100 ms", va="top", fontsize=8, color="0.4")
    ax.set_xscale("log")
    ax.set_xlabel("ms per 340x256 pair (one thread)")
    ax.set_ylabel("end-point error at 6 px (px)")
    ax.set_title("optical flow: accuracy against speed (known warps)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer displacements, fields and pairs")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    displacements = (2, 6) if args.quick else (1, 2, 4, 6, 10)
    seeds = (0,) if args.quick else (0, 1, 2)
    noises = {"clean": 0.0, "noisy": 3.0}
    images = {name: load_image(name) for name in IMAGES}
    warps = [
        (condition, image_name, d, known_warp(image, d, noise=sigma, seed=seed))
        for condition, sigma in noises.items()
        for image_name, image in images.items()
        for d in displacements
        for seed in seeds
    ]
    real = real_pairs(2 if args.quick else 8)
    load = os.getloadavg()[0]
    results: dict = {
        "cpu": cpu_name(),
        "threads": 1,
        "size": list(SIZE),
        "displacements": list(displacements),
        "fields_per_displacement": len(seeds),
        "border": BORDER,
        "load_average_before": round(load, 2),
        "methods": {},
    }
    reference: dict[int, np.ndarray] = {}
    for name in args.methods.split(","):
        print(f"{name} ...", flush=True)
        method, trained = build(name)
        first = warps[0][3]
        method(first.prev, first.next)  # warm-up (RAFT: loads its weights)
        times, errors, by_image = [], {}, {}
        for condition, image_name, d, pair in warps:
            start = time.perf_counter()
            estimate = method(pair.prev, pair.next)
            times.append(time.perf_counter() - start)
            error = end_point_error(estimate, pair.flow, border=BORDER)
            errors.setdefault(condition, {}).setdefault(str(d), []).append(error)
            by_image.setdefault(f"{condition}/{image_name}", {}).setdefault(str(d), []).append(error)
        row = {
            "ms_per_pair": round(1000 * statistics.median(times), 2),
            "trained": trained,
            "epe": {
                condition: {d: round(float(np.mean(v)), 4) for d, v in by_d.items()} if trained else {}
                for condition, by_d in errors.items()
            },
            "epe_by_image": {
                key: {d: round(float(np.mean(v)), 4) for d, v in by_d.items()} if trained else {}
                for key, by_d in by_image.items()
            },
        }
        distances = []
        for i, (_, prev, nxt) in enumerate(real):
            estimate = method(prev, nxt)
            if name == "tvl1":
                reference[i] = estimate
            if i in reference:
                distances.append(end_point_error(estimate, reference[i], border=BORDER))
        if trained and distances:
            row["epe_to_tvl1_real"] = round(float(np.mean(distances)), 4)
        results["methods"][name] = row
        print(f"  {row}", flush=True)
    pairs = [(p, n) for _, p, n in real]
    pairs = (pairs * (1 + 48 // len(pairs)))[: 12 if args.quick else 48]
    results["scaling"] = {m: scaling(m, pairs) for m in dict.fromkeys((DEFAULT_METHOD, "farneback"))}
    tvl1 = results["methods"].get("tvl1")
    default = results["methods"].get(DEFAULT_METHOD)
    if tvl1 and default and tvl1["epe"] and default["epe"]:
        ratios = {
            f"{condition}/{d}": round(default["epe"][condition][d] / tvl1["epe"][condition][d], 3)
            for condition in tvl1["epe"]
            for d in tvl1["epe"][condition]
        }
        results["goal"] = {
            "method": DEFAULT_METHOD,
            "ms_per_pair": default["ms_per_pair"],
            "epe_ratio_to_tvl1": ratios,
            "met": default["ms_per_pair"] <= 100 and max(ratios.values()) <= 1.05,
        }
    results["load_average_after"] = round(os.getloadavg()[0], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    plot(results, args.out.with_suffix(".png"))
    print(json.dumps({k: v for k, v in results.items() if k != "methods"}, indent=1))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
