"""The kernel-shape ablation: does "joint wins" hold on actions that only the order of the frames tells apart?

    python benchmarks/ablation.py                 # writes benchmarks/results/ablation.{json,md,png}
    python benchmarks/ablation.py --seeds 0 1 2 3 4 --epochs 8 --base-width 32

Trains the four 3D ResNet-18 variants of :func:`vidact.models.resnet3d.resnet18_3d` — residual kernels [1,3,3]
(spatial only: per-frame), [3,1,1] (temporal only), [3,3,3] (joint) and (2+1)D — with vidact's engine, on one
synthetic time-reversal set (:mod:`vidact.data.synth`, every pair; each class is its partner played backwards,
so the frames alone are at pair-chance), once per seed (the seed sets the weights' initialisation and the order
and augmentation of the batches; the data set is the same for all runs), and tests each on the held-out split
(one centred clip per video). The table gives mean +- sample standard deviation of top-1 over the seeds, the
accuracy within the right pair (pair-chance is 50%), parameters and multiply-adds per clip.

To repeat it over several seeds on 2 CPU cores the networks are narrowed (``--base-width`` 16: stages of 16, 32,
64, 128 channels instead of 64 ... 512) and the clips small (``--size`` 32 pixels, 8 frames at stride 2 from
15-frame videos); everything else is the ablation model as registered. About 33 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vidact.data.synth import TEMPORAL_PAIRS, synthesize
from vidact.engine.config import Config
from vidact.engine.evaluate import evaluate
from vidact.engine.train import train
from vidact.models import build_model
from vidact.models.profile import count_macs, count_params

KERNELS = {"spatial": "[1,3,3]", "temporal": "[3,1,1]", "joint": "[3,3,3]", "2plus1d": "(2+1)D"}
HERE = Path(__file__).resolve().parent
#: the pairs of ``vidact demo`` (the cyclic gesture and rotate pairs are the slowest to learn)
DEFAULT_PAIRS = ("raise", "slide", "lid", "approach", "lift")


def recipe(args: argparse.Namespace, kernel: str, seed: int, root: Path) -> dict:
    return {
        "data": {
            "kind": "folder",
            "root": str(root),
            "sampler": "random",
            "clip_len": args.clip_len,
            "stride": args.stride,
            "short_side": args.size,
            "crop_size": args.size,
            "flip_p": 0.0,  # a mirror image turns left-to-right into right-to-left
            "normalize": "imagenet",
            "batch_size": args.batch_size,
            "num_workers": 1,
        },
        "model": {"name": f"resnet18_3d_{kernel}", "kwargs": {"base_width": args.base_width, "dropout": 0.1}},
        "train": {
            "epochs": args.epochs,
            "optimizer": "adamw",
            "lr": args.lr,
            "weight_decay": 0.01,
            "schedule": "cosine",
            "warmup_epochs": 0.5,
            "seed": seed,
            "val_every": 0,
            "num_threads": args.threads,
        },
        "eval": {"num_clips": 1, "num_crops": 1, "split": "test"},
    }


def pair_accuracy(
    scores: np.ndarray, labels: np.ndarray, classes: list[str], partners: dict[str, str]
) -> float:
    """How often the top-1 class is the true class or its time-reversed partner; ``classes`` in score order."""
    pred = scores.argmax(axis=1)
    return float(
        np.mean([classes[p] in (classes[y], partners[classes[y]]) for p, y in zip(pred, labels, strict=True)])
    )


def summarize(runs: list[dict]) -> dict[str, dict]:
    out = {}
    for kernel in KERNELS:
        mine = [r for r in runs if r["kernel"] == kernel]
        if not mine:
            continue
        top1 = [r["top1"] for r in mine]
        pair = [r["pair_acc"] for r in mine]
        out[kernel] = {
            "kernel": KERNELS[kernel],
            "model": mine[0]["model"],
            "seeds": [r["seed"] for r in mine],
            "top1_mean": statistics.fmean(top1),
            "top1_std": statistics.stdev(top1) if len(top1) > 1 else 0.0,
            "pair_acc_mean": statistics.fmean(pair),
            "direction_acc_mean": statistics.fmean(r["direction_acc"] for r in mine),
            "params": mine[0]["params"],
            "gmacs": mine[0]["gmacs"],
            "train_seconds_mean": statistics.fmean(r["train_seconds"] for r in mine),
        }
    return out


def markdown(summary: dict[str, dict], n_classes: int) -> str:
    lines = [
        "| residual kernel | model | test top-1 (mean ± std) | right pair | right direction in pair "
        "| params | GMACs/clip |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary.values():
        lines.append(
            f"| {s['kernel']} | `{s['model']}` | {100 * s['top1_mean']:.1f} ± {100 * s['top1_std']:.1f} % "
            f"| {100 * s['pair_acc_mean']:.1f} % | {100 * s['direction_acc_mean']:.1f} % "
            f"| {s['params'] / 1e6:.2f} M | {s['gmacs']:.3f} |"
        )
    lines.append(f"\nChance: {100 / n_classes:.1f} % top-1 ({n_classes} classes); pair-chance 50 %.")
    return "\n".join(lines) + "\n"


def plot(summary: dict[str, dict], runs: list[dict], n_classes: int, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.add_subplot()
    names = list(summary)
    means = [100 * summary[k]["top1_mean"] for k in names]
    stds = [100 * summary[k]["top1_std"] for k in names]
    ax.bar(range(len(names)), means, yerr=stds, capsize=6, color=["#999999", "#6baed6", "#2171b5", "#41ab5d"])
    for i, k in enumerate(names):
        ys = [100 * r["top1"] for r in runs if r["kernel"] == k]
        ax.scatter([i] * len(ys), ys, color="black", s=12, zorder=3)
    ax.axhline(100 / n_classes, color="red", linestyle=":", label="chance")
    ax.axhline(
        50, color="orange", linestyle="--", label="order-blind ceiling: right pair, direction by chance"
    )
    ax.set_xticks(range(len(names)), [f"{summary[k]['kernel']}\n{k}" for k in names])
    ax.set_ylabel("test top-1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Residual kernel shape on time-reversed action pairs")
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=list(KERNELS))
    ap.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS), choices=list(TEMPORAL_PAIRS))
    ap.add_argument("--train-videos", type=int, default=120, help="training videos per class")
    ap.add_argument("--test-videos", type=int, default=25, help="test videos per class")
    ap.add_argument("--size", type=int, default=32)
    # 15 frames and 8 at stride 2: a clip spans the whole video, so a test clip of a reversed video holds exactly
    # the frames of its partner's clip (with 16 frames, the centred clip of one class would hold the even frames
    # of the motion and its partner's the odd ones, a difference a per-frame network can learn)
    ap.add_argument("--frames", type=int, default=15, help="frames per synthetic video")
    ap.add_argument("--clip-len", type=int, default=8, help="frames per training clip")
    ap.add_argument("--stride", type=int, default=2, help="frame stride of a clip")
    ap.add_argument("--base-width", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--work", type=Path, default=HERE / ".cache" / "ablation", help="data and runs")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "ablation.json")
    ap.add_argument("--progress", action=argparse.BooleanOptionalAction, default=sys.stderr.isatty())
    args = ap.parse_args()

    started = time.perf_counter()
    root = args.work / f"data-{args.size}px-{args.frames}f-{args.train_videos}-{'-'.join(args.pairs)}"
    info = synthesize(
        root,
        "temporal",
        videos_per_class={"train": args.train_videos, "test": args.test_videos},
        size=args.size,
        frames=args.frames,
        pairs=args.pairs,
        seed=0,
        progress=args.progress,
        overwrite=True,
    )
    classes = list(info.classes)
    runs: list[dict] = []
    for kernel in args.kernels:
        name = f"resnet18_3d_{kernel}"
        with torch.device("meta"):
            net = build_model(name, num_classes=len(classes), base_width=args.base_width)
            params = count_params(net)
            macs = count_macs(net, torch.empty(1, 3, args.clip_len, args.size, args.size, device="meta"))
        for seed in args.seeds:
            cfg = Config.from_dict(recipe(args, kernel, seed, root), source="ablation")
            run_dir = args.work / "runs" / f"{kernel}-seed{seed}"
            shutil.rmtree(run_dir, ignore_errors=True)  # an earlier run of this script
            t = time.perf_counter()
            result = train(cfg, run_dir, progress=args.progress)
            seconds = time.perf_counter() - t
            ev = evaluate(
                result.run_dir, root, split="test", num_clips=1, num_crops=1, progress=args.progress
            )
            pair = pair_accuracy(
                np.asarray(ev.scores), np.asarray(ev.labels), list(ev.classes), info.partners
            )
            row = {
                "kernel": kernel,
                "model": name,
                "seed": seed,
                "top1": ev.metrics["top1"],
                "mean_class_acc": ev.metrics["mean_class_acc"],
                "pair_acc": pair,
                # every correct answer is in the right pair: the share of those that also got the direction
                "direction_acc": ev.metrics["top1"] / pair if pair else 0.0,
                "params": params,
                "gmacs": macs / 1e9,
                "train_seconds": round(seconds, 1),
            }
            runs.append(row)
            print(
                f"{name} seed {seed}: test top-1 {row['top1']:.3f} (right pair {row['pair_acc']:.3f}, "
                f"direction within it {row['direction_acc']:.3f}), "
                f"{seconds:.0f} s",
                flush=True,
            )

    summary = summarize(runs)
    table = markdown(summary, len(classes))
    payload = {
        "command": "python " + " ".join([os.path.relpath(__file__)] + sys.argv[1:]),
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "progress"
        },
        "classes": classes,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
        "seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(table)
    plot(summary, runs, len(classes), args.out.with_suffix(".png"))
    print(table)
    print(f"wrote {args.out} (+ .md, .png) in {payload['seconds']:.0f} s")


if __name__ == "__main__":
    main()
