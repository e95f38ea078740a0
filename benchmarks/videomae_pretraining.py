"""Does VideoMAE pre-training help at this scale? Pre-train on the tour's clips without their labels, fine-tune on a
few labelled clips, and compare with the same encoder trained from scratch on the same labels.

    python benchmarks/videomae_pretraining.py            # writes benchmarks/results/videomae_pretraining.{json,png}
    python benchmarks/videomae_pretraining.py --quick    # a smoke run (tiny data, 1 epoch each)

Everything runs through the CLI, in a scratch folder (``benchmarks/.cache/videomae_pretraining``), with the recipes
of ``configs/``:

1. ``vidact synth`` the tour's data set (2,000 training clips of the 5 time-reversal pairs, 32x32): the unlabelled
   pre-training clips and the test split; and a second, disjoint set (``--seed 1``) of ``--labels`` clips per class:
   the few labelled clips;
2. ``vidact pretrain configs/synthetic_videomae_pretrain.yaml`` on the 2,000 clips (labels unread): 90 % tube
   masking, MSE on the hidden tubelets' normalised pixels; its validation loss per epoch and
   ``reconstructions.png``;
3. ``vidact train configs/synthetic_videomae_finetune.yaml`` on the few labelled clips, from the pre-trained encoder
   and (``model.pretrained=null``) from scratch, the same schedule (``--finetune-epochs``);
4. ``vidact eval`` of both on the tour set's test split (20 videos per class, 3 clips): top-1, and the shares of
   the right pair and, within it, the right direction (what only the order of the frames tells).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from _cli import sibling  # benchmarks/_cli.py (this folder is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "videomae_pretraining.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and 1 epoch each: a smoke run")
    parser.add_argument("--labels", type=int, default=20, help="labelled training clips per class")
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--finetune-epochs", type=int, default=60)
    parser.add_argument("--cache", type=Path, default=HERE / ".cache" / "videomae_pretraining")
    parser.add_argument("--reuse-pretraining", action="store_true", help="keep an earlier invocation's run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    patterns = sibling("transformer_patterns")
    cache = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / "log.txt"
    log.write_text("")

    def vidact(*a: str) -> float:
        return patterns.vidact(*a, log=log)

    pairs = [arg for pair in patterns.PAIRS for arg in ("--pair", pair)]
    data, few = cache / "synthetic-temporal", cache / f"labelled-{args.labels}"
    common = ["--size", "32", "--frames", "16", *pairs]
    if not (data / "manifest.json").exists():
        vidact("synth", str(data), "--train", "8" if args.quick else "200", *common)
    if not (few / "manifest.json").exists():
        labels = "2" if args.quick else str(args.labels)
        vidact("synth", str(few), "--train", labels, "--val", "4", "--test", "1", "--seed", "1", *common)

    quick = ["train.epochs=1", "train.warmup_epochs=0"] if args.quick else []
    pretrain = cache / "runs" / "pretrain"
    result: dict[str, Any] = {
        "quick": args.quick,
        "labels_per_class": args.labels,
        "torch": torch.__version__,
    }
    if not (args.reuse_pretraining and (pretrain / "checkpoints" / "last.ckpt").exists()):
        shutil.rmtree(pretrain, ignore_errors=True)
        epochs = [f"train.epochs={args.pretrain_epochs}"] if args.pretrain_epochs and not args.quick else []
        vidact(
            "pretrain", str(ROOT / "configs" / "synthetic_videomae_pretrain.yaml"), f"data.root={data}",
            *epochs, *quick, "--out", str(pretrain), "--no-progress",
        )  # fmt: skip
    rows = [line.split(",") for line in (pretrain / "metrics.csv").read_text().splitlines()]
    header = rows[0]
    result["pretraining"] = {
        "recipe": "configs/synthetic_videomae_pretrain.yaml",
        "epochs": len(rows) - 1,
        # the MSE on the hidden tubelets' normalised pixels (1: predicting each one's mean colour)
        "val_mse_per_epoch": [float(r[header.index("val_mse")]) for r in rows[1:]],
        "train_loss_per_epoch": [float(r[header.index("train_loss")]) for r in rows[1:]],
        "train_seconds": sum(float(r[header.index("time")]) for r in rows[1:]),
    }
    recon = pretrain / "reconstructions.png"
    if recon.exists():
        shutil.copyfile(recon, args.out.with_name("videomae_reconstructions.png"))

    result["fine_tuning"] = {}
    for name, pretrained in (("pretrained", str(pretrain)), ("scratch", "null")):
        run = cache / "runs" / name
        shutil.rmtree(run, ignore_errors=True)
        start = time.perf_counter()
        vidact(
            "train", str(ROOT / "configs" / "synthetic_videomae_finetune.yaml"), f"data.root={few}",
            f"model.pretrained={pretrained}", f"train.epochs={args.finetune_epochs}", *quick,
            "--out", str(run), "--no-progress",
        )  # fmt: skip
        seconds = time.perf_counter() - start
        out = cache / f"{name}_test.json"
        vidact(
            "eval", str(run), str(data), "--split", "test", "--clips", "3", "--crops", "1", "--per-video",
            "--json", str(out),
        )  # fmt: skip
        evaluated = json.loads(out.read_text())
        pair, direction = patterns.pair_and_direction(evaluated["videos"])
        result["fine_tuning"][name] = {
            "test_top1": evaluated["metrics"]["top1"],
            "test_pair_acc": pair,
            "test_direction_acc_given_pair": direction,
            "seconds": seconds,
        }
        print(
            f"{name:10s} test top-1 {evaluated['metrics']['top1']:.3f} (pair {pair:.3f}, direction {direction:.3f})",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
