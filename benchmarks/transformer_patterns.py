"""Attention patterns on the tour's synthetic time-reversal pairs: small versions of each video-transformer pattern
trained the same way, with their test accuracy, parameters, FLOPs and clips/s.

    python benchmarks/transformer_patterns.py            # writes benchmarks/results/transformer_patterns.json
    python benchmarks/transformer_patterns.py --only vivit_t timesformer_tiny
    python benchmarks/transformer_patterns.py --quick    # a smoke run (tiny data, 1 epoch each)

Everything runs as a user runs it, through the CLI, in a scratch folder (``benchmarks/.cache/transformer_patterns``):

1. ``vidact synth`` the tour's data set (5 pairs of classes whose clips are each other's played backwards, 32x32,
   200 training videos per class): a model that does not see the order of the frames cannot tell a pair apart;
2. for each pattern, ``vidact train`` its family's recipe (``configs/synthetic_timesformer.yaml``,
   ``configs/synthetic_vivit.yaml``; the variants by ``model.name=...``) with the same data, schedule and seed,
   then ``vidact eval RUN DATA --split test --clips 3 --crops 1 --json``;
3. parameters and FLOPs of one 8x32x32 clip (``count_flops`` under the math attention kernel: torch counts nothing
   of the fused CPU kernel), and inference clips/s at batch 16 (eval mode, float32, interleaved rounds).

The patterns: TimeSformer divided / joint / space-only attention over 1-frame 8x8 patches, and ViViT models 1-4
over 2x8x8 tubelets (joint attention, factorised encoder, factorised self-attention, factorised dot-product), and
VideoMAE's encoder from scratch on the same tubelets (joint attention with fixed sine-cosine positions and mean
pooling, ViViT model 1 with learned positions and a CLS token). ``--baseline`` adds the tour's CNN (``configs/synthetic_simple3d.yaml``) for scale.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
from pathlib import Path
from typing import Any

import torch
from _cli import sibling, vidact  # benchmarks/_cli.py (this folder is on sys.path when run as a script)
from torch.nn.attention import SDPBackend, sdpa_kernel

from vidact.data.synth.actions import TEMPORAL_PAIRS
from vidact.engine.config import load_config
from vidact.models import build_model
from vidact.models.profile import count_flops, count_params

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "transformer_patterns.json"
PAIRS = ("raise", "slide", "lid", "approach", "lift")
#: (model, recipe, what its attention does, recipe overrides)
PATTERNS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("timesformer_tiny", "synthetic_timesformer.yaml", "divided: time, then space, in each block", ()),
    ("timesformer_tiny_joint", "synthetic_timesformer.yaml", "joint space-time", ()),
    ("timesformer_tiny_space", "synthetic_timesformer.yaml", "space only: frames averaged at the end", ()),
    ("vivit_t", "synthetic_vivit.yaml", "model 1: joint space-time over tubelets", ()),
    ("vivit_m2_t", "synthetic_vivit.yaml", "model 2: spatial encoder per frame, then temporal", ()),
    ("vivit_m3_t", "synthetic_vivit.yaml", "model 3: factorised self-attention", ()),
    ("vivit_m4_t", "synthetic_vivit.yaml", "model 4: factorised dot-product (heads split)", ()),
    # VideoMAE's encoder from scratch on vivit_t's tubelets and schedule: the plain joint-attention video ViT with
    # fixed sine-cosine positions and mean pooling instead of learned positions and a CLS token.
    (
        "videomae_tiny",
        "synthetic_videomae_finetune.yaml",
        "joint over tubelets, fixed sin-cos positions, mean pooling",
        (
            "model.pretrained=null",
            "model.kwargs={img_size: 32, patch_size: 8, num_frames: 8, tubelet_size: 2}",
            "train.lr=0.0002",
            "train.layer_decay=1.0",
            "train.epochs=20",
            "train.warmup_epochs=3",
            "train.label_smoothing=0.0",
        ),
    ),
)
BASELINE = ("simple3d", "synthetic_simple3d.yaml", "CNN: joint 3x3x3 convolutions (the tour's model)", ())


def pair_and_direction(videos: list[dict[str, Any]]) -> tuple[float, float]:
    """Of test videos (``vidact eval --per-video``'s): the share whose prediction is of the right pair (what a clip
    shows), and of those, the share of the right direction (what only the order of the frames tells)."""
    pair_of = {name: key for key, pair in TEMPORAL_PAIRS.items() for name in pair}
    right_pair = [v for v in videos if pair_of[v["prediction"]] == pair_of[v["label"]]]
    direction = sum(v["prediction"] == v["label"] for v in right_pair) / max(len(right_pair), 1)
    return len(right_pair) / len(videos), direction


def profile(model_name: str, recipe: Path, overrides: list[str], repeats: int) -> dict[str, float]:
    """Parameters, GFLOPs and GMACs of one clip and inference clips/s at batch 16 of the recipe's model (10
    classes)."""
    cfg = load_config(recipe, overrides)
    model = build_model(model_name, num_classes=10, **cfg.model.kwargs).eval()
    clip = torch.randn(1, 3, cfg.data.clip_len, cfg.data.crop_size, cfg.data.crop_size)
    with sdpa_kernel(SDPBackend.MATH):
        flops = count_flops(model, clip)
    batch = clip.expand(16, -1, -1, -1, -1).contiguous()

    def call() -> None:
        with torch.inference_mode():
            model(batch)

    seconds = sibling("models").time_rounds({"model": call}, repeats=repeats, warmup=2)["model"]
    return {
        "params": count_params(model),
        "gflops": flops / 1e9,  # 2 per multiply-add, as torch counts
        "gmacs": flops / 2e9,  # multiply-adds, the README tables' convention
        "clips_per_s": 16 / statistics.median(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="MODEL", help="run these patterns only")
    parser.add_argument(
        "--baseline", action="store_true", help="also the tour's CNN (synthetic_simple3d.yaml)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny data and 1 epoch: a smoke run")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache" / "transformer_patterns")
    parser.add_argument(
        "--reuse-runs", action="store_true", help="keep runs trained by an earlier invocation"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cache = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / "log.txt"
    log.write_text("")

    patterns = [p for p in PATTERNS if not args.only or p[0] in args.only]
    if args.baseline:
        patterns.append(BASELINE)
    data = cache / "synthetic-temporal"
    if not (data / "manifest.json").exists():
        per_class = "8" if args.quick else "200"
        pairs = [arg for pair in PAIRS for arg in ("--pair", pair)]
        vidact("synth", str(data), "--size", "32", "--frames", "16", "--train", per_class, *pairs, log=log)

    previous = json.loads(args.out.read_text()) if args.out.exists() and args.only else {}
    rows = {row["model"]: row for row in previous.get("rows", [])}
    for model_name, recipe_name, what, extra in patterns:
        recipe = ROOT / "configs" / recipe_name
        run = cache / "runs" / model_name
        overrides = [f"model.name={model_name}", f"data.root={data}", *extra]
        if args.quick:
            overrides += ["train.epochs=1", "train.warmup_epochs=0"]
        if not (args.reuse_runs and (run / "checkpoints" / "best.ckpt").exists()):
            shutil.rmtree(run, ignore_errors=True)
            vidact("train", str(recipe), *overrides, "--out", str(run), "--no-progress", log=log)
        out = cache / f"{model_name}_test.json"
        vidact(
            "eval", str(run), str(data), "--split", "test", "--clips", "3", "--crops", "1", "--per-video",
            "--json", str(out), log=log,
        )  # fmt: skip
        evaluated = json.loads(out.read_text())
        metrics = evaluated["metrics"]
        pair, direction = pair_and_direction(evaluated["videos"])
        epochs = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()[1:]]
        row = {
            "model": model_name,
            "recipe": f"configs/{recipe_name}",
            "attention": what,
            "test_top1": metrics["top1"],
            "test_mean_class_acc": metrics["mean_class_acc"],
            "test_pair_acc": pair,
            "test_direction_acc_given_pair": direction,
            "epochs": len(epochs),
            # the epochs' own time (metrics.csv), the same whether the run was trained now or reused; the median
            # epoch is the steadier figure on a shared machine
            "train_seconds": sum(float(e[8]) for e in epochs),
            "epoch_seconds_median": statistics.median(float(e[8]) for e in epochs),
            "val_top1_per_epoch": [float(e[5]) for e in epochs],
            "overrides": list(extra),
            **profile(model_name, recipe, overrides, repeats=3 if args.quick else 10),
        }
        rows[model_name] = row
        print(
            f"{model_name:24s} test top-1 {row['test_top1']:.3f} (pair {pair:.3f}, direction {direction:.3f})  "
            f"{row['params'] / 1e6:.2f} M params  "
            f"{row['gmacs']:.3f} GMACs  {row['clips_per_s']:.0f} clips/s",
            flush=True,
        )
        result = {
            "quick": args.quick,
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "threads": torch.get_num_threads(),
            },
            "torch": torch.__version__,
            "data": "tour's synthetic time-reversal pairs: 10 classes, 200/10/20 videos per class, 32x32",
            "rows": [rows[m] for m, *_ in (*PATTERNS, BASELINE) if m in rows],
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
