"""Peak memory of a video transformer's training step on this CPU, per option: eager float32, gradient
checkpointing, bf16 autocast, both.

    python benchmarks/transformer_memory.py           # writes benchmarks/results/transformer_memory.json (~6 min)
    python benchmarks/transformer_memory.py --quick   # the small models only

Each (model, option) runs in a fresh process (so that one's freed memory does not serve the next): the model is
built in training mode with its input, then one step (forward, cross-entropy, backward). The peak is the
process's maximum resident set size (``ru_maxrss``) after the step minus its resident size before it: the step's
activations and gradients (the weights, the same for every option, are left out; no warm-up step, since the
allocator keeps the pages a step freed and would hide the next one's peak). The step's time is reported too
(first step: it includes one-time kernel setup): checkpointing trades recomputation for memory.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "transformer_memory.json"
OPTIONS = {
    "eager fp32": {"checkpointing": False, "bf16": False},
    "grad checkpointing": {"checkpointing": True, "bf16": False},
    "bf16 autocast": {"checkpointing": False, "bf16": True},
    "checkpointing + bf16": {"checkpointing": True, "bf16": True},
}
#: (model, clip [C, T, H, W], batch) measured: real sizes, and the small ones for --quick.
MODELS = {
    "videomae_b": ((3, 16, 224, 224), 1),
    "timesformer_b": ((3, 8, 224, 224), 1),
}
QUICK = {"videomae_s": ((3, 16, 112, 112), 2), "timesformer_tiny": ((3, 8, 112, 112), 2)}

_CHILD = r"""
import json, resource, sys, time
import torch
from vidact.models import build_model

name, shape, batch, checkpointing, bf16 = json.loads(sys.argv[1])
torch.manual_seed(0)
kwargs = {"img_size": shape[2], "num_frames": shape[1]}
model = build_model(name, num_classes=400, **kwargs).train()
model.set_grad_checkpointing(checkpointing)
x = torch.randn(batch, *shape)
y = torch.zeros(batch, dtype=torch.long)

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

def step():
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    model.zero_grad(set_to_none=True)

before = rss_mib()  # no warm-up: the allocator would keep its pages and hide the peak
start = time.perf_counter()
step()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"step_peak_mib": peak - before, "process_peak_mib": peak, "step_s": seconds, "params": params}))
"""


def measure(name: str, shape: tuple[int, ...], batch: int, checkpointing: bool, bf16: bool) -> dict:
    """One (model, option) in a fresh Python process."""
    args = json.dumps([name, list(shape), batch, checkpointing, bf16])
    done = subprocess.run([sys.executable, "-c", _CHILD, args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{name} {args} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small models only")
    args = parser.parse_args()
    import torch

    models = QUICK if args.quick else MODELS
    result = {
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "note": "step_peak_mib: the process's peak resident memory during one training step minus its resident "
        "memory before it (activations and gradients); weights excluded",
        "models": {},
    }
    for name, (shape, batch) in models.items():
        rows = {}
        for option, flags in OPTIONS.items():
            rows[option] = measure(name, shape, batch, **flags)
            print(
                f"{name} [{batch}, {', '.join(map(str, shape))}] {option}: step peak "
                f"{rows[option]['step_peak_mib']:.0f} MiB, {rows[option]['step_s']:.1f} s"
            )
        base = rows["eager fp32"]["step_peak_mib"]
        for row in rows.values():
            row["peak_ratio"] = row["step_peak_mib"] / base
        result["models"][name] = {"clip": list(shape), "batch": batch, "options": rows}
    out = RESULTS.with_name("transformer_memory_quick.json") if args.quick else RESULTS
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
