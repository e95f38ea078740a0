"""Building blocks of the video transformers (ViViT, TimeSformer, VideoMAE): one definition each.

    TubeletEmbed                 clips [B, C, T, H, W] -> tokens [B, T'H'W', D] in (t, h, w) order (Conv3d)
    sinusoid_table               VideoMAE's fixed sine-cosine table [1, N, D] over a flat token index
    resample_pos_embed           a positional embedding [1, P + T'H'W', D] onto another token grid (trilinear)
    separable_pos_embed          space [1, H'W', D] + time [1, T', D] -> one joint embedding [1, T'H'W', D]
    to_frames / from_frames      [B, T'H'W', D] <-> [B T', H'W', D]: one sequence per frame (space)
    to_tubes / from_tubes        [B, T'H'W', D] <-> [B H'W', T', D]: one sequence per spatial cell (time)
    Attention                    multi-head self-attention through ``F.scaled_dot_product_attention``, one
                                 fused ``qkv`` Linear (weight [3D, D]); joint: every token attends to every token
    SpaceAttention               the same parameters, each frame's tokens attend among themselves
    TimeAttention                the same parameters, each spatial cell's tokens attend across time
    FactorisedDotProductAttention  the same parameters, half the heads in space, half in time (ViViT model 4)
    Mlp, DropPath, LayerScale    the feed-forward, stochastic depth and per-channel residual scale
    Block                        a pre-norm transformer block around any of the attentions above (``pattern``)
    FactorisedSelfAttentionBlock spatial then temporal self-attention, then the MLP (ViViT model 3)
    DividedBlock                 temporal attention + its output Linear, then spatial, then the MLP (TimeSformer)
    make_activation, trunc_normal_, init_vit_weights

Every token sequence is ``[B, P + N, D]``: ``P`` prefix tokens (a CLS token: ``P = 1``) followed by the ``N =
T' H' W'`` grid tokens in (t, h, w) order (Hugging Face VideoMAE's order, so its masks carry over). The attention
modules and blocks take ``grid = (T', H', W')`` and ``num_prefix_tokens`` with the sequence, so one model runs on
clips of any size. How prefix tokens take part in each pattern:

    joint                        they attend and are attended like any token
    space                        each frame attends to its own copy of them; their outputs are averaged over
                                 the frames (TimeSformer's CLS)
    time                         they are left out: their update is zero
    factorised dot-product       not supported (ViViT model 4 pools by averaging; a ValueError)

Parameter names follow timm's ViT (``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``),
which the converters of published layouts map onto.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ConfigError

__all__ = [
    "Grid",
    "ACTIVATIONS",
    "ATTENTION_PATTERNS",
    "make_activation",
    "TubeletEmbed",
    "sinusoid_table",
    "resample_pos_embed",
    "separable_pos_embed",
    "to_frames",
    "from_frames",
    "to_tubes",
    "from_tubes",
    "Attention",
    "SpaceAttention",
    "TimeAttention",
    "FactorisedDotProductAttention",
    "Mlp",
    "DropPath",
    "LayerScale",
    "Block",
    "FactorisedSelfAttentionBlock",
    "DividedBlock",
    "trunc_normal_",
    "init_vit_weights",
]

#: A token grid (T', H', W'): time steps, rows and columns of tokens.
Grid = tuple[int, int, int]


def _gelu_tanh() -> nn.Module:
    return nn.GELU(approximate="tanh")


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)`` (CLIP's GELU approximation): any shape -> the same shape."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


#: Activation names (Hugging Face's ``hidden_act`` values) -> module factories. ``gelu_new``, ``gelu_fast`` and
#: ``gelu_pytorch_tanh`` are the same tanh approximation of GELU, written three ways (they agree to ~1e-7).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "gelu": nn.GELU,
    "gelu_new": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "quick_gelu": QuickGELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
}


def make_activation(name: str) -> nn.Module:
    """A new activation module by name (a key of :data:`ACTIVATIONS`).

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _triple(value: int | tuple[int, int, int], what: str) -> tuple[int, int, int]:
    triple = (value,) * 3 if isinstance(value, int) else tuple(value)
    if len(triple) != 3 or any(not isinstance(v, int) or v < 1 for v in triple):
        raise ConfigError(f"{what} must be three positive integers (t, h, w), got {value!r}")
    return triple  # type: ignore[return-value]


