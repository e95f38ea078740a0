"""Skeleton speed: samples/s of the skeleton models (eager float32 vs vidact's CPU fast path) and frames/s of
MediaPipe pose extraction on real clips, decode included.

    python benchmarks/skeleton.py            # writes benchmarks/results/skeleton.json (about 3 minutes on 2 cores)
    python benchmarks/skeleton.py --quick    # a smoke run

Models: at PYSKL's benchmark input, batch 16 x 2 persons x 100 frames x 25 joints x 3 coordinates (PYSKL reports
13.8 samples/s for ST-GCN on an i7-11800H laptop CPU), randomly initialised (seed 0), in eval mode under
``torch.inference_mode``, with all of torch's threads: ``eager`` (float32) and ``fast``
(:func:`vidact.engine.fast.optimize_for_inference`: folded BatchNorms, bfloat16 compute). The fast path's
logits are compared with eager's (largest difference relative to the largest logit). Each timing is the median
of ``--repeats`` runs of ``--iters`` batches after one warm-up batch.

Pose: :func:`vidact.pose.extract_pose` (MediaPipe Pose, model_complexity 1, tracking) on the NTU clip
(1920x1080, 103 frames) decoded at full size and at a short side of 540 (what ``vidact predict`` uses), on a
Kinetics clip (340x256) and MediaPipe Hands on an ASL clip (640x480); frames/s = frames / wall time of the whole
call (decode, colour conversion, landmarks, mapping). Skipped, with a note, without MediaPipe.

The CPU is named in the JSON (``/proc/cpuinfo``), with the load average before and after: two cores shared with
another job halve every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data" / "videos"
RESULTS = HERE / "results" / "skeleton.json"
MODELS = ("stgcn", "stgcnpp", "efficientgcn_b0", "skeleton_frame_mlp")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _time(fn, x: torch.Tensor, iters: int, repeats: int) -> float:
    """Median seconds per batch."""
    with torch.inference_mode():
        fn(x)
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(iters):
                fn(x)
            runs.append((time.perf_counter() - start) / iters)
    return statistics.median(runs)


def bench_models(batch: int, persons: int, frames: int, iters: int, repeats: int) -> list[dict]:
    from vidact.engine.fast import optimize_for_inference
    from vidact.models import build_model, model_card

    rows = []
    for name in MODELS:
        card = model_card(name)
        torch.manual_seed(0)
        model = build_model(name, num_classes=card.default_num_classes).eval()
        channels, _, joints, _ = card.input_size
        x = torch.randn(batch, persons, frames, joints, channels, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            reference = model(x)
        eager = _time(model, x, iters, repeats)
        fast_model = optimize_for_inference(model)
        with torch.inference_mode():
            fast_logits = fast_model(x).float()
        fast = _time(fast_model, x, iters, repeats)
        difference = (fast_logits - reference).abs().max() / reference.abs().max()
        rows.append(
            {
                "model": name,
                "input": [batch, persons, frames, joints, channels],
                "params": card.params,
                "eager_samples_per_s": round(batch / eager, 2),
                "fast_samples_per_s": round(batch / fast, 2),
                "fast_speedup": round(eager / fast, 2),
                "fast_max_logit_difference": round(float(difference), 5),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def bench_pose(quick: bool) -> list[dict] | str:
    try:
        from vidact.pose import extract_pose
    except Exception as error:  # noqa: BLE001 (a missing optional extra is reported, not raised)
        return f"pose extraction not measured: {error}"
    ntu = SHARED / "ntu" / "S001C001P001R001A001_drink_water.avi"
    cases = [
        ("ntu 1920x1080, full size", ntu, {"what": "body"}),
        ("ntu 1920x1080, short side 540", ntu, {"what": "body", "short_side": 540}),
        ("kinetics tai_chi 340x256", SHARED / "kinetics" / "tai_chi.mp4", {"what": "body"}),
        ("asl yes 640x480, hands", SHARED / "asl" / "yes.mkv", {"what": "hands"}),
    ]
    rows = []
    for label, video, options in cases[:2] if quick else cases:
        try:
            from vidact.pose import import_mediapipe

            import_mediapipe()
        except Exception as error:  # noqa: BLE001
            return f"pose extraction not measured: {error}"
        if quick:
            options = {**options, "max_frames": 20}
        start = time.perf_counter()
        record = extract_pose(video, **options)
        seconds = time.perf_counter() - start
        frames = int(record["total_frames"])
        rows.append(
            {
                "case": label,
                "video": str(video.relative_to(SHARED)),
                "frames": frames,
                "found_fraction": round(float(record["found"].any(axis=0).mean()), 3),
                "seconds": round(seconds, 2),
                "frames_per_s": round(frames / seconds, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.batch, args.frames, args.iters, args.repeats = 2, 20, 1, 1
    load_before = os.getloadavg()
    result = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_before": [round(x, 2) for x in load_before],
        "pyskl_reference": "ST-GCN 13.8 samples/s at 16 x 2 x 100 x 25 on an i7-11800H laptop CPU (PYSKL README)",
        "models": bench_models(args.batch, 2, args.frames, args.iters, args.repeats),
        "pose": bench_pose(args.quick),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
