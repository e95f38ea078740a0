"""Model speed on CPU: every model family, eager float32 against vidact's fast path, and this CPU's ceiling.

    python benchmarks/models.py                        # full run, writes benchmarks/results/models.json
    python benchmarks/models.py --quick                # smoke run: half-size inputs, fewer repeats and clips
    python benchmarks/models.py --models r2plus1d_18,slowfast_r50 --batch-sizes 1 --compile

Measured, for each model at its model card's input size (``--quick``: half the height and width), with
``torch.set_num_threads(--threads)``:

clips/s     at each of ``--batch-sizes`` (models above ``--heavy-gmacs`` per clip at batch 1 only), eager float32
            (the model as built, called under ``torch.inference_mode``) and the fast path
            (:func:`vidact.engine.fast.optimize_for_inference`: BatchNorms folded, channels-last, bfloat16 weights
            and autocast; ``--compile`` adds it compiled with TorchInductor). Median over ``--repeats`` rounds
            (``--repeats-batched`` above batch 1) after ``--warmup`` calls. The variants are interleaved, round
            by round in alternating order, so that the load of a shared machine drifts through all of them
            alike; ``speedup_pairwise`` is the median of the per-round ratios, the figure least disturbed by it.
torchvision torchvision's R(2+1)D-18 and R3D-18 in the same rounds as ours, with the same weights (converted).
GFLOP/s     2 x ``count_macs`` per clip x clips/s, against this CPU's ceiling measured in the same run: the median
            GFLOP/s of a 2048 x 2048 x 2048 ``torch.matmul`` in bfloat16 (and in float32).
memory      the peak resident memory one forward pass adds (after a warm-up pass), measured in a fresh process per
            model in which glibc maps every allocation above 64 KiB on its own (``MALLOC_MMAP_THRESHOLD_``) and
            returns it on free, so that the peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs``) is the
            peak of live memory, oneDNN's scratch space and reordered weights included. Linux only.
agreement   top-1 and logits of the fast path against eager float32 on a fixed clip set:
            ``--agreement-clips`` synthetic clips (:func:`vidact.data.synth.render_clip`, scene and temporal
            classes in turn, seed 0) and one clip from each Kinetics video in ``--videos``/kinetics, all at
            ``--agreement-size`` pixels square and the model card's frame count, normalised as the card says.
            The models are randomly initialised (seed 0; the per-frame EfficientNet-Lite0 has its ImageNet
            backbone): their raw top-1 barely depends on the clip, so the report also gives ``distinct_top1`` and
            the agreement of the centred logits (minus their mean over the clip set, i.e. the same network with
            its classifier's bias shifted), whose top-1 does depend on the clip. For a trained network,
            per_frame_efficientnet_lite0 is also run with its ImageNet classifier on frames of every video in
            ``--videos`` (8 per video, 224x224 crops), per frame.

Runtime on 2 cores shared with other jobs: 13 minutes for the full run, 6.5 for ``--quick``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidact.data.synth import SCENE_CLASSES, TEMPORAL_CLASSES, clip_rng, render_clip
from vidact.engine.fast import optimize_for_inference
from vidact.io import VideoReader
from vidact.models import build_model, model_card
from vidact.models.profile import count_macs, count_params

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_MODELS = (
    "r3d_18",
    "mc3_18",
    "r2plus1d_18",
    "i3d_r50",
    "c3d",
    "slowfast_r50",
    "i3d_inception_v1",
    "per_frame_resnet18",
    "per_frame_efficientnet_lite0",
    "simple3d",
)
TORCHVISION_TWINS = ("r2plus1d_18", "r3d_18")
KINETICS_MEAN_STD = (0.45, 0.225)
MMAP_THRESHOLD = 64 * 1024
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OMP_PROC_BIND",
    "OMP_WAIT_POLICY",
    "GOMP_CPU_AFFINITY",
    "MKL_NUM_THREADS",
)


# -- measurement ------------------------------------------------------------------------------------------------
def time_rounds(calls: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per call of each variant: ``warmup`` untimed rounds, then ``repeats`` timed ones, interleaved."""
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            calls[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def matmul_gflops(dtype: torch.dtype, n: int, repeats: int) -> dict[str, float]:
    """GFLOP/s of an n x n x n ``torch.matmul`` (2 n^3 FLOPs): median and best of ``repeats`` calls."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator).to(dtype)
    b = torch.randn(n, n, generator=generator).to(dtype)
    seconds = time_rounds({"matmul": lambda: torch.matmul(a, b)}, repeats, warmup=2)["matmul"]
    flops = 2 * n**3
    return {"median": flops / statistics.median(seconds) / 1e9, "best": flops / min(seconds) / 1e9}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def peak_forward_mib(call: Callable[[], object]) -> float:
    """Peak resident memory (MiB) that one call adds, after a warm-up call (see the module docstring)."""
    call()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = _status_kib("VmRSS")
    call()
    return (_status_kib("VmHWM") - before) / 1024


# -- models and inputs ------------------------------------------------------------------------------------------
def build(name: str) -> nn.Module:
    """The model with seed-0 random weights (published weights are never downloaded), in eval mode."""
    torch.manual_seed(0)
    return build_model(name).eval()


def input_shape(name: str, quick: bool) -> tuple[int, int, int, int]:
    """(C, T, H, W) of one clip: the model card's, with half the height and width under ``--quick``."""
    c, t, h, w = model_card(name).input_size
    return (c, t, h // 2, w // 2) if quick else (c, t, h, w)


def eager_call(model: nn.Module, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    def call() -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    return call


def count_batch_norms(model: nn.Module) -> int:
    return sum(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in model.modules())


def weights_mib(model: nn.Module) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


def normalisation(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (mean, std) [3] for inputs in [0, 1], from the model's preset (its published weights')."""
    mean, std = model_card(name).default_preset().normalization()
    return torch.tensor(mean).expand(3).clone(), torch.tensor(std).expand(3).clone()


def agreement_clips(name: str, count: int, size: int, videos: Path) -> tuple[torch.Tensor, int]:
    """[N, C, T, size, size] normalised clips: ``count`` synthetic ones, then one per video; and how many real.

    A model with C < 3 input channels (optical flow) gets the first C channels.
    """
    c, t = model_card(name).input_size[:2]
    frames = []
    for index in range(count):
        kind, classes = ("scene", SCENE_CLASSES) if index % 2 else ("temporal", TEMPORAL_CLASSES)
        class_name = classes[(index // 2) % len(classes)]
        rng = clip_rng(0, "benchmark", class_name, index)
        frames.append(torch.from_numpy(render_clip(kind, class_name, rng, size=size, frames=t)))
    real = sorted((videos / "kinetics").glob("*.mp4"))
    stride = model_card(name).frame_stride
    for path in real:
        with VideoReader(path, short_side=size) as reader:
            clip = reader.get_frames(np.arange(t) * stride % len(reader))
        top, left = (clip.shape[1] - size) // 2, (clip.shape[2] - size) // 2
        frames.append(clip[:, top : top + size, left : left + size])
    clips = torch.stack(frames).permute(0, 4, 1, 2, 3).float() / 255  # [N, 3, T, H, W]
    mean, std = normalisation(name)
    clips = (clips - mean.view(1, 3, 1, 1, 1)) / std.view(1, 3, 1, 1, 1)
    return clips[:, :c].contiguous(), len(real)


def agreement(
    model: nn.Module, fast: nn.Module, clips: torch.Tensor, real: int, batch_size: int = 8
) -> dict[str, float | int]:
    """Top-1 agreement and logit error of ``fast`` against ``model`` (eager float32) on ``clips``."""
    with torch.inference_mode():
        reference = torch.cat([model(batch) for batch in clips.split(batch_size)])
        logits = torch.cat([fast(batch) for batch in clips.split(batch_size)])
    centre = reference.mean(dim=0, keepdim=True)
    error = (logits - reference).abs()
    scale = reference.abs().max()
    return {
        "clips": len(clips),
        "real_clips": real,
        "top1_agreement": (logits.argmax(1) == reference.argmax(1)).float().mean().item(),
        "distinct_top1": len(set(reference.argmax(1).tolist())),
        "top1_agreement_centred": ((logits - centre).argmax(1) == (reference - centre).argmax(1))
        .float()
        .mean()
        .item(),
        "distinct_top1_centred": len(set((reference - centre).argmax(1).tolist())),
        "max_logit_error_rel": (error.max() / scale).item(),
        "mean_logit_error_rel": (error.mean() / scale).item(),
    }


def imagenet_frame_agreement(videos: Path, frames_per_video: int) -> dict[str, float | int]:
    """A trained network's agreement: EfficientNet-Lite0 with its ImageNet classifier, frame by frame.

    ``frames_per_video`` frames spread over each video under ``videos`` (224x224 centre crops of the frames
    scaled to short side 224), float32 against the fast path; "confident" frames are those to which float32
    gives its top-1 class a probability of at least 0.5.
    """
    from vidact.models.per_frame import efficientnet_lite0_imagenet

    paths = sorted(p for p in videos.rglob("*") if p.suffix in (".mp4", ".avi", ".mkv"))
    frames = []
    for path in paths:
        with VideoReader(path, short_side=224) as reader:
            clip = reader.get_frames(np.linspace(0, len(reader) - 1, frames_per_video).round().astype(int))
        top, left = (clip.shape[1] - 224) // 2, (clip.shape[2] - 224) // 2
        frames.append(clip[:, top : top + 224, left : left + 224])
    images = (torch.cat(frames).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5  # [N, 3, 224, 224] in [-1, 1]
    network = efficientnet_lite0_imagenet().eval()
    fast = optimize_for_inference(network)
    with torch.inference_mode():
        reference = torch.cat([network(batch) for batch in images.split(16)])
        logits = torch.cat([fast(batch) for batch in images.split(16)])
    agree = logits.argmax(1) == reference.argmax(1)
    confidence = reference.softmax(1).max(1).values
    confident = confidence >= 0.5
    error = (logits - reference).abs()
    return {
        "videos": len(paths),
        "frames": len(images),
        "top1_agreement": agree.float().mean().item(),
        "confident_frames": int(confident.sum()),
        "top1_agreement_confident": agree[confident].float().mean().item(),
        "highest_confidence_flipped": confidence[~agree].max().item() if not agree.all() else None,
        "max_logit_error_rel": (error.max() / reference.abs().max()).item(),
        "mean_logit_error_rel": (error.mean() / reference.abs().max()).item(),
    }


# -- one model --------------------------------------------------------------------------------------------------
def bench_model(name: str, args: argparse.Namespace, ceiling: dict) -> dict:
    start = time.perf_counter()
    card = model_card(name)
    model = build(name)
    twin = None
    if name in TORCHVISION_TWINS:
        from torchvision.models import video as tv_video

        from vidact.models.resnet3d import convert_torchvision_state_dict

        torch.manual_seed(0)
        twin = getattr(tv_video, name)().eval()
        model.load_state_dict(convert_torchvision_state_dict(twin.state_dict()))
    shape = input_shape(name, args.quick)
    flops_per_clip = 2 * count_macs(model, torch.zeros(1, *shape))
    fast = optimize_for_inference(model)
    compiled = optimize_for_inference(model, compile=True) if args.compile else None
    result: dict = {
        "name": name,
        "family": card.family,
        "input": list(shape),
        "gflop_per_clip": flops_per_clip / 1e9,
        "params": count_params(model),
        "folded_batch_norms": count_batch_norms(model) - count_batch_norms(fast),
        "weights_mib": {"eager": weights_mib(model), "fast": weights_mib(fast)},
        "batches": {},
    }

    heavy = card.gmacs is not None and card.gmacs > args.heavy_gmacs
    generator = torch.Generator().manual_seed(0)
    for batch_size in args.batch_sizes:
        if batch_size > 1 and heavy:
            result["batches"][str(batch_size)] = {
                "skipped": f"{card.gmacs:.0f} GMACs per clip is above --heavy-gmacs {args.heavy_gmacs:g}"
            }
            continue
        x = torch.randn(batch_size, *shape, generator=generator)
        calls: dict[str, Callable[[], object]] = {"eager": eager_call(model, x), "fast": lambda x=x: fast(x)}
        entry: dict = {}
        if twin is not None:
            calls["torchvision"] = eager_call(twin, x)
        if compiled is not None:
            compile_start = time.perf_counter()
            compiled(x)  # static shapes: every new batch size compiles
            entry["compile_seconds"] = time.perf_counter() - compile_start
            calls["compiled"] = lambda x=x: compiled(x)
        repeats = args.repeats if batch_size == 1 else args.repeats_batched
        seconds = time_rounds(calls, repeats, args.warmup)
        for variant, times in seconds.items():
            clips_per_s = batch_size / statistics.median(times)
            gflops = clips_per_s * flops_per_clip / 1e9
            entry[variant] = {
                "clips_per_s": clips_per_s,
                "gflops": gflops,
                "fraction_of_bf16_ceiling": gflops / ceiling["bfloat16"]["median"],
                "fraction_of_fp32_ceiling": gflops / ceiling["float32"]["median"],
            }
        entry["speedup"] = entry["fast"]["clips_per_s"] / entry["eager"]["clips_per_s"]
        entry["speedup_pairwise"] = statistics.median(
            e / f for e, f in zip(seconds["eager"], seconds["fast"], strict=True)
        )
        if twin is not None:
            entry["eager_vs_torchvision"] = (
                entry["eager"]["clips_per_s"] / entry["torchvision"]["clips_per_s"]
            )
            entry["eager_vs_torchvision_pairwise"] = statistics.median(
                t / e for t, e in zip(seconds["torchvision"], seconds["eager"], strict=True)
            )
            entry["fast_vs_torchvision"] = entry["fast"]["clips_per_s"] / entry["torchvision"]["clips_per_s"]
        result["batches"][str(batch_size)] = entry

    clips, real = agreement_clips(name, args.agreement_clips, args.agreement_size, Path(args.videos))
    result["agreement"] = agreement(model, fast, clips, real)
    result["agreement"]["input"] = list(clips.shape[1:])
    if name == "per_frame_efficientnet_lite0":
        frames = 2 if args.quick else 8
        result["agreement_imagenet_frames"] = imagenet_frame_agreement(Path(args.videos), frames)
    if not args.no_memory:
        result["peak_forward_mib"] = memory_in_subprocess(name, args, result["batches"])
    result["seconds"] = time.perf_counter() - start
    return result


def memory_in_subprocess(name: str, args: argparse.Namespace, batches: dict) -> dict:
    """Run :func:`memory_worker` for ``name`` in a fresh process with a fixed mmap threshold."""
    sizes = [size for size, entry in batches.items() if "skipped" not in entry]
    command = [sys.executable, __file__, "--memory-worker", name, "--threads", str(args.threads)]
    command += ["--batch-sizes", ",".join(sizes)] + (["--quick"] if args.quick else [])
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD))
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"failed": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory_worker(name: str, args: argparse.Namespace) -> dict:
    """Peak MiB one forward adds, per batch size, eager float32 and fast path."""
    model = build(name)
    fast = optimize_for_inference(model)
    shape = input_shape(name, args.quick)
    out: dict = {}
    for batch_size in args.batch_sizes:
        x = torch.randn(batch_size, *shape)
        out[str(batch_size)] = {
            "eager": peak_forward_mib(eager_call(model, x)),
            "fast": peak_forward_mib(lambda x=x: fast(x)),
        }
    return out


# -- driver -----------------------------------------------------------------------------------------------------
def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def markdown_table(report: dict) -> str:
    ceiling = report["ceiling"]
    lines = [
        f"threads: {report['machine']['threads']}; matmul ceiling (median GFLOP/s): "
        f"bf16 {ceiling['bfloat16']['median']:.0f}, fp32 {ceiling['float32']['median']:.0f}",
        "",
        "| model | input | GFLOP/clip | batch | eager clips/s | fast clips/s | speed-up | fast GFLOP/s "
        "| % of bf16 matmul | peak MiB eager / fast | top-1 agree (centred) | max logit err |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in report["models"]:
        agree = model["agreement"]
        for batch, entry in model["batches"].items():
            if "skipped" in entry:
                lines.append(f"| {model['name']} | | | {batch} | skipped: {entry['skipped']} |||||||")
                continue
            memory = model.get("peak_forward_mib", {}).get(batch)
            memory_cell = f"{memory['eager']:.0f} / {memory['fast']:.0f}" if memory else "-"
            twin = (
                f" (torchvision {entry['torchvision']['clips_per_s']:.2f}, ours/tv "
                f"{entry['eager_vs_torchvision']:.2f})"
                if "torchvision" in entry
                else ""
            )
            lines.append(
                f"| {model['name']} | {'x'.join(map(str, model['input']))} | {model['gflop_per_clip']:.1f} "
                f"| {batch} | {entry['eager']['clips_per_s']:.2f}{twin} | {entry['fast']['clips_per_s']:.2f} "
                f"| {entry['speedup']:.2f}x ({entry['speedup_pairwise']:.2f}x) | {entry['fast']['gflops']:.0f} "
                f"| {100 * entry['fast']['fraction_of_bf16_ceiling']:.0f}% | {memory_cell} "
                f"| {100 * agree['top1_agreement']:.0f}% ({100 * agree['top1_agreement_centred']:.0f}%) "
                f"| {100 * agree['max_logit_error_rel']:.1f}% |"
            )
    for model in report["models"]:
        if "agreement_imagenet_frames" in model:
            frames = model["agreement_imagenet_frames"]
            lines.append(
                f"\n{model['name']} with its ImageNet classifier on {frames['frames']} real video frames: top-1 "
                f"agreement {100 * frames['top1_agreement']:.1f}% ({100 * frames['top1_agreement_confident']:.0f}% "
                f"of the {frames['confident_frames']} frames float32 puts at >= 0.5 confidence), max logit error "
                f"{100 * frames['max_logit_error_rel']:.1f}%"
            )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated registered names")
    ap.add_argument(
        "--quick", action="store_true", help="half-size inputs, fewer repeats and clips (smoke run)"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-sizes", default=None, help="comma-separated (default 1,8; --quick: 1,2)")
    ap.add_argument(
        "--repeats", type=int, default=None, help="timed rounds at batch 1 (default 7; --quick: 2)"
    )
    ap.add_argument(
        "--repeats-batched", type=int, default=None, help="at larger batches (default 3; --quick: 2)"
    )
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--heavy-gmacs", type=float, default=60.0, help="above this, batch 1 only")
    ap.add_argument(
        "--agreement-clips", type=int, default=None, help="synthetic clips (default 100; --quick: 16)"
    )
    ap.add_argument("--agreement-size", type=int, default=None, help="their side (default 64; --quick: 32)")
    ap.add_argument("--videos", default=str(ROOT.parent / "shared" / "data" / "videos"), help="real videos")
    ap.add_argument(
        "--matmul-size", type=int, default=None, help="ceiling matmul side (default 2048; --quick: 1024)"
    )
    ap.add_argument(
        "--compile", action="store_true", help="also time the fast path compiled (slow to compile)"
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument(
        "--out", default=None, help="JSON path (default results/models.json, --quick: models_quick.json)"
    )
    ap.add_argument("--memory-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    quick = args.quick
    args.batch_sizes = [int(b) for b in (args.batch_sizes or ("1,2" if quick else "1,8")).split(",")]
    args.repeats = args.repeats or (2 if quick else 7)
    args.repeats_batched = args.repeats_batched or (2 if quick else 3)
    args.agreement_clips = (
        args.agreement_clips if args.agreement_clips is not None else (16 if quick else 100)
    )
    args.agreement_size = args.agreement_size or (32 if quick else 64)
    args.matmul_size = args.matmul_size or (1024 if quick else 2048)
    default_out = HERE / "results" / ("models_quick.json" if quick else "models.json")
    args.out = Path(args.out) if args.out else default_out
    args.models = [name for name in args.models.split(",") if name]
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_worker:
        print(json.dumps(memory_worker(args.memory_worker, args)))
        return
    start = time.perf_counter()
    ceiling = {
        "matmul_size": args.matmul_size,
        "bfloat16": matmul_gflops(torch.bfloat16, args.matmul_size, repeats=10),
        "float32": matmul_gflops(torch.float32, args.matmul_size, repeats=10),
    }
    report: dict = {
        "machine": {
            "cpu": cpu_name(),
            "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "environment": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        },
        "settings": {
            key: value if not isinstance(value, Path) else str(value) for key, value in vars(args).items()
        },
        "ceiling": ceiling,
        "models": [],
    }
    print(
        f"matmul {args.matmul_size}^3: bf16 {ceiling['bfloat16']['median']:.0f} GFLOP/s, "
        f"fp32 {ceiling['float32']['median']:.0f} GFLOP/s",
        file=sys.stderr,
        flush=True,
    )
    for name in args.models:
        print(f"[{name}] ...", file=sys.stderr, flush=True)
        report["models"].append(bench_model(name, args, ceiling))
        print(f"[{name}] {report['models'][-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
    report["seconds"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(markdown_table(report))
    print(f"\n{report['seconds']:.0f} s; wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
