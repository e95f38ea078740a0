"""What each attention pattern of a video transformer costs, counted analytically: tokens, query-key pairs per
layer, FLOPs per clip (attention and MLP apart) and the memory of the attention maps (``vidact attention-cost``).

A clip of T x S x S frames cut into t x p x p tubelets gives a grid of T' = T / t time steps and H' = W' = S / p
rows and columns: N = T' H' W' tokens of width D. Per layer, each pattern scores these query-key pairs (per
head; ``+ 1``: a CLS token, where the pattern's model has one):

    joint                       (N + 1)^2                       one sequence of every token (ViViT model 1,
                                                                TimeSformer's joint ablation)
    divided                     H'W' T'^2 + T' (H'W' + 1)^2     time within each spatial cell, then space within
                                                                each frame (TimeSformer)
    factorised_encoder          T' (H'W' + 1)^2 [spatial layers], (T' + 1)^2 [temporal layers] (ViViT model 2)
    factorised_self_attention   T' (H'W')^2 + H'W' T'^2         space, then time, in each block (ViViT model 3)
    factorised_dot_product      (T' (H'W')^2 + H'W' T'^2) / 2   half the heads in space, half in time (model 4;
                                                                the mean over its heads)
    space_only                  T' (H'W' + 1)^2                 each frame alone (TimeSformer's space ablation)

FLOPs count 2 per multiply-add, as :func:`vidact.models.profile.count_flops` does (so the two can be compared):
a sequence of L tokens costs ``2 L D 3D`` (qkv) + ``4 L^2 D`` (scores and weighted values, all heads) + ``2 L D
D`` (output projection) in attention and ``4 L D m`` (m = MLP width) in the MLP; the tubelet embedding costs ``2
N D C t p p``, TimeSformer's temporal output Linear ``2 N D D`` per layer, a classifier ``2 D K``. Norms,
softmax and additions are not counted (nor does torch's counter count them). The attention maps are what eager
training keeps for the backward pass: ``heads x pairs`` values per attention sublayer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ...errors import ConfigError

__all__ = ["PATTERNS", "AttentionCost", "attention_cost", "attention_costs", "growth", "plot_growth"]

#: The attention patterns, with what each is.
PATTERNS: dict[str, str] = {
    "joint": "every token attends to every token (ViViT model 1, TimeSformer joint)",
    "divided": "time within each spatial cell, then space within each frame (TimeSformer)",
    "factorised_encoder": "a spatial encoder per frame, then a temporal one over the frames' CLS (ViViT model 2)",
    "factorised_self_attention": "space, then time, in each block (ViViT model 3)",
    "factorised_dot_product": "half the heads in space, half in time (ViViT model 4)",
    "space_only": "each frame on its own, no attention across time (TimeSformer space-only)",
}


@dataclass(frozen=True)
class AttentionCost:
    """The cost of one attention pattern on one clip size (see the module docstring for the counts).

    Attributes:
        pattern: a key of :data:`PATTERNS`.
        grid: the token grid (T', H', W').
        tokens: N = T' H' W', the tubelet tokens of a clip.
        pairs_per_layer: query-key pairs one head scores in one layer, summed over the layer's sequences
            (model 2: a spatial layer; model 4: the mean over its heads; model 3: both sublayers).
        layers: transformer layers (model 2: spatial + temporal).
        attention_flops: FLOPs per clip of every attention sublayer: qkv, scores, weighted values, projection
            (and TimeSformer's temporal Linear).
        score_flops: the part of ``attention_flops`` that grows with the pairs: scores and weighted values.
        mlp_flops: FLOPs per clip of every MLP.
        other_flops: the tubelet embedding and the classifier.
        attention_map_bytes: the attention maps of one clip over all layers (what eager training keeps).
    """

    pattern: str
    grid: tuple[int, int, int]
    tokens: int
    pairs_per_layer: int
    layers: int
    attention_flops: int
    score_flops: int
    mlp_flops: int
    other_flops: int
    attention_map_bytes: int

    @property
    def flops(self) -> int:
        """All FLOPs of one clip's forward pass."""
        return self.attention_flops + self.mlp_flops + self.other_flops

    def to_dict(self) -> dict:
        """The fields and ``flops`` as plain JSON values."""
        return {**asdict(self), "grid": list(self.grid), "flops": self.flops}


def _pairs(sequences: Sequence[tuple[int, int]]) -> int:
    """Query-key pairs of one head over ``count`` sequences of ``length`` tokens, per (count, length)."""
    return sum(count * length * length for count, length in sequences)


def _tokens(sequences: Sequence[tuple[int, int]]) -> int:
    return sum(count * length for count, length in sequences)


def attention_cost(
    pattern: str,
    *,
    frames: int = 16,
    size: int = 224,
    tubelet: int = 2,
    patch: int = 16,
    dim: int = 768,
    layers: int = 12,
    heads: int = 12,
    mlp_ratio: float = 4.0,
    in_chans: int = 3,
    temporal_layers: int = 4,
    num_classes: int = 0,
    bytes_per_element: int = 4,
) -> AttentionCost:
    """The cost of ``pattern`` on clips of ``frames`` x ``size`` x ``size`` (see the module docstring).

    Args:
        tubelet, patch: the tubelet's frames t and side p.
        layers: transformer layers (model 2: its spatial encoder's).
        temporal_layers: model 2's temporal encoder layers.
        num_classes: a classifier's classes (0: none counted).
        bytes_per_element: of the attention maps (4: float32, 2: bf16).

    Raises:
        ConfigError: an unknown pattern, sizes that are not positive, a clip smaller than one tubelet.
    """
    if pattern not in PATTERNS:
        raise ConfigError(f"unknown attention pattern {pattern!r}; choose from {', '.join(PATTERNS)}")
    sizes = {"frames": frames, "size": size, "tubelet": tubelet, "patch": patch, "dim": dim, "layers": layers}
    for name, value in {**sizes, "heads": heads}.items():
        if value < 1:
            raise ConfigError(f"attention cost: {name} must be positive, got {value}")
    t, s = frames // tubelet, size // patch
    if t < 1 or s < 1:
        raise ConfigError(
            f"clips of {frames}x{size}x{size} are smaller than one {tubelet}x{patch}x{patch} tubelet"
        )
    cells = s * s
    n = t * cells
    frame_seqs, frame_cls_seqs, tube_seqs = [(t, cells)], [(t, cells + 1)], [(cells, t)]
    # (sequences of each attention sublayer of a layer, the share of the heads on them) and tokens per MLP.
    if pattern == "joint":
        sublayers, mlp_tokens = [([(1, n + 1)], 1.0)], n + 1
    elif pattern == "space_only":
        sublayers, mlp_tokens = [(frame_cls_seqs, 1.0)], t * (cells + 1)
    elif pattern == "divided":
        sublayers, mlp_tokens = [(tube_seqs, 1.0), (frame_cls_seqs, 1.0)], n + 1
    elif pattern == "factorised_encoder":
        sublayers, mlp_tokens = [(frame_cls_seqs, 1.0)], t * (cells + 1)
    elif pattern == "factorised_self_attention":
        sublayers, mlp_tokens = [(frame_seqs, 1.0), (tube_seqs, 1.0)], n
    else:  # factorised_dot_product: one qkv and projection over the tokens, half the heads on each axis
        sublayers, mlp_tokens = [(frame_seqs, 0.5), (tube_seqs, 0.5)], n
    scores = sum(4 * _pairs(seqs) * dim * share for seqs, share in sublayers)
    projected = n if pattern == "factorised_dot_product" else sum(_tokens(seqs) for seqs, _ in sublayers)
    layer_attention = 8 * projected * dim * dim + scores  # qkv (6 L D^2) + projection (2 L D^2) + scores
    if pattern == "divided":
        layer_attention += 2 * n * dim * dim  # the temporal output Linear
    pairs = sum(_pairs(seqs) * share for seqs, share in sublayers)
    if pattern != "factorised_dot_product":
        pairs = sum(_pairs(seqs) for seqs, _ in sublayers)
    maps = heads * pairs * layers  # model 4: (heads / 2) x (space + time pairs) = heads x their mean
    attention_flops, score_flops = layers * layer_attention, layers * scores
    mlp_width = round(dim * mlp_ratio)
    mlp_flops = 4 * layers * mlp_tokens * dim * mlp_width
    if pattern == "factorised_encoder":  # the temporal encoder over [temporal CLS + T' frame tokens]
        temporal = [(1, t + 1)]
        temporal_scores = 4 * _pairs(temporal) * dim
        attention_flops += temporal_layers * (8 * (t + 1) * dim * dim + temporal_scores)
        score_flops += temporal_layers * temporal_scores
        mlp_flops += 4 * temporal_layers * (t + 1) * dim * mlp_width
        maps += heads * _pairs(temporal) * temporal_layers
        layers += temporal_layers
    embed = 2 * n * dim * in_chans * tubelet * patch * patch
    return AttentionCost(
        pattern=pattern,
        grid=(t, s, s),
        tokens=n,
        pairs_per_layer=round(pairs),
        layers=layers,
        attention_flops=round(attention_flops),
        score_flops=round(score_flops),
        mlp_flops=mlp_flops,
        other_flops=embed + 2 * dim * num_classes,
        attention_map_bytes=round(maps) * bytes_per_element,
    )


def attention_costs(**sizes: int | float) -> list[AttentionCost]:
    """:func:`attention_cost` of every pattern (in :data:`PATTERNS`' order) on the same sizes."""
    return [attention_cost(pattern, **sizes) for pattern in PATTERNS]  # type: ignore[arg-type]


def growth(axis: str, values: Sequence[int], **sizes: int | float) -> dict[str, list[AttentionCost]]:
    """Each pattern's cost as ``axis`` (``"frames"`` or ``"size"``) takes ``values``, the other sizes fixed.

    Raises:
        ConfigError: another axis.
    """
    if axis not in ("frames", "size"):
        raise ConfigError(f"growth is along 'frames' or 'size', got {axis!r}")
    return {p: [attention_cost(p, **{**sizes, axis: v}) for v in values] for p in PATTERNS}  # type: ignore[arg-type]


def plot_growth(
    path: str | os.PathLike,
    frame_counts: Sequence[int],
    frame_sizes: Sequence[int],
    **fixed: int | float,
) -> None:
    """A figure (PNG, written atomically) of how each pattern's pairs per layer and FLOPs per clip grow with
    the clip length (``frame_counts``, at ``fixed["size"]``) and with the frame size (``frame_sizes``, at
    ``fixed["frames"]``), log scales; ``fixed``: :func:`attention_cost`'s other arguments."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..._atomic import atomic_write

    figure = Figure(figsize=(11, 8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 2)
    for column, (axis, values) in enumerate((("frames", frame_counts), ("size", frame_sizes))):
        curves = growth(axis, values, **{k: v for k, v in fixed.items() if k != axis})
        for pattern, costs in curves.items():
            axes[0, column].plot(values, [c.pairs_per_layer for c in costs], marker="o", label=pattern)
            axes[1, column].plot(values, [c.flops / 1e9 for c in costs], marker="o", label=pattern)
        other = (
            f"{fixed.get('size', 224)}x{fixed.get('size', 224)}"
            if axis == "frames"
            else f"{fixed.get('frames', 16)} frames"
        )
        axes[0, column].set_title(f"attention pairs per layer vs {axis} ({other})")
        axes[1, column].set_title(f"GFLOPs per clip vs {axis} ({other})")
        for row in range(2):
            axes[row, column].set_xlabel("frames" if axis == "frames" else "frame size (pixels)")
            axes[row, column].set_yscale("log")
            axes[row, column].grid(True, which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    with atomic_write(path, "wb") as f:
        figure.savefig(f, format="png", dpi=100)
