"""Video transformers on CPU: vidact's against Hugging Face's, on the same configs, weights and clips.

    python benchmarks/transformers.py                  # full run, writes benchmarks/results/transformers.json
    python benchmarks/transformers.py --quick          # tiny configs (seconds), writes transformers_quick.json
    python benchmarks/transformers.py --families videomae --batches 1 --rounds 5 --compile

For each family (VideoMAE-B at 16x224², TimeSformer-B at 8x224², ViViT-B at 32x224²; ``--quick``: two-layer,
64-wide configs at 32², 4 or 8 frames), Hugging Face's video classifier is built from its default-size config
with 400 classes and random weights (``torch.manual_seed(0)``; no download), on SDPA attention where the family
supports it (VideoMAE, ViViT; TimeSformer has only its eager attention). The same weights go into vidact's model
through the family's ``"hf"`` config reader and converter, i.e. what ``build_model(NAME, weights=DIR)`` does with a
``save_pretrained`` folder, without the folder. Measured, with ``torch.set_num_threads(--threads)``:

agreement   max abs logit difference, float32, vidact eager against Hugging Face on one random clip (seed 0);
            and vidact's fast path against its eager float32 (absolute and relative to the largest logit).
clips/s     at each of ``--batches``: Hugging Face eager float32, vidact eager float32 (both called under
            ``torch.inference_mode``) and vidact's fast path (``prepare_for_inference(model, "bf16", "cpu")``:
            bfloat16 linear weights, autocast to bfloat16, float32 logits; ``--compile`` adds it compiled with
            TorchInductor, and records the compile time). Median over ``--rounds`` timed rounds at batch 1
            (``--rounds-batched`` above), interleaved round by round in alternating order (``time_rounds`` of
            ``benchmarks/models.py``), so that the load of a shared machine drifts through all variants alike;
            ``*_pairwise`` ratios are medians of the per-round ratios. The float32 parity forward passes are the
            batch-1 warm-up; larger batches have ``--warmup-batched`` untimed rounds (default none).
GFLOP/s     FLOPs per clip (``count_flops`` of vidact's model under ``sdpa_kernel(SDPBackend.MATH)``, since
            the CPU's fused attention kernels count nothing) x clips/s, against this CPU's ceiling measured in
            the same run (``matmul_gflops`` of ``benchmarks/models.py``: a 2048³ ``torch.matmul`` in bfloat16 and
            float32), before the first family and after the last.
machine     CPU name, threads, torch and transformers versions, and the 1/5/15-minute load averages before and
            after each family and the whole run (the machine may be shared).

The JSON is rewritten after each family, so an interrupted run keeps the families it finished. Runtime on 2
cores shared with other jobs (load average about 4): 22 minutes for the full run (ViViT-B at batch 8 is 8 of
them), 30 s for ``--quick`` (1.5 minutes with ``--compile``, most of it compiling). With 3 (batch 1) and 2
(batch 8) rounds on a loaded machine, single rounds can be 2-4x slower than their neighbours: read the
``*_pairwise`` ratios and the per-round ``seconds`` in the JSON before the medians.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Run as a script, this file's folder is sys.path[0], where its own name would shadow the transformers package.
sys.path[:] = [entry for entry in sys.path if Path(entry or os.curdir).resolve() != HERE]

import torch  # noqa: E402
import transformers  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

from vidact.engine.fast import optimize_for_inference, prepare_for_inference  # noqa: E402
from vidact.models import model_card  # noqa: E402
from vidact.models.converters import FOLDER_LAYOUT, get_config_reader, get_converter  # noqa: E402
from vidact.models.profile import count_flops, count_params  # noqa: E402
from vidact.models.registry import get_builder  # noqa: E402


def _sibling(name: str) -> Any:
    """The module ``benchmarks/<name>.py`` (the benchmarks folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_models = _sibling("models")
cpu_name, eager_call, matmul_gflops, time_rounds = (
    bench_models.cpu_name,
    bench_models.eager_call,
    bench_models.matmul_gflops,
    bench_models.time_rounds,
)

NUM_CLASSES = 400
#: Tiny sizes shared by the ``--quick`` configs.
TINY = {
    "image_size": 32,
    "patch_size": 8,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
}


@dataclass(frozen=True)
class Family:
    """One Hugging Face family and the vidact model it converts into.

    Attributes:
        model: vidact's registered name (its builder takes the family's config reader's arguments).
        config: the name of Hugging Face's config class in ``transformers``.
        classifier: the name of Hugging Face's video classification class in ``transformers``.
        attention: ``attn_implementation`` for Hugging Face's model ("sdpa" where the family supports it).
        quick: the config's arguments under ``--quick`` (the full run uses the defaults and 400 classes).
    """

    model: str
    config: str
    classifier: str
    attention: str
    quick: dict[str, Any]


FAMILIES = {
    "videomae": Family(
        "videomae_b",
        "VideoMAEConfig",
        "VideoMAEForVideoClassification",
        "sdpa",
        {**TINY, "num_frames": 4, "tubelet_size": 2},
    ),
    "timesformer": Family(
        "timesformer_b",
        "TimesformerConfig",
        "TimesformerForVideoClassification",
        "eager",
        {**TINY, "num_frames": 4},
    ),
    "vivit": Family(
        "vivit_b",
        "VivitConfig",
        "VivitForVideoClassification",
        "sdpa",
        {**{k: v for k, v in TINY.items() if k != "patch_size"}, "num_frames": 8, "tubelet_size": [2, 8, 8]},
    ),
}


# -- models ----------------------------------------------------------------------------------------------------
def build_pair(family: Family, quick: bool) -> tuple[nn.Module, nn.Module]:
    """Hugging Face's classifier (random weights, seed 0, eval mode) and vidact's model with the same weights.

    vidact's model is built as ``build_model(NAME, weights=DIR)`` builds it from a ``save_pretrained`` folder:
    the family's config reader turns the config into builder arguments, its converter the state dict into
    vidact's keys, loaded strictly.
    """
    config_class = getattr(transformers, family.config)
    config = config_class(
        **(family.quick if quick else {}), num_labels=NUM_CLASSES, attn_implementation=family.attention
    )
    torch.manual_seed(0)
    hf = getattr(transformers, family.classifier)(config).eval()
    card = model_card(family.model)
    arguments = get_config_reader(card.family, FOLDER_LAYOUT)(hf.config.to_dict())
    model = get_builder(family.model)(**arguments).eval()
    converter = get_converter(card.family, FOLDER_LAYOUT)
    model.load_state_dict(converter(hf.state_dict()), strict=True)
    return hf, model


def clip_shape(hf: nn.Module) -> tuple[int, int, int, int]:
    """(C, T, H, W) of one clip of the config's size."""
    config = hf.config
    size = config.image_size
    return (config.num_channels, config.num_frames, size, size)


def hf_call(hf: nn.Module, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """Hugging Face's logits of clips ``x`` [B, C, T, H, W], which it takes as [B, T, C, H, W] (transposed once,
    outside the call)."""
    pixels = x.transpose(1, 2).contiguous()

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return hf(pixel_values=pixels).logits

    return call


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


# -- one family ------------------------------------------------------------------------------------------------
def bench_family(name: str, args: argparse.Namespace, ceiling: dict) -> dict:
    start = time.perf_counter()
    family = FAMILIES[name]
    load_before = os.getloadavg()
    hf, model = build_pair(family, args.quick)
    shape = clip_shape(hf)
    generator = torch.Generator().manual_seed(0)
    x1 = torch.randn(1, *shape, generator=generator)
    with sdpa_kernel(SDPBackend.MATH):
        flops_per_clip = count_flops(model, x1)
    fast = prepare_for_inference(model, "bf16", "cpu")

    # Parity (float32) and the fast path's agreement, on the batch-1 clip: also the batch-1 warm-up.
    reference = hf_call(hf, x1)()
    logits = eager_call(model, x1)()
    fast_logits = fast(x1)
    result: dict = {
        "family": name,
        "model": family.model,
        "hf_class": family.classifier,
        "hf_attention": hf.config._attn_implementation,
        "input": list(shape),
        "params": count_params(model),
        "params_hf": count_params(hf),
        "gflop_per_clip": flops_per_clip / 1e9,
        "agreement": {
            "max_abs_logit_diff_vs_hf_fp32": max_abs(logits, reference),
            "max_abs_logit_hf": reference.abs().max().item(),
            "max_abs_logit_diff_fast_vs_eager": max_abs(fast_logits, logits),
            "max_rel_logit_diff_fast_vs_eager": max_abs(fast_logits, logits) / logits.abs().max().item(),
            "top1_fast_equals_eager": bool((fast_logits.argmax(1) == logits.argmax(1)).all()),
        },
        "batches": {},
    }
    print(
        f"[{name}] {result['gflop_per_clip']:.0f} GFLOP/clip; |vidact - hf| = "
        f"{result['agreement']['max_abs_logit_diff_vs_hf_fp32']:.2e}",
        file=sys.stderr,
        flush=True,
    )
    compiled = prepare_compiled(model) if args.compile else None

    for batch in args.batches:
        x = x1 if batch == 1 else torch.randn(batch, *shape, generator=generator)
        calls: dict[str, Callable[[], object]] = {
            "hf_eager": hf_call(hf, x),
            "vidact_eager": eager_call(model, x),
            "vidact_fast": lambda x=x: fast(x),
        }
        entry: dict = {}
        if compiled is not None:
            compile_start = time.perf_counter()
            compiled_logits = compiled(x)  # static shapes: each batch size compiles
            entry["compile_seconds"] = time.perf_counter() - compile_start
            entry["compiled_max_abs_diff_vs_fast"] = max_abs(compiled_logits, fast(x))
            calls["vidact_compiled"] = lambda x=x: compiled(x)
        rounds, warmup = (args.rounds, 0) if batch == 1 else (args.rounds_batched, args.warmup_batched)
        seconds = time_rounds(calls, rounds, warmup)
        for variant, times in seconds.items():
            clips_per_s = batch / statistics.median(times)
            gflops = clips_per_s * flops_per_clip / 1e9
            entry[variant] = {
                "clips_per_s": clips_per_s,
                "seconds": times,
                "gflops": gflops,
                "fraction_of_bf16_ceiling": gflops / ceiling["before"]["bfloat16"]["median"],
                "fraction_of_fp32_ceiling": gflops / ceiling["before"]["float32"]["median"],
            }
        for variant, base in [
            ("vidact_eager", "hf_eager"),
            ("vidact_fast", "hf_eager"),
            ("vidact_fast", "vidact_eager"),
            *([("vidact_compiled", "vidact_fast")] if compiled is not None else []),
        ]:
            key = f"{variant}_vs_{base}"
            entry[key] = entry[variant]["clips_per_s"] / entry[base]["clips_per_s"]
            entry[key + "_pairwise"] = statistics.median(
                b / v for b, v in zip(seconds[base], seconds[variant], strict=True)
            )
        result["batches"][str(batch)] = entry
        print(
            f"[{name}] batch {batch}: "
            + ", ".join(f"{v} {entry[v]['clips_per_s']:.3f}" for v in seconds)
            + " clips/s",
            file=sys.stderr,
            flush=True,
        )
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    result["seconds"] = time.perf_counter() - start
    return result


def prepare_compiled(model: nn.Module) -> nn.Module:
    """The fast path compiled with TorchInductor (freezing on, static shapes)."""
    return optimize_for_inference(model, compile=True)


# -- driver ----------------------------------------------------------------------------------------------------
def ceiling_now(size: int) -> dict:
    return {
        "bfloat16": matmul_gflops(torch.bfloat16, size, repeats=10),
        "float32": matmul_gflops(torch.float32, size, repeats=10),
        "load_average": os.getloadavg(),
    }


def markdown_table(report: dict) -> str:
    ceiling = report["ceiling"]["before"]
    lines = [
        f"{report['machine']['cpu']}, {report['machine']['threads']} threads; bf16 matmul ceiling "
        f"{ceiling['bfloat16']['median']:.0f} GFLOP/s (fp32 {ceiling['float32']['median']:.0f})",
        "",
        "| model | input | GFLOP/clip | batch | HF eager fp32 | vidact eager fp32 | vidact/HF | vidact fast bf16 "
        "| fast/HF | fast GFLOP/s | % of bf16 ceiling | max abs logit diff vs HF |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for family in report["families"]:
        for batch, entry in family["batches"].items():
            lines.append(
                f"| {family['model']} (HF {family['hf_attention']}) | {'x'.join(map(str, family['input']))} "
                f"| {family['gflop_per_clip']:.3g} | {batch} | {entry['hf_eager']['clips_per_s']:.3f} "
                f"| {entry['vidact_eager']['clips_per_s']:.3f} | {entry['vidact_eager_vs_hf_eager']:.2f}x "
                f"({entry['vidact_eager_vs_hf_eager_pairwise']:.2f}x) | {entry['vidact_fast']['clips_per_s']:.3f} "
                f"| {entry['vidact_fast_vs_hf_eager']:.2f}x | {entry['vidact_fast']['gflops']:.0f} "
                f"| {100 * entry['vidact_fast']['fraction_of_bf16_ceiling']:.0f}% "
                f"| {family['agreement']['max_abs_logit_diff_vs_hf_fp32']:.1e} |"
            )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--families", default=",".join(FAMILIES), help=f"comma-separated, of {', '.join(FAMILIES)}"
    )
    ap.add_argument("--quick", action="store_true", help="tiny configs (seconds)")
    ap.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    ap.add_argument(
        "--rounds", type=int, default=None, help="timed rounds at batch 1 (default 3; --quick: 5)"
    )
    ap.add_argument("--rounds-batched", type=int, default=None, help="above batch 1 (default 2; --quick: 3)")
    ap.add_argument("--warmup-batched", type=int, default=0, help="untimed rounds above batch 1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--matmul-size", type=int, default=2048, help="side of the ceiling's matmul")
    ap.add_argument("--compile", action="store_true", help="also time the fast path compiled (TorchInductor)")
    ap.add_argument("--out", default=None, help="JSON path (default results/transformers[_quick].json)")
    args = ap.parse_args()
    args.families = [name for name in args.families.split(",") if name]
    unknown = [name for name in args.families if name not in FAMILIES]
    if unknown:
        ap.error(f"unknown families {unknown}; choose from {', '.join(FAMILIES)}")
    args.batches = [int(b) for b in args.batches.split(",") if b]
    args.rounds = args.rounds or (5 if args.quick else 3)
    args.rounds_batched = args.rounds_batched or (3 if args.quick else 2)
    default = HERE / "results" / ("transformers_quick.json" if args.quick else "transformers.json")
    args.out = Path(args.out) if args.out else default
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    report: dict = {
        "machine": {
            "cpu": cpu_name(),
            "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "load_average_before": os.getloadavg(),
        },
        "settings": {
            key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()
        },
        "ceiling": {"matmul_size": args.matmul_size, "before": ceiling_now(args.matmul_size)},
        "families": [],
    }
    before = report["ceiling"]["before"]
    print(
        f"matmul {args.matmul_size}^3: bf16 {before['bfloat16']['median']:.0f} GFLOP/s, "
        f"fp32 {before['float32']['median']:.0f} GFLOP/s",
        file=sys.stderr,
        flush=True,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.families:
        report["families"].append(bench_family(name, args, report["ceiling"]))
        report["seconds"] = time.perf_counter() - start
        args.out.write_text(json.dumps(report, indent=2))
        gc.collect()
    report["ceiling"]["after"] = ceiling_now(args.matmul_size)
    report["machine"]["load_average_after"] = os.getloadavg()
    report["seconds"] = time.perf_counter() - start
    args.out.write_text(json.dumps(report, indent=2))
    print(markdown_table(report))
    print(f"\n{report['seconds']:.0f} s; wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
