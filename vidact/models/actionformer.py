"""ActionFormer (Zhang, Wu and Li, ECCV 2022): single-stage temporal action detection on feature sequences.

    features [B, D, T] + mask [B, T]                                 (one feature vector per step of a video)
      -> embedding: 2 x (masked conv k=3, LayerNorm, ReLU)                               [B, C, T]
      -> stem: transformer blocks at full resolution                                     level 0, stride 1
      -> branch: transformer blocks, each halving time (strided q/k/v convs, max-pooled skip)
                                                                                         levels 1.., strides 2, 4..
      -> neck: a LayerNorm per level (the paper's identity FPN)
      -> heads shared by all levels, 3 masked convs each: classification (K sigmoid logits per step, bias at
         prior 0.01) and regression (a learnt Scale per level, ReLU: distances to the start and the end)
    -> {"cls_logits": [[B, T_l, K]], "offsets": [[B, T_l, 2]], "masks": [[B, T_l]]},  T_l = ceil(T / 2^l)

Every transformer block is pre-norm and attends locally: each step of a level attends to the steps within
``window // 2`` of it at that level (:func:`windowed_attention`: blocked windows through
``F.scaled_dot_product_attention`` with the band mask), never to padding. The queries, keys and values come
from depthwise convolutions (the paper's convolutional projections), which also downsample in the branch.

The detection contract (what :mod:`vidact.detect` and the detection task rely on; ``tests/test_contract.py``
checks it on every model whose card has ``modality="features"``)::

    model(features [B, D, T], mask [B, T] bool | None)   -> the dict above; offsets are in units of the
                                                            level's stride (x ``model.strides[l]`` = steps)
    model.forward_features(features, mask)              -> Pyramid(levels [[B, C, T_l]], masks [[B, T_l]])
    model.forward_head(pyramid)                         -> the dict
    model.strides, model.regression_ranges              per level: stride and the range (steps) of the
                                                        distance to the farther boundary it regresses
    model.max_seq_len                                   the training length (the data pads to it)
    model.num_classes, get_classifier(), reset_classifier(K)
                                                        the classification head's last layer (fine-tuning on
                                                        another class count replaces it)

Any length T works: the input is zero-padded inside to a multiple of the largest stride and the outputs are
cut back to ``ceil(T / stride)`` steps per level. Masks travel with the features through every layer (masked
convolutions, masked max-pooling, attention that never reads a padded key, padded steps held at exactly zero
after every norm), so a sequence padded in a batch gives, on its real steps, the outputs it gives alone.

Module names follow the authors' release (``backbone.embd.0.conv``, ``backbone.stem.0.attn.query_conv.conv``,
``neck.fpn_norms.0``, ``cls_head.cls_head.conv``, ``reg_head.scale.0.scale``...): their checkpoints load with
the ``actionformer_release`` layout (:func:`convert_release_state_dict`: the ``module.`` prefix dropped,
LayerNorm weights [1, C, 1] -> [C]; ``build_model("actionformer", weights="epoch_034.pth.tar")`` finds it), and
tests/test_actionformer.py checks the outputs against values recorded from their code. Two departures, both on
padded steps only: those stay zero after the norms (theirs carry a norm's bias into the first padded step, where
the convolutions of the last real steps read it), and the max-pooled skip leaves them out (theirs pools their
zeros). Relative position encodings (an option of the release, off in its configurations) are not implemented.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.features import FeaturesSpec
from ..errors import ConfigError
from .converters import register_converter
from .registry import ModelCard, register_model
from .vit.layers import DropPath, sinusoid_table
from .weights import StateDict

__all__ = [
    "Pyramid",
    "MaskedConv1d",
    "LayerNorm",
    "Scale",
    "AffineDropPath",
    "masked_max_pool",
    "windowed_attention",
    "MaskedConvAttention",
    "TransformerBlock",
    "ConvEmbedding",
    "ConvTransformerBackbone",
    "IdentityNeck",
    "ClassificationHead",
    "RegressionHead",
    "ActionFormer",
    "default_regression_ranges",
    "check_detector_input",
    "crop_pyramid",
    "init_prior_bias",
    "convert_release_state_dict",
    "actionformer",
    "actionformer_anet",
    "actionformer_tiny",
]

_PAPER = (
    "Zhang, Wu and Li. ActionFormer: Localizing Moments of Actions with Transformers. ECCV 2022 "
    "(github.com/happyharrycn/actionformer_release)"
)


class Pyramid(NamedTuple):
    """A detector's features: one map per level, each with the mask of its real steps.

    Attributes:
        levels: per level l, [B, C, T_l] features (zero on padded steps).
        masks: per level l, [B, T_l] bool, True on real steps.
    """

    levels: list[Tensor]
    masks: list[Tensor]


def _mask_like(mask: Tensor, x: Tensor) -> Tensor:
    """mask [B, T] bool -> [B, 1, T] in ``x``'s dtype, to multiply [B, C, T] features with."""
    return mask[:, None, :].to(x.dtype)


