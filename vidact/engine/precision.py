"""The numeric settings of a run: precision (float32 or bfloat16 autocast) and memory layout, resolved from the
recipe's ``train.precision`` and ``train.memory_format`` for the hardware at hand.

    >>> settings = resolve_settings("auto", "auto", device=torch.device("cpu"))
    >>> settings                      # on a CPU with AVX512-BF16 or AMX
    NumericSettings(precision='bf16', memory_format='channels_last_3d')
    >>> settings.fabric_precision     # what Lightning Fabric is given
    'bf16-mixed'
    >>> model = to_memory_format(model, settings.memory_format)

Why these defaults: forward + backward + SGD step on 2 cores of a CPU with AMX (``benchmarks/train.py``,
README "Training speed"), bfloat16 autocast with channels-last weights runs the 3D CNNs 2-3x faster than float32;
without native bfloat16 (AVX2-only CPUs, Apple MPS) bfloat16 is emulated and slower, so ``auto`` means float32
there. Weights, gradients and optimizer state stay float32 either way (autocast computes in bfloat16).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

__all__ = [
    "NumericSettings",
    "native_bf16",
    "bf16_training",
    "resolve_settings",
    "to_memory_format",
    "batch_to_memory_format",
]

Precision = Literal["32", "bf16"]
MemoryFormat = Literal["channels_last_3d", "contiguous"]

#: CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic: AVX512-BF16 dot products, AMX tiles.
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class NumericSettings:
    """The resolved ``train.precision`` and ``train.memory_format`` of a run."""

    precision: Precision
    memory_format: MemoryFormat

    @property
    def fabric_precision(self) -> str:
        """Lightning Fabric's name of the precision."""
        return "bf16-mixed" if self.precision == "bf16" else "32-true"


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return frozenset(flags.partition(":")[2].split())


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CUDA GPU that supports it, or a CPU with AVX512-BF16
    or AMX (asked of torch's CPU probe, else read from ``/proc/cpuinfo``)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    probes = [
        getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    ]
    if all(callable(probe) for probe in probes):
        return any(probe() for probe in probes)
    return any(flag in _cpu_flags() for flag in _BF16_CPU_FLAGS)


def _amx(device: torch.device) -> bool:
    """A CPU with AMX tiles (torch's probe, else ``/proc/cpuinfo``)."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe()) if callable(probe) else "amx_bf16" in _cpu_flags()


def bf16_training(device: torch.device) -> bool:
    """Whether ``device`` trains in bfloat16 reliably: a CUDA GPU with native bfloat16, or a CPU with AMX.

    A CPU with AVX512-BF16 but no AMX computes bf16 natively, but there oneDNN's bf16 convolution *backward*
    (torch 2.14.1) gives non-finite weight gradients now and then — measured on an AMD EPYC (AVX512-BF16, no
    AMX): 1 step in 40 of Simple3D in channels-last, and training runs that turn to NaN within an epoch — while
    its forward passes are sound. So ``auto`` trains in float32 there and infers in bf16 (:func:`native_bf16`).
    """
    if device.type == "cuda":
        return native_bf16(device)
    return device.type == "cpu" and native_bf16(device) and _amx(device)


def resolve_settings(
    precision: Literal["auto", "32", "bf16"],
    memory_format: Literal["auto", "channels_last_3d", "contiguous"],
    *,
    device: torch.device,
    training: bool = True,
) -> NumericSettings:
    """``auto`` precision is ``bf16`` where the device computes it natively and, for ``training``, soundly
    (:func:`bf16_training`; inference: :func:`native_bf16`), else ``32``; ``auto`` memory format is
    ``channels_last_3d`` with ``bf16`` and ``contiguous`` with ``32`` (alone, channels-last gains less, and
    float32 recipes keep the layout their numbers were measured with)."""
    sound = bf16_training(device) if training else native_bf16(device)
    resolved: Precision = ("bf16" if sound else "32") if precision == "auto" else precision
    if memory_format == "auto":
        memory_format = "channels_last_3d" if resolved == "bf16" else "contiguous"
    return NumericSettings(resolved, memory_format)


def _channels_last(tensor: torch.Tensor) -> torch.memory_format:
    return torch.channels_last_3d if tensor.dim() == 5 else torch.channels_last


def to_memory_format(model: nn.Module, memory_format: MemoryFormat) -> nn.Module:
    """Store ``model``'s 5-D parameters and buffers (3D convolutions) as ``channels_last_3d`` and its 4-D ones
    (2D convolutions of per-frame models) as ``channels_last``, in place; ``contiguous`` leaves it as is."""
    if memory_format == "channels_last_3d":
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.dim() in (4, 5):
                tensor.data = tensor.data.contiguous(memory_format=_channels_last(tensor))
    return model


def batch_to_memory_format(clips: torch.Tensor, memory_format: MemoryFormat) -> torch.Tensor:
    """Clips [B, C, T, H, W] as ``channels_last_3d`` (same shape and values, channels innermost in memory)."""
    if memory_format == "channels_last_3d" and clips.dim() == 5 and clips.is_floating_point():
        return clips.contiguous(memory_format=torch.channels_last_3d)
    return clips