class TubeletEmbed(nn.Module):
    """Tubelet embedding: clips [B, C, T, H, W] -> tokens [B, T' H' W', D], in (t, h, w) order.

    One Conv3d whose kernel and stride are the tubelet (t, p_h, p_w): each non-overlapping tubelet becomes one
    token. ``T' = T // t``, ``H' = H // p_h``, ``W' = W // p_w`` (frames or pixels past the last whole tubelet
    are dropped, as the convolution does).

    Args:
        in_chans: input channels C.
        dim: token width D.
        tubelet: (t, p_h, p_w), or one int for all three.
        bias: the projection has a bias.
    """

    def __init__(
        self,
        in_chans: int = 3,
        dim: int = 768,
        tubelet: int | tuple[int, int, int] = (2, 16, 16),
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.tubelet = _triple(tubelet, "tubelet")
        self.in_chans, self.dim = in_chans, dim
        self.proj = nn.Conv3d(in_chans, dim, kernel_size=self.tubelet, stride=self.tubelet, bias=bias)

    def grid(self, frames: int, height: int, width: int) -> Grid:
        """The token grid (T', H', W') of clips of ``frames`` x ``height`` x ``width``.

        Raises:
            ConfigError: a clip smaller than one tubelet along some axis.
        """
        size = (frames, height, width)
        grid = tuple(s // t for s, t in zip(size, self.tubelet, strict=True))
        if min(grid) < 1:
            raise ConfigError(
                f"clips of {frames}x{height}x{width} are smaller than one tubelet {self.tubelet}"
            )
        return grid  # type: ignore[return-value]

    def forward(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> tokens [B, T' H' W', D] in (t, h, w) order."""
        self.grid(*x.shape[2:])
        return self.proj(x).flatten(2).transpose(1, 2)


def sinusoid_table(num_positions: int, dim: int) -> Tensor:
    """The fixed sine-cosine positional table [1, num_positions, dim] of VideoMAE (Vaswani et al.'s, over a flat
    token index): channel ``j`` of position ``n`` is ``sin`` (even ``j``) or ``cos`` (odd ``j``) of ``n /
    10000^(2 floor(j / 2) / dim)``, computed in float64 and returned in float32."""
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]
    exponent = 2 * (torch.arange(dim) // 2).to(torch.float64) / dim
    angles = position / torch.pow(10000.0, exponent)[None, :]
    table = torch.empty_like(angles)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table.to(torch.float32)[None]


def resample_pos_embed(pos_embed: Tensor, grid: Grid, new_grid: Grid, num_prefix_tokens: int = 0) -> Tensor:
    """A positional embedding learned (or made) for one token grid, resampled onto another.

    Args:
        pos_embed: [1, P + T H W, D]: ``P = num_prefix_tokens`` prefix positions (kept as they are), then the
            grid positions in (t, h, w) order.
        grid: (T, H, W) of ``pos_embed``.
        new_grid: (T', H', W') to resample onto (trilinear, ``align_corners=False``; each axis on its own:
            a grid of one time step, ``(1, H, W)``, resamples in space only).

    Returns:
        [1, P + T' H' W', D]; ``pos_embed`` itself when the grids are equal.

    Raises:
        ValueError: ``pos_embed`` does not hold ``P + T H W`` positions.
    """
    grid, new_grid = tuple(grid), tuple(new_grid)
    if pos_embed.ndim != 3 or pos_embed.shape[1] != num_prefix_tokens + math.prod(grid):
        raise ValueError(
            f"positional embedding {tuple(pos_embed.shape)} does not hold {num_prefix_tokens} prefix and "
            f"{'x'.join(map(str, grid))} grid positions"
        )
    if grid == new_grid:
        return pos_embed
    prefix, cells = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    dim = pos_embed.shape[2]
    volume = cells.transpose(1, 2).reshape(1, dim, *grid).float()
    volume = F.interpolate(volume, size=new_grid, mode="trilinear", align_corners=False)
    cells = volume.flatten(2).transpose(1, 2).to(pos_embed.dtype)
    return torch.cat([prefix, cells], dim=1)


def separable_pos_embed(space: Tensor, time: Tensor) -> Tensor:
    """Separable positional embeddings -> one joint embedding: space [1, H W, D] (in (h, w) order) and time
    [1, T, D] -> [1, T H W, D] in (t, h, w) order, the embedding of cell (t, h, w) being ``time[t] +
    space[h, w]``."""
    return (time[:, :, None, :] + space[:, None, :, :]).flatten(1, 2)


def to_frames(x: Tensor, grid: Grid) -> Tensor:
    """Grid tokens [B, T H W, D] -> one sequence per frame [B T, H W, D]."""
    t, h, w = grid
    return x.reshape(x.shape[0] * t, h * w, x.shape[-1])


def from_frames(x: Tensor, grid: Grid) -> Tensor:
    """One sequence per frame [B T, H W, D] -> grid tokens [B, T H W, D] (inverse of :func:`to_frames`)."""
    t, h, w = grid
    return x.reshape(x.shape[0] // t, t * h * w, x.shape[-1])


def to_tubes(x: Tensor, grid: Grid) -> Tensor:
    """Grid tokens [B, T H W, D] -> one sequence per spatial cell [B H W, T, D]."""
    t, h, w = grid
    b, _, d = x.shape
    # contiguous: at batch 1 the reshape is a strided view, which bf16 autocast turns into one weight copy and
    # one batched matmul per spatial cell in the next Linear (3.7x slower for TimeSformer-B)
    return x.reshape(b, t, h * w, d).transpose(1, 2).reshape(b * h * w, t, d).contiguous()


def from_tubes(x: Tensor, grid: Grid) -> Tensor:
    """One sequence per spatial cell [B H W, T, D] -> grid tokens [B, T H W, D] (inverse of :func:`to_tubes`)."""
    t, h, w = grid
    _, _, d = x.shape
    return x.reshape(-1, h * w, t, d).transpose(1, 2).reshape(-1, t * h * w, d)


def _check_tokens(x: Tensor, grid: Grid | None, num_prefix_tokens: int) -> Grid:
    if grid is None:
        raise ValueError("this attention pattern needs the token grid (T', H', W')")
    if x.shape[1] != num_prefix_tokens + math.prod(grid):
        raise ValueError(
            f"{x.shape[1]} tokens are not {num_prefix_tokens} prefix tokens and a {'x'.join(map(str, grid))} grid"
        )
    return grid


class Attention(nn.Module):
    """Multi-head self-attention over a whole sequence (joint space-time attention on a token grid): tokens
    [B, L, D] -> [B, L, D].

    Queries, keys and values come from one fused Linear ``qkv`` (weight [3D, D], rows q, k, v); the heads'
    outputs are concatenated and projected by ``proj``. Attention runs in
    :func:`torch.nn.functional.scaled_dot_product_attention` (scale ``head_dim^-0.5``). A reference with separate
    q and v biases and no k bias (VideoMAE) maps onto ``qkv.bias`` with k's part zero: a key bias adds the same
    ``q . b_k`` to every key's score of a query, which softmax ignores.

    The subclasses keep these parameters and change only which tokens attend to which
    (:data:`ATTENTION_PATTERNS`).

    Args:
        dim: token width D.
        num_heads: heads; must divide D.
        qkv_bias: ``qkv`` has a bias.
        attn_drop: dropout on the attention weights (training only).
        proj_drop: dropout after ``proj``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        *,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ConfigError(f"attention: {num_heads} heads do not divide the width {dim}")
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def project_qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Tokens [B, L, D] -> queries, keys, values, each [B, heads, L, head_dim]."""
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Scaled dot-product attention: q, k, v [..., L, head_dim] -> [..., L, head_dim]."""
        return F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)

    def output(self, heads: Tensor) -> Tensor:
        """Heads' outputs [B, heads, L, head_dim] -> projected tokens [B, L, D]."""
        b, _, n, _ = heads.shape
        return self.proj_drop(self.proj(heads.transpose(1, 2).reshape(b, n, self.dim)))

    def mix(self, x: Tensor) -> Tensor:
        """Full attention within each sequence: [B', L, D] -> [B', L, D]."""
        return self.output(self.attend(*self.project_qkv(x)))

    def forward(self, x: Tensor, grid: Grid | None = None, num_prefix_tokens: int = 0) -> Tensor:
        """Tokens [B, L, D] -> [B, L, D], every token attending to all (``grid`` and ``num_prefix_tokens``
        are accepted for a uniform signature and not needed)."""
        return self.mix(x)


class SpaceAttention(Attention):
    """Spatial attention: the tokens of each frame attend among themselves, [B, P + T H W, D] -> the same.

    Each frame sees its own copy of the P prefix tokens; their outputs are averaged over the frames
    (TimeSformer's handling of its CLS token).
    """

    def forward(self, x: Tensor, grid: Grid | None = None, num_prefix_tokens: int = 0) -> Tensor:
        """Tokens [B, P + T H W, D], ``grid`` (T, H, W) -> [B, P + T H W, D]."""
        grid = _check_tokens(x, grid, num_prefix_tokens)
        t = grid[0]
        prefix, cells = x[:, :num_prefix_tokens], to_frames(x[:, num_prefix_tokens:], grid)
        if num_prefix_tokens:
            prefix = prefix.repeat_interleave(t, dim=0)  # [B T, P, D]: frame f of clip b at b T + f
            cells = torch.cat([prefix, cells], dim=1)
        out = self.mix(cells)
        grid_out = from_frames(out[:, num_prefix_tokens:], grid)
        if not num_prefix_tokens:
            return grid_out
        prefix_out = out[:, :num_prefix_tokens].reshape(x.shape[0], t, num_prefix_tokens, -1).mean(dim=1)
        return torch.cat([prefix_out, grid_out], dim=1)


class TimeAttention(Attention):
    """Temporal attention: the tokens of each spatial cell attend across time, [B, P + T H W, D] -> the same.

    The P prefix tokens take no part: their output is zero (a residual leaves them unchanged).
    """

    def forward(self, x: Tensor, grid: Grid | None = None, num_prefix_tokens: int = 0) -> Tensor:
        """Tokens [B, P + T H W, D], ``grid`` (T, H, W) -> [B, P + T H W, D] (zeros at the prefix)."""
        grid = _check_tokens(x, grid, num_prefix_tokens)
        out = from_tubes(self.mix(to_tubes(x[:, num_prefix_tokens:], grid)), grid)
        if not num_prefix_tokens:
            return out
        return torch.cat([out.new_zeros(x.shape[0], num_prefix_tokens, out.shape[2]), out], dim=1)


class FactorisedDotProductAttention(Attention):
    """ViViT model 4's factorised dot-product attention, [B, T H W, D] -> the same: one ``qkv`` projection;
    the first half of the heads attend within each frame (space), the second half within each spatial cell
    (time); the heads' outputs are concatenated in head order and projected by ``proj``.

    Raises:
        ConfigError: an odd number of heads.
    """

    def __init__(self, dim: int, num_heads: int = 8, **kwargs) -> None:
        super().__init__(dim, num_heads, **kwargs)
        if num_heads % 2:
            raise ConfigError(
                f"factorised dot-product attention splits the heads in two; got {num_heads} heads"
            )

    def forward(self, x: Tensor, grid: Grid | None = None, num_prefix_tokens: int = 0) -> Tensor:
        """Grid tokens [B, T H W, D], ``grid`` (T, H, W) -> [B, T H W, D].

        Raises:
            ValueError: prefix tokens (they belong to neither a frame nor a spatial cell).
        """
        if num_prefix_tokens:
            raise ValueError("factorised dot-product attention takes no prefix tokens")
        t, h, w = _check_tokens(x, grid, 0)
        b, n, _ = x.shape
        q, k, v = self.project_qkv(x)  # [B, heads, N, hd]
        half = self.num_heads // 2

        def frames(u: Tensor) -> Tensor:  # [B, half, T H W, hd] -> [B, half, T, H W, hd]
            return u.reshape(b, half, t, h * w, self.head_dim)

        def tubes(u: Tensor) -> Tensor:  # [B, half, T H W, hd] -> [B, half, H W, T, hd]
            return frames(u).transpose(2, 3)

        space = self.attend(frames(q[:, :half]), frames(k[:, :half]), frames(v[:, :half]))
        time = self.attend(tubes(q[:, half:]), tubes(k[:, half:]), tubes(v[:, half:])).transpose(2, 3)
        heads = torch.cat([space, time], dim=1).reshape(b, self.num_heads, n, self.head_dim)
        return self.output(heads)


#: Attention patterns over a token grid by name: which tokens attend to which (the same parameters for all).
ATTENTION_PATTERNS: dict[str, type[Attention]] = {
    "joint": Attention,
    "space": SpaceAttention,
    "time": TimeAttention,
    "factorised_dot_product": FactorisedDotProductAttention,
}


class Mlp(nn.Module):
    """The transformer feed-forward: tokens [..., D] -> fc1 -> activation -> dropout -> fc2 -> dropout -> [..., D].

    Args:
        dim: token width D.
        hidden: hidden width (4 D in ViT-B).
        act: activation name (:data:`ACTIVATIONS`).
        drop: dropout after the activation and after ``fc2``.
    """

    def __init__(self, dim: int, hidden: int, *, act: str = "gelu", drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = make_activation(act)
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        """Tokens [..., D] -> [..., D]."""
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, each sample's residual branch [B, ...] is zeroed with
    probability ``p`` and the kept ones scaled by ``1 / (1 - p)``; the identity in evaluation."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """A residual branch [B, ...] -> the same shape."""
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerScale(nn.Module):
    """Per-channel scale of a residual branch (Touvron et al. 2021, CaiT): [..., D] -> ``gamma * x``, ``gamma``
    [D] initialised to ``init_values``."""

    def __init__(self, dim: int, init_values: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_values)))

    def forward(self, x: Tensor) -> Tensor:
        """[..., D] -> [..., D]."""
        return x * self.gamma


def _layer_scale(dim: int, init_values: float | None) -> nn.Module:
    return LayerScale(dim, init_values) if init_values else nn.Identity()


class Block(nn.Module):
    """A pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))`` (each branch through
    an optional layer scale and drop-path); tokens [B, P + N, D] -> the same.

    Args:
        dim: token width D.
        num_heads: attention heads.
        pattern: which tokens attend to which (a key of :data:`ATTENTION_PATTERNS`: ``"joint"``, ``"space"``,
            ``"time"``, ``"factorised_dot_product"``).
        mlp_ratio: MLP hidden width over D (the hidden width is ``round(D * mlp_ratio)``).
        qkv_bias: the attention's ``qkv`` has a bias.
        norm_eps: LayerNorm epsilon (Hugging Face's ``layer_norm_eps``; timm's 1e-6).
        act: MLP activation (:data:`ACTIVATIONS`; Hugging Face's ``hidden_act``).
        drop: dropout after the attention and MLP projections.
        attn_drop: dropout on attention weights.
        drop_path: stochastic-depth probability of each residual branch.
        init_values: layer-scale initial value (``None``: no layer scale).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        pattern: str = "joint",
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        act: str = "gelu",
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        init_values: float | None = None,
    ) -> None:
        super().__init__()
        if pattern not in ATTENTION_PATTERNS:
            raise ConfigError(
                f"unknown attention pattern {pattern!r}; choose from {', '.join(ATTENTION_PATTERNS)}"
            )
        self.pattern = pattern
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = ATTENTION_PATTERNS[pattern](
            dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop
        )
        self.ls1 = _layer_scale(dim, init_values)
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, round(dim * mlp_ratio), act=act, drop=drop)
        self.ls2 = _layer_scale(dim, init_values)
        self.drop_path2 = DropPath(drop_path)

    def forward(self, x: Tensor, grid: Grid | None = None, num_prefix_tokens: int = 0) -> Tensor:
        """Tokens [B, P + N, D] (``grid`` (T', H', W') of the N grid tokens, needed by every pattern but
        ``"joint"``) -> [B, P + N, D]."""
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x), grid, num_prefix_tokens)))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class FactorisedSelfAttentionBlock(nn.Module):
    """ViViT model 3's block (factorised self-attention): spatial attention within each frame, then temporal
    attention within each spatial cell, each pre-norm with its own residual, then the MLP; tokens
    [B, T H W, D] -> the same (no prefix tokens: model 3 pools by averaging).

    Parameters: ``norm1``/``attn`` (space), ``norm_time``/``attn_time`` (time), ``norm2``/``mlp``; the
    arguments are :class:`Block`'s.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        act: str = "gelu",
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        attention = {"qkv_bias": qkv_bias, "attn_drop": attn_drop, "proj_drop": drop}
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = SpaceAttention(dim, num_heads, **attention)
        self.norm_time = nn.LayerNorm(dim, eps=norm_eps)
        self.attn_time = TimeAttention(dim, num_heads, **attention)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, round(dim * mlp_ratio), act=act, drop=drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, grid: Grid | None = None, num_prefix_tokens: int = 0) -> Tensor:
        """Grid tokens [B, T H W, D], ``grid`` (T, H, W) -> [B, T H W, D].

        Raises:
            ValueError: prefix tokens.
        """
        if num_prefix_tokens:
            raise ValueError("factorised self-attention blocks take no prefix tokens")
        x = x + self.drop_path(self.attn(self.norm1(x), grid))
        x = x + self.drop_path(self.attn_time(self.norm_time(x), grid))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class DividedBlock(nn.Module):
    """TimeSformer's divided space-time block: tokens [B, P + T H W, D] -> the same.

        grid = grid + time_fc(attn_time(norm_time(grid)))          temporal attention, grid tokens only
        x = [prefix, grid] + attn(norm1([prefix, grid]))           spatial attention (prefix copied per frame,
                                                                   its outputs averaged over the frames)
        x = x + mlp(norm2(x))

    ``time_fc`` starts at zero, so a new block starts as a space-only one (as the TimeSformer code initialises
    all but the first block). Parameters: ``norm_time``, ``attn_time``, ``time_fc``, ``norm1``, ``attn``,
    ``norm2``, ``mlp``; the arguments are :class:`Block`'s.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        act: str = "gelu",
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        attention = {"qkv_bias": qkv_bias, "attn_drop": attn_drop, "proj_drop": drop}
        self.norm_time = nn.LayerNorm(dim, eps=norm_eps)
        self.attn_time = TimeAttention(dim, num_heads, **attention)
        self.time_fc = nn.Linear(dim, dim)
        nn.init.zeros_(self.time_fc.weight)
        nn.init.zeros_(self.time_fc.bias)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = SpaceAttention(dim, num_heads, **attention)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, round(dim * mlp_ratio), act=act, drop=drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, grid: Grid | None = None, num_prefix_tokens: int = 0) -> Tensor:
        """Tokens [B, P + T H W, D], ``grid`` (T, H, W) -> [B, P + T H W, D]."""
        grid = _check_tokens(x, grid, num_prefix_tokens)
        prefix, cells = x[:, :num_prefix_tokens], x[:, num_prefix_tokens:]
        cells = cells + self.drop_path(self.time_fc(self.attn_time(self.norm_time(cells), grid)))
        x = torch.cat([prefix, cells], dim=1)
        x = x + self.drop_path(self.attn(self.norm1(x), grid, num_prefix_tokens))
        return x + self.drop_path(self.mlp(self.norm2(x)))


