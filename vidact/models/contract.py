"""The model contract in code: what every registered model is (:class:`VideoModel`) and the layouts its
features come in (:class:`FeatureLayout`), so that callers rely on them instead of testing classes.

It is timm's contract, with a time axis::

    model(x)                                   == model.forward_head(model.forward_features(x))
    model.forward_features(x)                  unpooled features in the model's ``feature_layout``
    model.forward_head(f, pre_logits=False)    -> logits [B, num_classes]; ``pre_logits``: [B, head_hidden_size]
    model.forward_temporal(x)                  -> [B, T', num_features]: the features pooled over all but time
    model.feature_layout                       a :class:`FeatureLayout`, one per family (a class attribute)
    model.num_features                         D, the channel width of ``forward_features``
    model.head_hidden_size                     the width of the pre-logits: D, unless the head has hidden
                                               layers between the pooled features and the classifier (C3D's
                                               fc6/fc7, 4096)
    model.num_classes                          K; 0: no classifier, ``model(x)`` returns the pre-logits
    model.get_classifier()                     the classifier module (``nn.Identity`` when K = 0)
    model.reset_classifier(K)                  a new classifier for K classes (0: none)

``x`` is a clip batch [B, C, T, H, W] for video models and joints [B, M, T, V, C] for skeleton models (the
model card's ``modality``). tests/test_contract.py checks every clause on every registered model.

Token models (``FeatureLayout.TOKENS``: the video transformers) also say how their tokens lie
(:class:`TokenModel`)::

    model.num_prefix_tokens                    P, the tokens before the grid ones (a CLS token: 1, else 0)
    model.token_grid(T, H, W)                  (T', H', W'), the grid of the N = T' H' W' tokens that follow
                                               them, for clips of T x H x W

What the families and their callers share: :func:`temporal_pool` (features in any layout -> [B, T', D], what
every ``forward_temporal`` computes), :func:`fuse_pathways` (SlowFast's maps -> one [B, D, T', H', W'] map) and
:func:`feature_map` (a model's one spatiotemporal map, for dense per-cell tasks such as masked reconstruction).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError

__all__ = [
    "FeatureLayout",
    "VideoModel",
    "TokenModel",
    "temporal_pool",
    "fuse_pathways",
    "grid_tokens",
    "feature_map",
]


class FeatureLayout(enum.StrEnum):
    """How a family's ``forward_features`` lays out its output (a ``str``: ``"BCTHW"`` compares equal), with
    what each means in :attr:`description`."""

    BCTHW = "BCTHW", "3D CNNs: one map [B, D, T', H', W'] (C3D, Simple3D, the ResNet-3Ds, I3D)"
    BTC = "BTC", "per frame: one vector per input frame [B, T, D], in frame order (the per-frame baselines)"
    BMCTV = (
        "BMCTV",
        "skeletons: [B, M, D, T', V], per person slot M, time step T' and joint V (ST-GCN, EfficientGCN, "
        "and the single-frame baseline, whose T' = T)",
    )
    PATHWAYS = (
        "pathways",
        "several 3D CNN pathways: a list of [B, D_i, T_i, H', W'] maps of one spatial size, the first with "
        "the fewest frames, D = sum of D_i (SlowFast: [slow, fast], T_fast = alpha T_slow)",
    )
    TOKENS = (
        "tokens",
        "transformer tokens [B, P + T' H' W', D]: P prefix tokens (a CLS token), then one token per cell of the "
        "model's token grid in (t, h, w) order (ViViT, TimeSformer, VideoMAE; see TokenModel)",
    )

    description: str

    def __new__(cls, value: str, description: str) -> FeatureLayout:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member


@runtime_checkable
class VideoModel(Protocol):
    """What :func:`~vidact.models.build_model` returns: an ``nn.Module`` keeping timm's contract (see the
    module docstring). ``isinstance(model, VideoModel)`` checks that the members are there."""

    feature_layout: ClassVar[FeatureLayout]
    num_features: int
    head_hidden_size: int
    num_classes: int

    def __call__(self, x: Any) -> Tensor: ...

    def forward(self, x: Any) -> Tensor:
        """Inputs -> logits [B, num_classes] (K = 0: the pre-logits [B, head_hidden_size])."""
        ...

    def forward_features(self, x: Any) -> Any:
        """Inputs -> unpooled features in :attr:`feature_layout`."""
        ...

    def forward_head(self, x: Any, pre_logits: bool = False) -> Tensor:
        """Features -> logits [B, num_classes] (``pre_logits``: [B, head_hidden_size])."""
        ...

    def forward_temporal(self, x: Any) -> Tensor:
        """Inputs -> temporal features [B, T', num_features]."""
        ...

    def get_classifier(self) -> nn.Module: ...

    def reset_classifier(self, num_classes: int) -> None: ...


@runtime_checkable
class TokenModel(VideoModel, Protocol):
    """A :class:`VideoModel` whose features are tokens (``FeatureLayout.TOKENS``): ``forward_features(x)`` ->
    [B, P + T' H' W', D], P = :attr:`num_prefix_tokens`, the grid (T', H', W') given by :meth:`token_grid`."""

    num_prefix_tokens: int

    def token_grid(self, frames: int, height: int, width: int) -> tuple[int, int, int]:
        """The grid (T', H', W') of the tokens after the prefix, for clips of ``frames`` x ``height`` x
        ``width``."""
        ...


def _check_pathways(maps: Any) -> Sequence[Tensor]:
    if isinstance(maps, Tensor) or not maps or any(not isinstance(m, Tensor) or m.ndim != 5 for m in maps):
        raise ValueError("pathways features must be a list of [B, D_i, T_i, H', W'] maps")
    return maps


def fuse_pathways(maps: Sequence[Tensor]) -> Tensor:
    """Pathway maps [[B, D_1, T_1, H', W'], [B, D_2, T_2, H', W'], ...] -> one map [B, sum D_i, T_1, H', W'].

    Every pathway is average-pooled in time onto the first one's T_1 frames (SlowFast: each group of alpha
    Fast frames becomes one Slow time step) and the maps are concatenated on channels.

    Raises:
        ValueError: the maps differ in batch or spatial size, or a later pathway has fewer frames.
    """
    maps = _check_pathways(maps)
    b, _, t, h, w = maps[0].shape
    for m in maps[1:]:
        if m.shape[0] != b or m.shape[3:] != (h, w) or m.shape[2] < t:
            raise ValueError(
                f"pathway maps {[tuple(m.shape) for m in maps]} differ in batch or spatial size, or a later one "
                "has fewer frames than the first"
            )
    return torch.cat([maps[0], *(F.adaptive_avg_pool3d(m, (t, h, w)) for m in maps[1:])], dim=1)


def grid_tokens(tokens: Tensor, grid: Sequence[int], num_prefix_tokens: int = 0) -> Tensor:
    """Tokens [B, P + T' H' W', D] -> the grid ones as a map [B, D, T', H', W'] (the P prefix tokens dropped).

    Raises:
        ValueError: ``tokens`` that do not hold P prefix tokens and a T' x H' x W' grid.
    """
    t, h, w = grid
    if tokens.ndim != 3 or tokens.shape[1] != num_prefix_tokens + t * h * w:
        raise ValueError(
            f"tokens {tuple(tokens.shape)} are not [B, {num_prefix_tokens} + {t}x{h}x{w}, D] "
            f"({num_prefix_tokens} prefix tokens and a {t}x{h}x{w} grid)"
        )
    b, _, d = tokens.shape
    return tokens[:, num_prefix_tokens:].reshape(b, t, h, w, d).permute(0, 4, 1, 2, 3)


def temporal_pool(
    features: Tensor | Sequence[Tensor],
    layout: FeatureLayout | str,
    *,
    grid: Sequence[int] | None = None,
    num_prefix_tokens: int = 0,
) -> Tensor:
    """Features in ``layout`` -> temporal features [B, T', D], averaged over all but time.

    BCTHW [B, D, T', H', W']: the mean over H', W'. BTC [B, T, D]: unchanged. BMCTV [B, M, D, T', V]: the mean
    over persons and joints. PATHWAYS: :func:`fuse_pathways`, then the mean over H', W' (T' of the first
    pathway). TOKENS [B, P + T' H' W', D]: the prefix tokens dropped, the mean over H', W' of the ``grid``
    (T', H', W') (``grid`` and ``num_prefix_tokens`` are the model's, :class:`TokenModel`).

    Raises:
        ValueError: ``features`` that are not laid out as ``layout`` says (a list where one tensor is expected,
            tokens that do not fill ``grid``, TOKENS without a ``grid``).
    """
    layout = FeatureLayout(layout)
    if layout is FeatureLayout.PATHWAYS:
        features = fuse_pathways(features)  # type: ignore[arg-type]
    elif not isinstance(features, Tensor):
        raise ValueError(f"{layout.value} features are one tensor, got {type(features).__name__}")
    if layout is FeatureLayout.BTC:
        return features
    if layout is FeatureLayout.TOKENS:
        if grid is None:
            raise ValueError("pooling tokens needs their grid (T', H', W')")
        features = grid_tokens(features, grid, num_prefix_tokens)
    if layout is FeatureLayout.BMCTV:
        return features.mean(dim=(1, 4)).transpose(1, 2)
    return features.mean(dim=(3, 4)).transpose(1, 2)


def feature_map(model: VideoModel, x: Tensor) -> Tensor:
    """Clips [B, C, T, H, W] -> one spatiotemporal map [B, num_features, T', H', W'] of a model whose layout is
    BCTHW (its ``forward_features``), PATHWAYS (:func:`fuse_pathways` of them) or TOKENS (the grid tokens,
    :func:`grid_tokens`): what a dense per-cell task (masked reconstruction) reads.

    Raises:
        ConfigError: a model whose features have no spatial axes (per frame, skeletons).
    """
    layout = FeatureLayout(model.feature_layout)
    if layout is FeatureLayout.BCTHW:
        return model.forward_features(x)
    if layout is FeatureLayout.PATHWAYS:
        return fuse_pathways(model.forward_features(x))
    if layout is FeatureLayout.TOKENS:
        grid = model.token_grid(*x.shape[2:])  # type: ignore[attr-defined]
        return grid_tokens(model.forward_features(x), grid, model.num_prefix_tokens)  # type: ignore[attr-defined]
    raise ConfigError(
        f"{type(model).__name__}'s features are {layout.value} ({layout.description}), not [B, D, T', H', W'] maps"
    )
