"""Two-stream networks on the synthetic time-reversal pairs: what each stream sees, where the fusion weight should
sit, and what each flow method costs and buys.

    python benchmarks/two_stream.py            # writes benchmarks/results/two_stream.{json,png} (~20 min, 2 cores)
    python benchmarks/two_stream.py --quick    # a smoke run

Everything runs as a user runs it, through the CLI, in a scratch folder (``benchmarks/.cache/two_stream``):

1. ``vidact synth`` the tour's 5 pairs (10 classes; each class's partner is the same clip played backwards) at
   32x32, 16 frames, ``--train`` videos per class (default 40), 20 validation and 20 test videos per class (TV-L1 takes ~50 ms
   a pair even at 32x32: its fixed iterations);
2. ``vidact extract flow DATA --out FLOW --method M --rgb`` for each flow method (timed: ms per frame pair, 2
   workers);
3. ``vidact train configs/synthetic_two_stream.yaml`` with ``model.name=two_stream_flow_resnet18`` (the temporal
   stream alone, L = 4) on each method's flow, and with ``model.name=per_frame_resnet18`` on one RGB frame per
   segment (the spatial stream: ``data.root`` the videos, ``data.clip_len=3``); ``vidact eval ... --split test
   --scores`` of each;
4. ``vidact fuse SPATIAL TEMPORAL --gt ... --sweep`` for each method: accuracy against w (``w * spatial +
   (1 - w) * temporal``).

For each run: test top-1, the share of videos whose pair is right (the class or its reversed partner), and the
share whose direction is right among those (chance: 50 %). The plot: the sweep of each method's fusion.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np
from _cli import vidact  # benchmarks/_cli.py (this folder is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "two_stream.json"
RECIPE = ROOT / "configs" / "synthetic_two_stream.yaml"
PAIRS = ("raise", "slide", "lid", "approach", "lift")
METHODS = ("tvl1", "farneback", "dis_fast", "dis_fine")


def partner(classes: list[str]) -> np.ndarray:
    """For each class index, its time-reversed partner's (the other class of its pair in classes.txt order)."""
    from vidact.data.synth.actions import TEMPORAL_PAIRS

    index = {name: i for i, name in enumerate(classes)}
    result = np.arange(len(classes))
    for pair in TEMPORAL_PAIRS.values():
        a, b = pair
        if a in index and b in index:
            result[index[a]], result[index[b]] = index[b], index[a]
    return result


def breakdown(scores_file: Path) -> dict:
    """Top-1, right pair, right direction within the right pair, from ``vidact eval --scores``."""
    with np.load(scores_file, allow_pickle=False) as data:
        scores, labels, classes = data["scores"], data["labels"], [str(c) for c in data["classes"]]
    predicted = scores.argmax(1)
    other = partner(classes)
    pair = (predicted == labels) | (predicted == other[labels])
    return {
        "top1": round(float((predicted == labels).mean()), 4),
        "right_pair": round(float(pair.mean()), 4),
        "right_direction_in_pair": round(float((predicted == labels)[pair].mean()), 4)
        if pair.any()
        else None,
        "videos": len(labels),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--train", type=int, default=40, help="training videos per class")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / ".cache" / "two_stream")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    per_class = 4 if args.quick else args.train
    held_out = 2 if args.quick else 20
    epochs = 1 if args.quick else args.epochs
    methods = args.methods.split(",")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    log = args.work / "log.txt"
    data = args.work / "synthetic-temporal"
    pairs = [f"--pair={p}" for p in PAIRS]
    count = ["--train", str(per_class), "--val", str(held_out), "--test", str(held_out)]
    synth = vidact("synth", str(data), "--size", "32", "--frames", "16", *count, *pairs, log=log)
    results: dict = {
        "cpu_count": os.cpu_count(),
        "videos_per_class": {"train": per_class, "val": held_out, "test": held_out},
        "classes": 2 * len(PAIRS),
        "epochs": epochs,
        "synth_s": round(synth, 1),
        "load_average_before": round(os.getloadavg()[0], 2),
        "streams": {},
    }
    common = [f"train.epochs={epochs}", "train.num_threads=2", "data.num_workers=1"]
    # the spatial stream: one RGB frame of each of the 3 segments, consensus over them (no flow)
    spatial_run = args.work / "runs" / "spatial"
    seconds = vidact(
        "train",
        str(RECIPE),
        "--out",
        str(spatial_run),
        f"data.root={data}",
        "model.name=per_frame_resnet18",
        "model.kwargs={}",
        "task.name=classification",
        "task.kwargs={}",
        *common,
        log=log,
    )
    spatial_scores = args.work / "spatial.npz"
    vidact("eval", str(spatial_run), str(data), "--split", "test", "--scores", str(spatial_scores), log=log)
    results["streams"]["spatial"] = {"train_s": round(seconds, 1), **breakdown(spatial_scores)}
    print("spatial", results["streams"]["spatial"], flush=True)
    sweeps = {}
    for method in methods:
        flow = args.work / f"flow-{method}"
        extract_s = vidact(
            "extract",
            "flow",
            str(data),
            "--out",
            str(flow),
            "--method",
            method,
            "--rgb",
            "--workers",
            "2",
            "--no-progress",
            log=log,
        )
        pairs_done = sum(len(list(folder.glob("flow_x_*"))) for folder in flow.rglob("*") if folder.is_dir())
        run = args.work / "runs" / f"temporal-{method}"
        seconds = vidact(
            "train",
            str(RECIPE),
            "--out",
            str(run),
            f"data.root={flow}",
            "model.name=two_stream_flow_resnet18",
            "model.kwargs={length: 4}",
            f"task.kwargs={{method: {method}, bound: 20.0}}",
            *common,
            log=log,
        )
        scores = args.work / f"temporal-{method}.npz"
        vidact("eval", str(run), str(flow), "--split", "test", "--scores", str(scores), log=log)
        fused = args.work / f"fuse-{method}.json"
        vidact(
            "fuse",
            str(spatial_scores),
            str(scores),
            "--sweep",
            "--json",
            str(fused),
            log=log,
        )
        sweep = json.loads(fused.read_text())
        sweeps[method] = sweep["sweep"]
        results["streams"][f"temporal-{method}"] = {
            "flow_pairs": pairs_done,
            "extract_s": round(extract_s, 1),
            "extract_ms_per_pair_2_workers": round(1000 * extract_s / max(pairs_done, 1), 2),
            "train_s": round(seconds, 1),
            **breakdown(scores),
            "fused_equal_weights": sweep["fused"],
            "best_w": sweep["best"],
        }
        print(method, results["streams"][f"temporal-{method}"], flush=True)
    results["sweeps"] = sweeps
    results["load_average_after"] = round(os.getloadavg()[0], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out}")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, sweep in results["sweeps"].items():
        ax.plot([p["w"] for p in sweep], [p["top1"] for p in sweep], marker=".", label=f"spatial + {method}")
    ax.axhline(results["streams"]["spatial"]["top1"], color="0.5", ls="--", lw=1, label="spatial alone")
    ax.set_xlabel("w (weight of the spatial stream)")
    ax.set_ylabel("test top-1")
    ax.set_title("two-stream fusion on time-reversed pairs (10 classes)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
