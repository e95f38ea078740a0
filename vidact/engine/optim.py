"""Optimisation pieces of the training loop: optimizer, learning-rate schedule, soft targets and mixup.

Each is a plain function or a small frozen object, so the loop stays readable and each piece is testable:

    >>> optimizer = build_optimizer(model, "sgd", lr=0.1, momentum=0.9, weight_decay=1e-4)
    >>> schedule = LRSchedule(0.1, total_steps=1000, warmup_steps=50, kind="cosine")
    >>> set_lr(optimizer, schedule(step))
    >>> targets = soft_targets(labels, num_classes, smoothing=0.1)          # [B, K]
    >>> clips, targets = mixup(clips, targets, alpha=0.2, rng=rng)          # mixed along the batch
    >>> loss = soft_cross_entropy(model(clips), targets)

The schedule is a pure function of the optimizer step: resuming a run restores it from the step count.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "build_optimizer",
    "LRSchedule",
    "set_lr",
    "soft_targets",
    "soft_cross_entropy",
    "mixup",
]


def build_optimizer(
    model: nn.Module,
    name: Literal["sgd", "adamw"],
    *,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """SGD (with ``momentum``) or AdamW over the trainable parameters of ``model``.

    Weight decay applies to weights (tensors of two or more dimensions); biases and normalisation scales and
    shifts form a second parameter group without decay. Frozen parameters (``requires_grad=False``) are left
    out.
    """
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decay if parameter.ndim > 1 else no_decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose 'sgd' or 'adamw'")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


@dataclass(frozen=True)
class LRSchedule:
    """The learning rate at each optimizer step (0-based): linear warm-up, then cosine, step or constant.

    - Warm-up: step ``s < warmup_steps`` gets ``base_lr * (s + 1) / warmup_steps``, so the first step is
      already non-zero and step ``warmup_steps - 1`` reaches ``base_lr``.
    - ``cosine``: from ``base_lr`` at step ``warmup_steps`` down to ``min_lr`` at step ``total_steps``:
      ``min_lr + (base_lr - min_lr) * (1 + cos(pi * p)) / 2`` with ``p = (s - warmup_steps) / (total_steps -
      warmup_steps)``.
    - ``step``: ``base_lr * gamma ** m`` where ``m`` counts the ``milestones`` (steps) already reached.
    - ``constant``: ``base_lr``.
    """

    base_lr: float
    total_steps: int
    warmup_steps: int = 0
    kind: Literal["cosine", "step", "constant"] = "cosine"
    min_lr: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return self.base_lr
        if self.kind == "step":
            return self.base_lr * self.gamma ** bisect.bisect_right(self.milestones, step)
        if self.kind == "cosine":
            span = max(self.total_steps - self.warmup_steps, 1)
            progress = min((step - self.warmup_steps) / span, 1.0)
            return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        raise ValueError(f"unknown schedule {self.kind!r}; choose 'cosine', 'step' or 'constant'")


def soft_targets(labels: Tensor, num_classes: int, smoothing: float = 0.0) -> Tensor:
    """Class indices [B] -> target distributions [B, K] float32: ``1 - smoothing + smoothing / K`` on the
    true class and ``smoothing / K`` elsewhere (the label smoothing of ``F.cross_entropy``)."""
    targets = torch.full((labels.shape[0], num_classes), smoothing / num_classes, device=labels.device)
    return targets.scatter_(1, labels[:, None], 1.0 - smoothing + smoothing / num_classes)


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean over the batch of ``-sum_k targets[b, k] * log_softmax(logits)[b, k]``, computed in float32.

    Args:
        logits: [B, K].
        targets: [B, K] distributions (each row sums to 1), from :func:`soft_targets` and :func:`mixup`.
    """
    return F.cross_entropy(logits.float(), targets.float())


def mixup(clips: Tensor, targets: Tensor, alpha: float, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    """Mixup on clips (Zhang et al., ICLR 2018): each clip is blended with another clip of the batch.

    One ``lam ~ Beta(alpha, alpha)`` and one random pairing ``perm`` per batch; clip ``b`` becomes
    ``lam * clips[b] + (1 - lam) * clips[perm[b]]`` (every frame with the same weight) and its target the same
    blend of the two targets, so target rows still sum to 1.

    Args:
        clips: [B, C, T, H, W] (any [B, ...] float tensor).
        targets: [B, K] distributions.
        alpha: Beta parameter, > 0 (small values keep most clips nearly unmixed).
        rng: the source of ``lam`` and ``perm``; the engine derives it from (seed, epoch, step, rank), so a
            resumed run mixes exactly as the uninterrupted one.

    Returns:
        (mixed clips [B, C, T, H, W], mixed targets [B, K]).
    """
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be positive, got {alpha}")
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(clips.shape[0])).to(clips.device)
    mixed_clips = clips.mul(lam).add_(clips[perm], alpha=1.0 - lam)
    mixed_targets = targets.mul(lam).add_(targets[perm], alpha=1.0 - lam)
    return mixed_clips, mixed_targets
