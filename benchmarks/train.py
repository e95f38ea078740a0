"""Training speed: steps/s and clips/s of one optimizer step (forward, cross-entropy, backward, SGD) for one model
of each family, under each numeric setting the engine offers, as ratios to float32.

    python benchmarks/train.py            # writes benchmarks/results/train.json (about 5 minutes on 2 cores)
    python benchmarks/train.py --quick    # a smoke run (2 families, 2 rounds)
    python benchmarks/train.py --epoch configs/synthetic_simple3d.yaml data.root=data/synthetic-temporal
                                          # where a recipe's epoch goes: writes benchmarks/results/train_epoch.json

Settings (``train.precision`` / ``train.memory_format`` of a recipe): ``fp32`` (float32, torch's default layout),
``channels_last_3d`` (float32, weights and clips channels-last), ``bf16`` (bfloat16 autocast, float32 weights),
``bf16+channels_last_3d`` (both: what ``precision: auto`` chooses on CPUs with native bf16, and on GPUs).
Each step is what the engine runs (:mod:`vidact.engine.loop`): the model in training mode, the loss outside
autocast in float32, SGD with momentum on float32 weights.

Inputs are small so that every family runs in a few minutes: ``--frames`` x ``--size``² clips (16 x 64² by
default), batches of ``--batch``, random initialisation (seed 0), 10 classes. Each model gets a fresh copy per
setting; after one untimed warm-up step per setting, ``--rounds`` rounds each time one step of every setting in
turn (interleaved, so a burst of load on this shared machine hits all settings alike). Reported per model and
setting: the median seconds per step, steps/s, clips/s, the ratio to fp32 (median of the per-round ratios), and the
first step's loss (the same weights and batch in every setting, so the settings' losses agree to bf16 precision).
The JSON keeps the CPU, torch's CPU capability, whether the CPU has native bf16, and the load average.

``--epoch RECIPE [key=value ...]`` asks where one epoch of a recipe goes instead: the CPU time of loading one
training item (decode: open, seek, decode and convert the clip's frames; transform: crop, flip, to float,
normalise), in one thread as in a DataLoader worker and with torch's default threads as with
``data.num_workers=0``; one optimizer step alone at the recipe's input, batch and precision; and whole epochs through
the loop (:mod:`vidact.engine.loop`) for each ``--workers`` count, with the share of each spent waiting for data
(``data_wait`` of ``metrics.csv``). Everything runs in one process, in turn, so the ratios are comparable on a
shared machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from vidact._atomic import write_json  # noqa: E402
from vidact.engine.precision import batch_to_memory_format, native_bf16, to_memory_format  # noqa: E402
from vidact.models import build_model, model_card  # noqa: E402

RESULTS = HERE / "results" / "train.json"

#: name -> (precision, memory format)
SETTINGS = {
    "fp32": ("32", "contiguous"),
    "channels_last_3d": ("32", "channels_last_3d"),
    "bf16": ("bf16", "contiguous"),
    "bf16+channels_last_3d": ("bf16", "channels_last_3d"),
}

#: Builder arguments that keep a model at the benchmark's small input (SlowFast's Slow pathway: every 4th frame).
MODEL_KWARGS = {"slowfast_r50": {"slow_frames": 4}}


#: One model of each family (the resnet3d family by its three kernel patterns and I3D-R50), at the benchmark's input.
MODELS = (
    "simple3d",
    "c3d",
    "r3d_18",
    "mc3_18",
    "r2plus1d_18",
    "i3d_r50",
    "i3d_inception_v1",
    "slowfast_r50",
    "per_frame_resnet18",
    "per_frame_efficientnet_lite0",
)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_step(model: torch.nn.Module, precision: str, memory_format: str):
    """One optimizer step of ``model`` on (clips, labels), as the engine runs it; returns the loss."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step(clips: torch.Tensor, labels: torch.Tensor) -> float:
        clips = batch_to_memory_format(clips, memory_format)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
        with autocast:
            logits = model(clips)
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def bench_model(name: str, args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    base = build_model(name, num_classes=10, **MODEL_KWARGS.get(name, {})).train()
    generator = torch.Generator().manual_seed(0)
    clips = torch.randn(args.batch, 3, args.frames, args.size, args.size, generator=generator)
    labels = torch.randint(0, 10, (args.batch,), generator=generator)
    steps, first_loss = {}, {}
    for setting, (precision, memory_format) in SETTINGS.items():
        model = to_memory_format(copy.deepcopy(base), memory_format)
        steps[setting] = make_step(model, precision, memory_format)
        first_loss[setting] = steps[setting](clips, labels)  # warm-up, untimed
    seconds: dict[str, list[float]] = {s: [] for s in SETTINGS}
    for _ in range(args.rounds):
        for setting, step in steps.items():
            start = time.perf_counter()
            step(clips, labels)
            seconds[setting].append(time.perf_counter() - start)
    out = {"model": name, "family": model_card(name).family, "input": [3, args.frames, args.size, args.size]}
    out["settings"] = {}
    for setting, times in seconds.items():
        median = statistics.median(times)
        ratios = [f / t for f, t in zip(seconds["fp32"], times, strict=True)]
        out["settings"][setting] = {
            "seconds_per_step": round(median, 4),
            "steps_per_s": round(1 / median, 3),
            "clips_per_s": round(args.batch / median, 2),
            "speedup_vs_fp32": round(statistics.median(ratios), 3),
            "first_step_loss": round(first_loss[setting], 5),
        }
    return out


def _item_costs(dataset, count: int) -> dict:
    """Median milliseconds of decoding and of transforming one training item of ``dataset`` (over ``count``)."""
    from vidact.io import VideoReader

    decode, transform = [], []
    dataset.set_epoch(0)
    for index in range(count):
        path, _ = dataset.samples[index % len(dataset)]
        meta = dataset.metadata(index % len(dataset))
        indices = dataset.sampler.for_video(meta, np.random.default_rng(index))
        start = time.perf_counter()
        with VideoReader(path, short_side=dataset.short_side, threads=1, metadata=meta) as reader:
            frames = reader.get_frames(indices.reshape(-1))
        middle = time.perf_counter()
        dataset._transform(frames.reshape(*indices.shape, *frames.shape[1:]), np.random.SeedSequence(index))
        decode.append(middle - start)
        transform.append(time.perf_counter() - middle)
    return {
        "decode_ms": round(1000 * statistics.median(decode), 3),
        "transform_ms": round(1000 * statistics.median(transform), 3),
    }


def bench_epoch(args: argparse.Namespace) -> dict:
    """Where a recipe's epoch goes (see the module docstring)."""
    import csv
    import tempfile

    from vidact.engine.config import load_config
    from vidact.engine.precision import resolve_settings
    from vidact.engine.tasks import build_task
    from vidact.engine.train import train

    recipe, *overrides = args.epoch
    cfg = load_config(recipe, overrides)
    task = build_task(cfg)
    data = task.build_data(seed=cfg.train.seed, validate=False, progress=False)
    threads = torch.get_num_threads()
    out: dict = {"recipe": recipe, "overrides": overrides, "training_videos": len(data.train)}
    torch.set_num_threads(1)
    out["item_one_thread"] = _item_costs(data.train, args.items)
    torch.set_num_threads(threads)
    out["item_default_threads"] = {"threads": threads, **_item_costs(data.train, args.items)}
    # One optimizer step alone, at the recipe's input, batch and precision.
    settings = resolve_settings(cfg.train.precision, cfg.train.memory_format, device=torch.device("cpu"))
    batch = data.collate([data.train[i] for i in range(cfg.data.batch_size)])
    torch.manual_seed(0)
    model = to_memory_format(task.build_model().train(), settings.memory_format)
    step = make_step(model, settings.precision, settings.memory_format)
    step(batch["video"], batch["label"])  # warm-up
    seconds = []
    for _ in range(args.rounds * 3):
        start = time.perf_counter()
        step(batch["video"], batch["label"])
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    out["step"] = {
        "precision": settings.precision,
        "memory_format": settings.memory_format,
        "input": list(batch["video"].shape),
        "seconds": round(median, 4),
        "clips_per_s": round(cfg.data.batch_size / median, 1),
    }
    out["epochs"] = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as run_dir:
            run_cfg = load_config(
                recipe,
                [
                    *overrides,
                    f"data.num_workers={workers}",
                    "train.epochs=1",
                    "train.val_every=0",
                    "train.warmup_epochs=0",
                    "train.checkpoint_every_steps=0",
                ],
            )
            result = train(run_cfg, Path(run_dir) / "run", progress=False)
            with open(Path(run_dir) / "run" / "metrics.csv", newline="") as f:
                (row,) = csv.DictReader(f)
        epoch = result.history[0]
        clips = epoch["step"] * cfg.data.batch_size
        out["epochs"].append(
            {
                "num_workers": workers,
                "seconds": round(epoch["time"], 2),
                "clips_per_s": round(clips / epoch["time"], 1),
                "data_wait": round(float(row["data_wait"]), 3),
            }
        )
        print(f"workers {workers}: {out['epochs'][-1]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", help="registry names (default: MODELS, one per family)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="simple3d and r2plus1d_18, 2 rounds")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--epoch", nargs="+", metavar="RECIPE [KEY=VALUE]", help="where a recipe's epoch goes"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="--epoch: data.num_workers")
    parser.add_argument("--items", type=int, default=64, help="--epoch: training items timed")
    args = parser.parse_args()
    if args.epoch:
        load_before = os.getloadavg()
        started = time.perf_counter()
        result = {
            "benchmark": "train_epoch",
            "command": "python " + " ".join([os.path.relpath(__file__, HERE.parent), *sys.argv[1:]]),
            "machine": {"cpu": cpu_model(), "threads": torch.get_num_threads(), "torch": torch.__version__},
            **bench_epoch(args),
        }
        result["machine"]["load_average_before"] = [round(x, 2) for x in load_before]
        result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        result["seconds"] = round(time.perf_counter() - started, 1)
        out = args.out or RESULTS.with_name("train_epoch.json")
        write_json(result, out)
        print(json.dumps({k: result[k] for k in ("item_one_thread", "item_default_threads", "step")}))
        print(f"wrote {out} ({result['seconds']:.0f} s)")
        return
    args.out = args.out or RESULTS
    if args.threads:
        torch.set_num_threads(args.threads)
    models = args.models or (["simple3d", "r2plus1d_18"] if args.quick else list(MODELS))
    if args.quick:
        args.rounds = 2
    cpu = torch.device("cpu")
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows = []
    for name in models:
        row = bench_model(name, args)
        rows.append(row)
        cells = "  ".join(
            f"{s} {v['seconds_per_step']:.3f} s ({v['speedup_vs_fp32']:.2f}x)"
            for s, v in row["settings"].items()
        )
        print(f"{name:32s} {cells}", flush=True)
    result = {
        "benchmark": "train",
        "command": "python " + " ".join([os.path.relpath(__file__, HERE.parent), *sys.argv[1:]]),
        "machine": {
            "cpu": cpu_model(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": native_bf16(cpu),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "batch": args.batch,
        "rounds": args.rounds,
        "seconds": round(time.perf_counter() - started, 1),
        "models": rows,
    }
    write_json(result, args.out)
    print(f"wrote {args.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