@torch.no_grad()
def trunc_normal_(tensor: Tensor, std: float = 0.02) -> Tensor:
    """Fill ``tensor`` (any shape) in place from N(0, std^2) truncated to +-2 std, by redrawing the values out
    of range (exact, and an order of magnitude faster than ``nn.init.trunc_normal_``'s inverse-CDF sampling on
    a CPU: one draw in 22 is redrawn). A tensor on the meta device is left as it is."""
    if tensor.is_meta:
        return tensor
    tensor.normal_(0.0, std)
    outside = tensor.abs() > 2 * std
    while outside.any():
        tensor[outside] = tensor.new_empty(int(outside.sum())).normal_(0.0, std)
        outside = tensor.abs() > 2 * std
    return tensor


def init_vit_weights(module: nn.Module, *, std: float = 0.02) -> None:
    """timm's ViT initialisation, for each submodule of ``module``: Linear weights truncated-normal(0, std)
    within +-2 std (:func:`trunc_normal_`) and zero biases, LayerNorm at (1, 0), the tubelet Conv3d as a Linear on its flattened
    kernel. Zero-initialised layers that mean something (:class:`DividedBlock`'s ``time_fc``) are left alone;
    a family initialises its classifier, positional embeddings and CLS token after it."""
    for name, m in module.named_modules():
        if name.endswith("time_fc"):
            continue
        if isinstance(m, nn.Linear | nn.Conv3d):
            trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