class MaskedConv1d(nn.Module):
    """A 1D convolution whose output is zero on padded steps: (x [B, C_in, T], mask [B, T] bool) ->
    (y [B, C_out, ceil(T / stride)], mask [B, ceil(T / stride)]).

    The kernel is odd and centred (padding ``kernel_size // 2``), so output step i is centred on input step
    ``stride * i`` and is real exactly when that step is. The bias starts at zero.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ConfigError(f"masked convolutions take odd kernel sizes, got {kernel_size}")
        self.stride = stride
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=bias
        )
        if bias:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """x [B, C_in, T], mask [B, T] bool -> (y [B, C_out, T'], mask [B, T']), T' = ceil(T / stride)."""
        y = self.conv(x)
        mask = mask[:, :: self.stride]
        return y * _mask_like(mask, y), mask


class LayerNorm(nn.Module):
    """LayerNorm over the channels of [B, C, T] maps (each step normalised on its own); weight, bias [C]."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, T] -> [B, C, T]."""
        y = F.layer_norm(x.transpose(1, 2), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.transpose(1, 2)


class Scale(nn.Module):
    """A learnt scalar factor (one per pyramid level on the regression outputs), starting at 1."""

    def __init__(self, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        """Any shape -> the same, times the scale."""
        return x * self.scale


class AffineDropPath(nn.Module):
    """A residual branch [B, C, T] scaled per channel (initialised small, 1e-4: the branch starts almost off,
    as the release's ``AffineDropPath``) and dropped per sample with probability ``p`` in training."""

    def __init__(self, channels: int, p: float, init_value: float = 1e-4) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((1, channels, 1), init_value))
        self.drop = DropPath(p)

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, T] -> [B, C, T]."""
        return self.drop(self.scale * x)


def masked_max_pool(x: Tensor, mask: Tensor, stride: int) -> Tensor:
    """Max over the ``stride + 1`` real steps around each output step (step i centred on input step
    ``stride * i``), padded steps left out: x [B, C, T], mask [B, T] bool -> [B, C, ceil(T / stride)], zero on
    padded output steps. ``stride`` 1 returns ``x``."""
    if stride == 1:
        return x
    kernel = stride + 1
    pooled = F.max_pool1d(x.masked_fill(~mask[:, None, :], float("-inf")), kernel, stride, kernel // 2)
    return pooled.masked_fill(~mask[:, None, ::stride], 0.0)


def windowed_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor,
    window: int | None = None,
    *,
    dropout_p: float = 0.0,
) -> Tensor:
    """Masked local self-attention: step i attends to the real steps j with ``|i - j| <= window // 2``.

    Computed in blocks of ``window`` queries, each against the ``window + 2 (window // 2)`` keys around it,
    through ``F.scaled_dot_product_attention`` with the band (and key) mask, so the cost grows as T x window
    rather than T^2; ``window=None`` attends to every real step (global attention). A padded query attends to
    itself only (its output is meaningless and the callers zero it).

    Args:
        query, key, value: [B, H, T, E].
        mask: [B, T] bool, True on real steps (the keys that may be attended to).
        window: odd, >= 3; ``None`` for global attention.
        dropout_p: dropout on the attention weights (pass 0 in evaluation).

    Returns:
        [B, H, T, E].
    """
    b, h, t, e = query.shape
    if window is None or window // 2 >= t - 1:  # the band covers every key: one dense attention
        allowed = mask[:, None, None, :] | torch.eye(t, dtype=torch.bool, device=query.device)
        return F.scaled_dot_product_attention(query, key, value, attn_mask=allowed, dropout_p=dropout_p)
    half, block = window // 2, window
    blocks = -(-t // block)
    extra = blocks * block - t
    span = block + 2 * half

    def key_blocks(x: Tensor) -> Tensor:  # [B, H, T, E] -> [B * blocks, H, span, E]
        x = F.pad(x, (0, 0, half, extra + half)).unfold(2, span, block)  # [B, H, blocks, E, span]
        return x.permute(0, 2, 1, 4, 3).reshape(b * blocks, h, span, e)

    q = F.pad(query, (0, 0, 0, extra)).view(b, h, blocks, block, e).transpose(1, 2)
    q = q.reshape(b * blocks, h, block, e)
    real = F.pad(mask, (half, extra + half), value=False).unfold(1, span, block)  # [B, blocks, span]
    # Key c of a block holds the step (block start - half + c); query r the step (block start + r).
    offset = (
        torch.arange(span, device=query.device)[None, :] - torch.arange(block, device=query.device)[:, None]
    )
    band = (offset >= 0) & (offset <= 2 * half)
    allowed = band & (real[:, :, None, :] | (offset == half))  # [B, blocks, block, span]
    out = F.scaled_dot_product_attention(
        q,
        key_blocks(key),
        key_blocks(value),
        attn_mask=allowed.reshape(b * blocks, 1, block, span),
        dropout_p=dropout_p,
    )
    out = out.view(b, blocks, h, block, e).transpose(1, 2).reshape(b, h, blocks * block, e)
    return out[:, :, :t]


class MaskedConvAttention(nn.Module):
    """Multi-head self-attention whose queries, keys and values come from depthwise convolutions (each
    followed by a LayerNorm and a 1x1 projection), local within ``window`` or global; with ``stride`` 2 the
    convolutions also halve time: x [B, C, T], mask [B, T] -> (y [B, C, T / stride], mask [B, T / stride]).

    Args:
        dim: channels C (a multiple of ``num_heads``).
        num_heads: attention heads.
        window: odd local window (>= 3) at this block's output resolution; ``None``: global.
        stride: 1, or an even downsampling factor (kernel ``stride + 1``).
        attn_drop, proj_drop: dropout on the attention weights and on the output projection.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        window: int | None,
        stride: int = 1,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"attention width {dim} is not a multiple of its {num_heads} heads")
        if stride != 1 and stride % 2:
            raise ConfigError(f"attention downsampling stride must be 1 or even, got {stride}")
        self.num_heads = num_heads
        self.window = window
        self.attn_drop = attn_drop
        kernel = stride + 1 if stride > 1 else 3
        for name in ("query", "key", "value"):
            conv = MaskedConv1d(dim, dim, kernel, stride=stride, groups=dim, bias=False)
            setattr(self, f"{name}_conv", conv)
            setattr(self, f"{name}_norm", LayerNorm(dim))
            setattr(self, name, nn.Conv1d(dim, dim, 1))
        self.proj = nn.Conv1d(dim, dim, 1)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """x [B, C, T] (zero on padded steps), mask [B, T] bool -> (y [B, C, T'], mask [B, T']), T' = T /
        stride, y zero on padded steps."""
        q, out_mask = self.query_conv(x, mask)
        k, _ = self.key_conv(x, mask)
        v, _ = self.value_conv(x, mask)
        q = self.query(self.query_norm(q))
        k = self.key(self.key_norm(k))
        v = self.value(self.value_norm(v))
        b, c, t = q.shape

        def heads(y: Tensor) -> Tensor:  # [B, C, T'] -> [B, H, T', C / H]
            return y.view(b, self.num_heads, c // self.num_heads, t).transpose(2, 3)

        dropout = self.attn_drop if self.training else 0.0
        out = windowed_attention(heads(q), heads(k), heads(v), out_mask, self.window, dropout_p=dropout)
        out = self.proj(out.transpose(2, 3).reshape(b, c, t))
        return self.proj_drop(out) * _mask_like(out_mask, out), out_mask


class TransformerBlock(nn.Module):
    """A pre-norm transformer block on [B, C, T] maps: ``skip(x) + attn(ln1(x))``, then ``+ mlp(ln2(.))``;
    with ``stride`` 2 it halves time (the skip is a masked max-pool of kernel 3).

    Args:
        dim, num_heads, window, stride: as :class:`MaskedConvAttention`.
        mlp_ratio: hidden width of the MLP (two 1x1 convolutions with GELU) over ``dim``.
        drop: dropout in the MLP and after the attention projection.
        attn_drop: dropout on the attention weights.
        drop_path: stochastic depth of both branches; > 0 also scales each branch per channel, starting at
            1e-4 (:class:`AffineDropPath`, as the release does whenever drop-path is on).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        window: int | None,
        stride: int = 1,
        mlp_ratio: int = 4,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.ln1 = LayerNorm(dim)
        self.attn = MaskedConvAttention(
            dim, num_heads, window=window, stride=stride, attn_drop=attn_drop, proj_drop=drop
        )
        self.ln2 = LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Conv1d(dim, mlp_ratio * dim, 1),
            nn.GELU(),
            nn.Dropout(drop),
            nn.Conv1d(mlp_ratio * dim, dim, 1),
            nn.Dropout(drop),
        )
        self.drop_path_attn: nn.Module = AffineDropPath(dim, drop_path) if drop_path > 0 else nn.Identity()
        self.drop_path_mlp: nn.Module = AffineDropPath(dim, drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """x [B, C, T] (zero on padded steps), mask [B, T] bool -> (y [B, C, T'], mask [B, T']), T' = T /
        stride, y zero on padded steps."""
        out, out_mask = self.attn(self.ln1(x) * _mask_like(mask, x), mask)
        keep = _mask_like(out_mask, out)
        out = masked_max_pool(x, mask, self.stride) + self.drop_path_attn(out)
        out = out + self.drop_path_mlp(self.mlp(self.ln2(out)) * keep)
        return out, out_mask


class ConvEmbedding(nn.Module):
    """The embedding of the input features: ``depth`` x (masked conv, LayerNorm, ReLU):
    x [B, D, T], mask [B, T] -> [B, C, T], zero on padded steps (ActionFormer's and the baseline's)."""

    def __init__(self, in_channels: int, dim: int, *, depth: int = 2, kernel_size: int = 3) -> None:
        super().__init__()
        self.embd = nn.ModuleList(
            MaskedConv1d(in_channels if i == 0 else dim, dim, kernel_size, bias=False) for i in range(depth)
        )
        self.embd_norm = nn.ModuleList(LayerNorm(dim) for _ in range(depth))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x [B, D, T] (zero on padded steps), mask [B, T] bool -> [B, C, T]."""
        keep = _mask_like(mask, x)
        for conv, norm in zip(self.embd, self.embd_norm, strict=True):
            x, _ = conv(x, mask)
            x = F.relu(norm(x)) * keep
        return x


class ConvTransformerBackbone(ConvEmbedding):  # a subclass, so the embedding keeps the release's names
    """Embedding, then ``stem`` transformer blocks at full resolution (level 0), then ``branch`` blocks each
    downsampling by ``scale_factor`` (levels 1..): x [B, D, T], mask [B, T] -> one [B, C, T / s_l] map per
    level. T must be a multiple of the largest stride ``scale_factor ** branch``.

    Args:
        in_channels: D.
        dim: C.
        num_heads: attention heads.
        arch: (embedding convs, stem blocks, branch blocks).
        windows: the local window of the stem and of each branch block (``1 + arch[2]`` entries; ``None``:
            global attention).
        scale_factor: the downsampling of each branch block.
        max_seq_len: the length of the absolute position table (``abs_pos_embed``).
        abs_pos_embed: add a fixed sine-cosine position table (scaled by 1/sqrt(C)) after the embedding; a
            longer input resamples it linearly to its length.
        drop, attn_drop, drop_path: as :class:`TransformerBlock`.
    """

    def __init__(
        self,
        in_channels: int,
        dim: int,
        *,
        num_heads: int,
        arch: Sequence[int],
        windows: Sequence[int | None],
        scale_factor: int = 2,
        max_seq_len: int = 2304,
        kernel_size: int = 3,
        abs_pos_embed: bool = False,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__(in_channels, dim, depth=arch[0], kernel_size=kernel_size)
        self.abs_pos_embed = abs_pos_embed
        if abs_pos_embed:
            table = sinusoid_table(max_seq_len, dim).transpose(1, 2) / math.sqrt(dim)  # [1, C, max_seq_len]
            self.register_buffer("pos_embd", table, persistent=False)
        options = {"mlp_ratio": 4, "drop": drop, "attn_drop": attn_drop, "drop_path": drop_path}
        self.stem = nn.ModuleList(
            TransformerBlock(dim, num_heads, window=windows[0], **options) for _ in range(arch[1])
        )
        self.branch = nn.ModuleList(
            TransformerBlock(dim, num_heads, window=windows[1 + i], stride=scale_factor, **options)
            for i in range(arch[2])
        )
        for module in self.modules():  # the release's initialisation: zero biases, default weights
            if isinstance(module, nn.Conv1d | nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor, mask: Tensor) -> Pyramid:  # type: ignore[override]
        """x [B, D, T] (zero on padded steps), mask [B, T] bool -> Pyramid of [B, C, T / s_l] maps."""
        x = super().forward(x, mask)
        if self.abs_pos_embed:
            table = self.pos_embd
            if x.shape[2] > table.shape[2]:
                table = F.interpolate(table, size=x.shape[2], mode="linear", align_corners=False)
            x = x + table[:, :, : x.shape[2]].to(x.dtype) * _mask_like(mask, x)
        for block in self.stem:
            x, mask = block(x, mask)
        levels, masks = [x], [mask]
        for block in self.branch:
            x, mask = block(x, mask)
            levels.append(x)
            masks.append(mask)
        return Pyramid(levels, masks)


class IdentityNeck(nn.Module):
    """The paper's FPN: no top-down path, a LayerNorm on each level (padded steps kept at zero)."""

    def __init__(self, dim: int, num_levels: int) -> None:
        super().__init__()
        self.fpn_norms = nn.ModuleList(LayerNorm(dim) for _ in range(num_levels))

    def forward(self, pyramid: Pyramid) -> Pyramid:
        """Pyramid of [B, C, T_l] maps -> the same shapes, normalised."""
        levels = [
            norm(x) * _mask_like(m, x)
            for norm, x, m in zip(self.fpn_norms, pyramid.levels, pyramid.masks, strict=True)
        ]
        return Pyramid(levels, list(pyramid.masks))


class _ConvTower(nn.Module):
    """``num_layers - 1`` x (masked conv, LayerNorm, ReLU) shared by every level, then a last masked conv (the
    output layer, held by the subclass): [B, C, T_l] -> [B, C_head, T_l] before it."""

    def __init__(self, in_dim: int, dim: int, *, num_layers: int, kernel_size: int, with_ln: bool) -> None:
        super().__init__()
        self.head = nn.ModuleList(
            MaskedConv1d(in_dim if i == 0 else dim, dim, kernel_size, bias=not with_ln)
            for i in range(num_layers - 1)
        )
        self.norm = nn.ModuleList(LayerNorm(dim) if with_ln else nn.Identity() for _ in range(num_layers - 1))

    def tower(self, x: Tensor, mask: Tensor) -> Tensor:
        """[B, C, T_l], mask [B, T_l] -> [B, C_head, T_l], zero on padded steps."""
        keep = _mask_like(mask, x)
        for conv, norm in zip(self.head, self.norm, strict=True):
            x, _ = conv(x, mask)
            x = F.relu(norm(x)) * keep
        return x


def init_prior_bias(layer: nn.Conv1d | nn.Linear, prior_prob: float) -> None:
    """Set a classifier's biases so that every sigmoid starts at ``prior_prob`` (Lin et al.'s focal-loss
    initialisation: rare positives do not swamp the first steps)."""
    nn.init.constant_(layer.bias, -math.log((1 - prior_prob) / prior_prob))


class ClassificationHead(_ConvTower):
    """The classification head shared by all levels: [B, C, T_l] -> logits [B, K, T_l] per level (zero on
    padded steps); its last layer ``cls_head`` (a masked conv to K channels, biases at the prior) is the
    classifier."""

    def __init__(
        self,
        in_dim: int,
        dim: int,
        num_classes: int,
        *,
        num_layers: int = 3,
        kernel_size: int = 3,
        with_ln: bool = True,
        prior_prob: float = 0.01,
    ) -> None:
        super().__init__(in_dim, dim, num_layers=num_layers, kernel_size=kernel_size, with_ln=with_ln)
        self.kernel_size, self.prior_prob = kernel_size, prior_prob
        self.out_in_channels = dim if num_layers > 1 else in_dim
        self.reset(num_classes)

    def reset(self, num_classes: int) -> None:
        """A new last layer for ``num_classes``, its biases at the prior."""
        self.cls_head = MaskedConv1d(self.out_in_channels, num_classes, self.kernel_size)
        if self.prior_prob > 0:
            init_prior_bias(self.cls_head.conv, self.prior_prob)

    def forward(self, pyramid: Pyramid) -> list[Tensor]:
        """Pyramid of [B, C, T_l] -> per level logits [B, K, T_l]."""
        return [self.cls_head(self.tower(x, m), m)[0] for x, m in zip(*pyramid, strict=True)]


class RegressionHead(_ConvTower):
    """The regression head shared by all levels: [B, C, T_l] -> non-negative distances [B, 2, T_l] to the
    start and the end, in units of the level's stride (a learnt :class:`Scale` per level, then ReLU)."""

    def __init__(
        self,
        in_dim: int,
        dim: int,
        num_levels: int,
        *,
        num_layers: int = 3,
        kernel_size: int = 3,
        with_ln: bool = True,
    ) -> None:
        super().__init__(in_dim, dim, num_layers=num_layers, kernel_size=kernel_size, with_ln=with_ln)
        self.scale = nn.ModuleList(Scale() for _ in range(num_levels))
        self.offset_head = MaskedConv1d(dim if num_layers > 1 else in_dim, 2, kernel_size)

    def forward(self, pyramid: Pyramid) -> list[Tensor]:
        """Pyramid of [B, C, T_l] -> per level offsets [B, 2, T_l]."""
        return [
            F.relu(scale(self.offset_head(self.tower(x, m), m)[0]))
            for scale, x, m in zip(self.scale, *pyramid, strict=True)
        ]


def default_regression_ranges(num_levels: int, scale_factor: int = 2) -> tuple[tuple[float, float], ...]:
    """The paper's ranges of the distance to the farther boundary (steps) per level: bounds ``4 f^l``,
    ``(0, 4), (4, 8), ... (4 f^(L-2), inf)`` (f = 2, 6 levels: up to 32-64, then 64-inf)."""
    bounds = [0.0, *(4.0 * scale_factor**level for level in range(num_levels - 1)), math.inf]
    return tuple(zip(bounds[:-1], bounds[1:], strict=True))


def check_detector_input(
    model: nn.Module, features: Tensor, mask: Tensor | None
) -> tuple[Tensor, Tensor, int]:
    """Validate a detector's input and pad it to a multiple of the largest stride.

    Args:
        model: a detector (``in_channels``, ``strides``).
        features: [B, D, T] float, D = ``model.in_channels``.
        mask: [B, T] bool (True on real steps) or None (every step real).

    Returns:
        (features [B, D, T_pad] zero on padded steps, mask [B, T_pad], T), T_pad the next multiple of the
        largest stride.

    Raises:
        ValueError: features that are not [B, D, T], or a mask that is not [B, T] bool.
        ConfigError: features of another width than the model's ``in_channels``.
    """
    if features.ndim != 3:
        raise ValueError(f"detector features must be [B, D, T], got {tuple(features.shape)}")
    b, d, t = features.shape
    if d != model.in_channels:
        raise ConfigError(
            f"features have {d} channels, the detector takes {model.in_channels} (its in_channels)"
        )
    if mask is None:
        mask = torch.ones(b, t, dtype=torch.bool, device=features.device)
    elif mask.shape != (b, t) or mask.dtype != torch.bool:
        raise ValueError(f"the mask must be [B, T] = [{b}, {t}] bool, got {tuple(mask.shape)} {mask.dtype}")
    multiple = model.strides[-1]
    extra = -t % multiple
    features = F.pad(features, (0, extra)) * F.pad(mask, (0, extra))[:, None, :].to(features.dtype)
    return features, F.pad(mask, (0, extra), value=False), t


def crop_pyramid(pyramid: Pyramid, strides: Sequence[int], length: int) -> Pyramid:
    """Each level of a pyramid of an input padded past ``length`` steps cut to its ``ceil(length / stride)``
    steps (those of the unpadded input): [B, C, T_l] -> [B, C, ceil(length / s_l)], masks likewise."""
    sizes = [-(-length // s) for s in strides]
    return Pyramid(
        [x[:, :, :n] for x, n in zip(pyramid.levels, sizes, strict=True)],
        [m[:, :n] for m, n in zip(pyramid.masks, sizes, strict=True)],
    )


def _windows(window: int | None | Sequence[int | None], num_levels: int) -> list[int | None]:
    """One window per level (``None``, or a value <= 1: global attention, the release's -1)."""
    windows = [window] * num_levels if window is None or isinstance(window, int) else list(window)
    if len(windows) != num_levels:
        raise ConfigError(f"window: {len(windows)} values for {num_levels} pyramid levels")
    out: list[int | None] = []
    for w in windows:
        if w is not None and w > 1 and w % 2 == 0:
            raise ConfigError(f"local attention windows are odd (a step and w // 2 on each side), got {w}")
        out.append(None if w is None or w <= 1 else int(w))
    return out


class ActionFormer(nn.Module):
    """ActionFormer: features [B, D, T] + mask [B, T] -> per-level class logits and boundary offsets (see the
    module docstring for the whole contract).

    Args:
        num_classes: K (>= 1).
        in_channels: D, the width of the input features.
        embed_dim: C, the width of the embedding, the transformer and the pyramid (identity FPN).
        head_dim: the width of the heads' hidden convolutions.
        arch: (embedding convs, stem blocks, branch blocks); ``1 + arch[2]`` pyramid levels.
        num_heads: attention heads.
        window: the local attention window (odd) of every level, or one per level; ``None`` (or <= 1) for
            global attention.
        scale_factor: the downsampling between levels.
        max_seq_len: the training length (the data pads to it; the position table's length).
        regression_ranges: per level (low, high) of the distance to the farther boundary (steps) that the
            level regresses; default :func:`default_regression_ranges`.
        embed_kernel_size, head_kernel_size: kernel sizes of the embedding and head convolutions.
        head_layers: convolutions per head, the output one included.
        head_with_ln: LayerNorm after the heads' hidden convolutions.
        prior_prob: the initial probability of every class (classifier biases).
        abs_pos_embed: add a fixed position table after the embedding (the ActivityNet configuration).
        dropout: dropout in the transformer MLPs and projections.
        attn_dropout: dropout on the attention weights.
        drop_path: stochastic depth in the transformer blocks (> 0 adds per-channel branch scales).
    """

    def __init__(
        self,
        num_classes: int = 20,
        in_channels: int = 2048,
        *,
        embed_dim: int = 512,
        head_dim: int = 512,
        arch: Sequence[int] = (2, 2, 5),
        num_heads: int = 4,
        window: int | None | Sequence[int | None] = 19,
        scale_factor: int = 2,
        max_seq_len: int = 2304,
        regression_ranges: Sequence[Sequence[float]] | None = None,
        embed_kernel_size: int = 3,
        head_kernel_size: int = 3,
        head_layers: int = 3,
        head_with_ln: bool = True,
        prior_prob: float = 0.01,
        abs_pos_embed: bool = False,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        drop_path: float = 0.1,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"a detector needs num_classes >= 1, got {num_classes}")
        if len(arch) != 3 or min(arch) < 0 or arch[0] < 1:
            raise ConfigError(
                f"arch is (embedding convs >= 1, stem blocks, branch blocks), got {tuple(arch)}"
            )
        num_levels = 1 + arch[2]
        ranges = (
            default_regression_ranges(num_levels, scale_factor)
            if regression_ranges is None
            else tuple((float(lo), float(hi)) for lo, hi in regression_ranges)
        )
        if len(ranges) != num_levels:
            raise ConfigError(f"regression_ranges: {len(ranges)} ranges for {num_levels} pyramid levels")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.num_features = embed_dim
        self.head_hidden_size = head_dim
        self.max_seq_len = max_seq_len
        self.strides: tuple[int, ...] = tuple(scale_factor**level for level in range(num_levels))
        self.regression_ranges: tuple[tuple[float, float], ...] = ranges
        if max_seq_len % self.strides[-1]:
            raise ConfigError(
                f"max_seq_len {max_seq_len} is not a multiple of the largest stride {self.strides[-1]}"
            )
        self.backbone = ConvTransformerBackbone(
            in_channels,
            embed_dim,
            num_heads=num_heads,
            arch=arch,
            windows=_windows(window, num_levels),
            scale_factor=scale_factor,
            max_seq_len=max_seq_len,
            kernel_size=embed_kernel_size,
            abs_pos_embed=abs_pos_embed,
            drop=dropout,
            attn_drop=attn_dropout,
            drop_path=drop_path,
        )
        self.neck = IdentityNeck(embed_dim, num_levels)
        head = {"num_layers": head_layers, "kernel_size": head_kernel_size, "with_ln": head_with_ln}
        self.cls_head = ClassificationHead(embed_dim, head_dim, num_classes, prior_prob=prior_prob, **head)
        self.reg_head = RegressionHead(embed_dim, head_dim, num_levels, **head)

    def forward_features(self, features: Tensor, mask: Tensor | None = None) -> Pyramid:
        """features [B, D, T], mask [B, T] bool (None: all real) -> Pyramid of [B, C, ceil(T / s_l)] maps."""
        x, mask, length = check_detector_input(self, features, mask)
        return crop_pyramid(self.neck(self.backbone(x, mask)), self.strides, length)

    def forward_head(self, pyramid: Pyramid) -> dict[str, list[Tensor]]:
        """Pyramid of [B, C, T_l] -> {"cls_logits": [[B, T_l, K]], "offsets": [[B, T_l, 2]], "masks":
        [[B, T_l]]}."""
        return {
            "cls_logits": [y.transpose(1, 2) for y in self.cls_head(pyramid)],
            "offsets": [y.transpose(1, 2) for y in self.reg_head(pyramid)],
            "masks": list(pyramid.masks),
        }

    def forward(self, features: Tensor, mask: Tensor | None = None) -> dict[str, list[Tensor]]:
        """features [B, D, T], mask [B, T] bool (None: all real) -> the per-level outputs (module docstring)."""
        return self.forward_head(self.forward_features(features, mask))

    def get_classifier(self) -> nn.Module:
        """The classification head's last convolution (``cls_head.cls_head.conv``: weight [K, head_dim, k])."""
        return self.cls_head.cls_head.conv

    def reset_classifier(self, num_classes: int) -> None:
        """A new last classification layer for ``num_classes`` (>= 1), biases at the prior; the rest kept.

        Raises:
            ConfigError: ``num_classes`` < 1 (a detector always classifies).
        """
        if num_classes < 1:
            raise ConfigError(f"a detector needs num_classes >= 1, got {num_classes}")
        old = self.get_classifier().weight
        self.cls_head.reset(num_classes)
        self.cls_head.cls_head.to(device=old.device, dtype=old.dtype)
        self.num_classes = num_classes


_CARD_NOTES = (
    "input_size of a features model is (D, max_seq_len, 1, 1): D-dimensional features, the training length "
    "in steps; frames = max_seq_len, frame_stride = 1. Any length is accepted (padded inside to a multiple of "
    "the largest stride). Published (not reproducible here without the authors' features): THUMOS14, I3D "
    "features, average mAP 66.8 at tIoU 0.3:0.7 (71.0 at 0.5); ActivityNet-1.3, TSP features, 36.6 at "
    "0.5:0.95 (fused with external video-level classification scores). Parameters at the default class count; "
    "MACs at batch 1, one max_seq_len sequence (the local attention counted as computed, in blocks)."
)


def _build(
    num_classes: int, in_channels: int, defaults: dict[str, Any], options: dict[str, Any]
) -> ActionFormer:
    return ActionFormer(num_classes, in_channels, **{**defaults, **options})


@register_model(
    card=ModelCard(
        name="actionformer",
        family="actionformer",
        modality="features",
        input_size=(2048, 2304, 1, 1),
        frames=2304,
        frame_stride=1,
        params=29_251_612,
        gmacs=45.03,
        default_num_classes=20,
        paper=_PAPER,
        classifier="cls_head.cls_head.conv",
        preset=FeaturesSpec(dim=2048, max_seq_len=2304, feat_stride=4, num_frames=16),
        notes="The THUMOS14 I3D configuration (thumos_i3d.yaml): embedding, FPN and heads 512 wide, arch (2, 2, "
        "5) = 6 levels, 4 heads, window 19, max_seq_len 2304, drop-path 0.1. " + _CARD_NOTES,
    )
)
def actionformer(*, num_classes: int = 20, in_channels: int = 2048, **options: Any) -> ActionFormer:
    """ActionFormer in the paper's THUMOS14 configuration (I3D features, 2048 wide); options: see
    :class:`ActionFormer`."""
    return _build(num_classes, in_channels, {}, options)


@register_model(
    card=ModelCard(
        name="actionformer_anet",
        family="actionformer",
        modality="features",
        input_size=(512, 192, 1, 1),
        frames=192,
        frame_stride=1,
        params=6_943_497,
        gmacs=0.861,
        default_num_classes=1,
        paper=_PAPER,
        classifier="cls_head.cls_head.conv",
        preset=FeaturesSpec(dim=512, max_seq_len=192, feat_stride=16, num_frames=16, fps=15.0),
        notes="The ActivityNet-1.3 TSP configuration (anet_tsp.yaml): 512-d TSP features (one per 16 frames at 15 "
        "fps), which the release resizes to 192 steps per video; "
        "embedding and heads 256 wide, 6 levels, 4 heads, window 7 on the first five levels and global "
        "attention on the last, absolute position table, drop-path 0.1; 1 class (the release detects "
        "class-agnostic actions and takes each video's label from an external classifier). " + _CARD_NOTES,
    )
)
def actionformer_anet(*, num_classes: int = 1, in_channels: int = 512, **options: Any) -> ActionFormer:
    """ActionFormer in the paper's ActivityNet-1.3 configuration (TSP features); options: see
    :class:`ActionFormer`."""
    defaults = {
        "embed_dim": 256,
        "head_dim": 256,
        "window": (7, 7, 7, 7, 7, None),
        "max_seq_len": 192,
        "abs_pos_embed": True,
    }
    return _build(num_classes, in_channels, defaults, options)


@register_model(
    card=ModelCard(
        name="actionformer_tiny",
        family="actionformer",
        modality="features",
        input_size=(128, 256, 1, 1),
        frames=256,
        frame_stride=1,
        params=346_906,
        gmacs=0.0717,
        default_num_classes=20,
        paper=_PAPER,
        classifier="cls_head.cls_head.conv",
        preset=FeaturesSpec(dim=128, max_seq_len=256),
        notes="A small size for synthetic benchmarks and tests: 64 wide, arch (2, 2, 3) = 4 levels (ranges "
        "0-4, 4-8, 8-16, 16-inf steps), 4 heads, window 9, max_seq_len 256. " + _CARD_NOTES,
    )
)
def actionformer_tiny(*, num_classes: int = 20, in_channels: int = 128, **options: Any) -> ActionFormer:
    """A small ActionFormer (64 wide, 4 levels) for synthetic data and tests; options: see
    :class:`ActionFormer`."""
    defaults = {"embed_dim": 64, "head_dim": 64, "arch": (2, 2, 3), "window": 9, "max_seq_len": 256}
    return _build(num_classes, in_channels, defaults, options)


def convert_release_state_dict(state: StateDict) -> StateDict:
    """The authors' checkpoints (their ``state_dict``, or ``state_dict_ema``, the weights their evaluation uses:
    pass that one by itself to load it) -> an :class:`ActionFormer`'s keys: the same names, LayerNorm weights
    and biases [1, C, 1] -> [C] (a ``module.`` prefix is dropped before any converter runs)."""
    out: StateDict = {}
    for key, value in state.items():
        norm = "norm" in key or ".ln1." in key or ".ln2." in key
        if norm and value.ndim == 3 and value.shape[0] == value.shape[2] == 1:
            value = value.reshape(-1)
        out[key] = value
    return out


register_converter("actionformer", "actionformer_release", convert_release_state_dict)
