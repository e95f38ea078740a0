"""Counting a model's cost: parameters and multiply-accumulates (MACs).

Conventions (printed in every table vidact makes): papers and torchvision's ``_ops`` metadata report
**GMACs** ("GFLOPs" in their tables = multiply-adds); ``torch.utils.flop_counter`` reports 2 FLOPs per
multiply-add. :func:`count_macs` returns MACs (= flop_counter / 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_params", "count_macs", "count_flops"]


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, inputs: torch.Tensor | Sequence[torch.Tensor]) -> int:
    """FLOPs of one forward pass as ``torch.utils.flop_counter`` counts them (2 per multiply-add).

    Args:
        inputs: what ``model`` takes, e.g. a [B, 3, T, H, W] clip batch (or a list for multi-input models).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(inputs) if isinstance(inputs, torch.Tensor) else model(*inputs)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def count_macs(model: nn.Module, inputs: torch.Tensor | Sequence[torch.Tensor]) -> int:
    """Multiply-accumulates of one forward pass (the papers' "FLOPs"): ``count_flops / 2``."""
    return count_flops(model, inputs) // 2
