"""Optimisation pieces of the training loop: optimizer, learning-rate schedule, soft targets, mixup and
gradient checkpointing.

Each is a plain function or a small frozen object, so the loop stays readable and each piece is testable:

    >>> optimizer = build_optimizer(model, "sgd", lr=0.1, momentum=0.9, weight_decay=1e-4)
    >>> schedule = LRSchedule(0.1, total_steps=1000, warmup_steps=50, kind="cosine")
    >>> set_lr(optimizer, schedule(step))                                   # x each group's lr_scale
    >>> optimizer = build_optimizer(vit, "adamw", lr=1e-3, layer_decay=0.75)  # vit.layer_id, vit.num_layers
    >>> enable_grad_checkpointing(vit)                                      # vit.set_grad_checkpointing(True)
    >>> targets = soft_targets(labels, num_classes, smoothing=0.1)          # [B, K]
    >>> clips, targets = mixup(clips, targets, alpha=0.2, rng=rng)          # mixed along the batch
    >>> loss = soft_cross_entropy(model(clips), targets)

The schedule is a pure function of the optimizer step: resuming a run restores it from the step count, and each
group's ``lr_scale`` travels in the optimizer's state.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError

__all__ = [
    "build_optimizer",
    "param_groups",
    "LRSchedule",
    "set_lr",
    "enable_grad_checkpointing",
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
    layer_decay: float = 1.0,
    model_name: str | None = None,
) -> torch.optim.Optimizer:
    """SGD (with ``momentum``) or AdamW over the trainable parameters of ``model``, grouped by
    :func:`param_groups` (weight decay or not; with ``layer_decay < 1``, also by layer, each group with its
    ``lr_scale``). ``model_name`` names the model in errors (default: its class).

    Raises:
        ConfigError: ``layer_decay < 1`` for a model that names no layers.
        ValueError: an unknown optimizer, or ``layer_decay`` outside (0, 1].
    """
    groups = param_groups(model, weight_decay=weight_decay, layer_decay=layer_decay, model_name=model_name)
    for group in groups:
        group["lr"] = lr * group["lr_scale"]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose 'sgd' or 'adamw'")


def param_groups(
    model: nn.Module,
    *,
    weight_decay: float,
    layer_decay: float = 1.0,
    model_name: str | None = None,
) -> list[dict[str, Any]]:
    """The parameter groups of ``model``'s trainable parameters (frozen ones, ``requires_grad=False``, are left
    out), each a dict with ``params``, ``weight_decay``, ``lr_scale`` and ``layer``.

    Weight decay applies to weights (tensors of two or more dimensions) except those a module lists in its
    ``no_weight_decay()`` (timm's method: names relative to that module, such as ``{"pos_embed",
    "cls_token"}``); biases and normalisation scales and shifts get none.

    Layer-wise learning-rate decay (BEiT, VideoMAE fine-tuning): with ``layer_decay < 1``, the outermost module
    that names layers — a ``layer_id(name) -> int`` method over its parameter names and a ``num_layers``
    attribute (embeddings 0, block ``i`` ``i + 1``, the rest ``num_layers + 1``), the model itself or one
    sub-network such as a pre-training wrapper's encoder — gives each parameter its layer; parameters outside
    it are head parameters (layer ``num_layers + 1``). Layer ``l`` learns at ``layer_decay ** (num_layers + 1 -
    l)`` times the schedule's rate: the head at the full rate, the embeddings at the smallest. One group per
    (layer, decay or not), in that order. With ``layer_decay == 1`` there are two groups (decay first), both at
    scale 1, whatever the model.

    Raises:
        ConfigError: ``layer_decay < 1`` for a model without a (single) module that names layers.
        ValueError: ``layer_decay`` outside (0, 1], or a layer id outside [0, num_layers + 1].
    """
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay}")
    skip = _no_weight_decay(model)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    layers: dict[str, int] = dict.fromkeys((n for n, _ in named), 0)
    num_layers = -1  # every parameter in layer 0, scale 1
    if layer_decay < 1.0:
        num_layers, layers = _layer_ids(model, [n for n, _ in named], model_name or type(model).__name__)
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, parameter in named:
        decays = parameter.ndim > 1 and name not in skip
        layer = layers[name]
        group = groups.setdefault(
            (layer, decays),
            {
                "params": [],
                "weight_decay": weight_decay if decays else 0.0,
                "lr_scale": layer_decay ** (num_layers + 1 - layer),
                "layer": layer,
            },
        )
        group["params"].append(parameter)
    return [groups[key] for key in sorted(groups, key=lambda key: (key[0], not key[1]))]


def _no_weight_decay(model: nn.Module) -> set[str]:
    """Full names of the parameters that modules of ``model`` exempt from weight decay (``no_weight_decay()``)."""
    names: set[str] = set()
    for prefix, module in model.named_modules():
        exempt = getattr(module, "no_weight_decay", None)
        if callable(exempt):
            names.update(f"{prefix}.{name}" if prefix else name for name in exempt())
    return names


def _outermost(model: nn.Module, offers: Callable[[nn.Module], bool]) -> list[tuple[str, nn.Module]]:
    """(prefix, module) of the modules of ``model`` that ``offers`` holds for, leaving out those inside
    another such module (``named_modules`` lists a module before its children)."""
    found: list[tuple[str, nn.Module]] = []
    for prefix, module in model.named_modules():
        inside = any(not q or prefix.startswith(f"{q}.") for q, _ in found)
        if not inside and offers(module):
            found.append((prefix, module))
    return found


def _names_layers(module: nn.Module) -> bool:
    return callable(getattr(module, "layer_id", None)) and isinstance(
        getattr(module, "num_layers", None), int
    )


def _layer_ids(model: nn.Module, names: list[str], model_name: str) -> tuple[int, dict[str, int]]:
    """(num_layers, parameter name -> layer) from the outermost module of ``model`` that names layers."""
    namers = _outermost(model, _names_layers)
    if len(namers) != 1:
        what = "names no layers (no layer_id)" if not namers else "has several sub-networks that name layers"
        raise ConfigError(
            f"train.layer_decay: {model_name} {what}, so layer-wise decay cannot apply; set it to 1.0"
        )
    prefix, namer = namers[0]
    head = namer.num_layers + 1
    start = f"{prefix}." if prefix else ""
    layers = {}
    for name in names:
        layer = int(namer.layer_id(name[len(start) :])) if name.startswith(start) else head
        if not 0 <= layer <= head:
            raise ValueError(f"{model_name}: layer_id({name!r}) is {layer}, not in [0, {head}]")
        layers[name] = layer
    return namer.num_layers, layers


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group: ``lr`` times the group's ``lr_scale`` (1 without)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def enable_grad_checkpointing(model: nn.Module, model_name: str | None = None) -> None:
    """Turn on gradient checkpointing (activations recomputed in the backward pass instead of stored) in every
    outermost module of ``model`` that offers it: timm's ``set_grad_checkpointing(enable=True)`` method (the
    model itself, or the sub-networks of a wrapper such as a pre-training encoder).

    Raises:
        ConfigError: no module of ``model`` offers it (``model_name``, default its class, names it).
    """
    done = _outermost(model, lambda module: callable(getattr(module, "set_grad_checkpointing", None)))
    for _, module in done:
        module.set_grad_checkpointing(True)
    if not done:
        raise ConfigError(
            f"train.grad_checkpointing: {model_name or type(model).__name__} has no gradient checkpointing "
            "(no set_grad_checkpointing); set it to false"
        )


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
