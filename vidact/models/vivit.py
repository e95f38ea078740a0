"""ViViT (Arnab et al., ViViT: A Video Vision Transformer, ICCV 2021): the paper's four models as one network
whose ``variant`` picks how the tokens of a clip attend to each other.

    clip [B, 3, T, H, W] -> tubelets (t x p x p, Conv3d) -> tokens [B, T' H' W', D] + positional embedding
        1  spatio-temporal attention: a CLS token + all tokens through L joint-attention blocks (the plain video
           ViT; Hugging Face's ``VivitForVideoClassification``)              -> CLS -> LayerNorm -> linear
        2  factorised encoder: per frame, a CLS token + its H' W' tokens through L spatial blocks; the frames'
           CLS tokens + a temporal CLS through L_t temporal blocks            -> temporal CLS -> linear
        3  factorised self-attention: each block attends in space (within a frame), then in time (within a
           spatial cell), then its MLP                                       -> token mean -> linear
        4  factorised dot-product attention: each block's heads split, half attend in space, half in time
                                                                             -> token mean -> linear

Models 3 and 4 carry no CLS token (a CLS token belongs to neither a frame nor a spatial cell) and pool by
averaging the final tokens, as the paper's implementation (Scenic) does for them. Positional embeddings are
learned: joint over the grid (and the CLS token) for models 1, 3 and 4; for model 2, one over a frame's grid
(and its CLS) for the spatial encoder and one over the frames (and the temporal CLS) for the temporal encoder.
All are resampled trilinearly when a clip's token grid differs from the one they were made for
(:func:`~vidact.models.vit.layers.resample_pos_embed`), so a model runs on clips of any size.

Sizes: ViViT-B (D 768, 12 layers, 12 heads, MLP 3072, tubelet 2x16x16, 32 frames at 224, as Hugging Face's
defaults and ``google/vivit-b-16x2-kinetics400``; model 2 adds 4 temporal layers, the paper's L_t), and tiny
versions for CPUs (D 192, 4 layers, 6 heads, 8 frames at 112: 4x7x7 tokens).

Hugging Face weights (``save_pretrained`` folders: ``config.json`` + ``model.safetensors``) load into model 1
through the ``hf`` converter and config reader registered at the end of this file:
``build_model("vivit_b", weights=DIR)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..data.presets import Preset
from ..errors import CheckpointError, ConfigError
from .contract import FeatureLayout, temporal_pool
from .converters import register_config_reader, register_converter
from .layers import LinearClassifier, linear_classifier
from .registry import ModelCard, Weights, WeightsFile, register_model
from .vit.layers import (
    Block,
    FactorisedSelfAttentionBlock,
    Grid,
    TubeletEmbed,
    init_vit_weights,
    resample_pos_embed,
    trunc_normal_,
)
from .weights import StateDict

__all__ = [
    "ViViT",
    "vivit_b",
    "vivit_m2_b",
    "vivit_m3_b",
    "vivit_m4_b",
    "vivit_t",
    "vivit_m2_t",
    "vivit_m3_t",
    "vivit_m4_t",
    "convert_hf_state_dict",
    "read_hf_config",
]

_VARIANTS = {
    1: "spatio-temporal attention",
    2: "factorised encoder",
    3: "factorised self-attention",
    4: "factorised dot-product attention",
}


def _pair(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class ViViT(LinearClassifier, nn.Module):
    """ViViT, models 1-4: clips [B, C, T, H, W] -> logits [B, num_classes].

    Args:
        num_classes: classes K (0: no classifier, ``forward`` returns the pre-logits [B, D]).
        variant: the paper's model number: 1 spatio-temporal (joint) attention, 2 factorised encoder,
            3 factorised self-attention, 4 factorised dot-product attention.
        img_size: the frame size (H, W) (or one int) the positional embeddings are made for.
        num_frames: the clip length T they are made for.
        tubelet: (t, p_h, p_w) of the tubelet embedding.
        in_chans: input channels C.
        dim: token width D.
        depth: transformer blocks (model 2: of the spatial encoder).
        temporal_depth: model 2's temporal encoder blocks (ignored by the other models).
        num_heads: attention heads (even for model 4, whose blocks split them in two).
        mlp_ratio: MLP hidden width over D.
        qkv_bias: the attention's ``qkv`` has a bias.
        norm_eps: LayerNorm epsilon.
        act: MLP activation (``gelu``, ``gelu_fast``: Hugging Face ViViT's, ...).
        drop_rate: dropout on the embedded tokens and after each attention and MLP projection.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth, rising linearly over the blocks to this value.
        head_drop: dropout on the pooled features before the classifier.

    Raises:
        ConfigError: an unknown variant, heads that do not divide D (or an odd number of them for model 4), a
            frame size or clip length smaller than one tubelet.
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.TOKENS
    classifier_attr = "head"

    def __init__(
        self,
        num_classes: int = 400,
        *,
        variant: int = 1,
        img_size: int | tuple[int, int] = 224,
        num_frames: int = 32,
        tubelet: tuple[int, int, int] = (2, 16, 16),
        in_chans: int = 3,
        dim: int = 768,
        depth: int = 12,
        temporal_depth: int = 4,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        act: str = "gelu",
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        head_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if variant not in _VARIANTS:
            raise ConfigError(
                f"vivit: variant must be one of {sorted(_VARIANTS)} (the paper's models), got {variant}"
            )
        if depth < 1 or (variant == 2 and temporal_depth < 1):
            raise ConfigError(
                f"vivit: needs at least one block per encoder, got depth={depth}, {temporal_depth}"
            )
        self.variant = variant
        self.img_size = _pair(img_size)
        self.num_frames = num_frames
        self.patch_embed = TubeletEmbed(in_chans, dim, tubelet)
        self.base_grid: Grid = self.patch_embed.grid(num_frames, *self.img_size)
        t, h, w = self.base_grid
        self.num_features = self.head_hidden_size = dim
        self.num_classes = num_classes
        self.num_prefix_tokens = 1 if variant in (1, 2) else 0
        self.grad_checkpointing = False

        total = depth + (temporal_depth if variant == 2 else 0)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # rising linearly from 0
        block_args = {
            "mlp_ratio": mlp_ratio,
            "qkv_bias": qkv_bias,
            "norm_eps": norm_eps,
            "act": act,
            "drop": drop_rate,
            "attn_drop": attn_drop_rate,
        }
        if variant == 3:
            blocks = [FactorisedSelfAttentionBlock(dim, num_heads, drop_path=r, **block_args) for r in rates]
        else:
            pattern = "factorised_dot_product" if variant == 4 else "joint"
            blocks = [
                Block(dim, num_heads, pattern=pattern, drop_path=r, **block_args) for r in rates[:depth]
            ]
        self.pos_drop = nn.Dropout(drop_rate)
        if self.num_prefix_tokens:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        # Model 2's spatial encoder sees one frame at a time: its embedding covers one frame's grid.
        cells = h * w if variant == 2 else t * h * w
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_prefix_tokens + cells, dim))
        self.blocks = nn.ModuleList(blocks)
        if variant == 2:
            self.norm_spatial = nn.LayerNorm(dim, eps=norm_eps)
            self.temporal_cls_token = nn.Parameter(torch.zeros(1, 1, dim))
            self.temporal_pos_embed = nn.Parameter(torch.zeros(1, 1 + t, dim))
            self.temporal_blocks = nn.ModuleList(
                Block(dim, num_heads, drop_path=r, **block_args) for r in rates[depth:]
            )
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.head_drop = nn.Dropout(head_drop)
        self.head = linear_classifier(dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        init_vit_weights(self)
        for name, p in self.named_parameters():
            if name.endswith("pos_embed"):
                trunc_normal_(p, std=0.02)
        self.head = linear_classifier(self.num_features, self.num_classes)

    @property
    def num_layers(self) -> int:
        """Blocks, as layer-wise learning-rate decay counts them (:meth:`layer_id`): model 2's spatial and
        temporal ones together."""
        return len(self.blocks) + (len(self.temporal_blocks) if self.variant == 2 else 0)

    def layer_id(self, name: str) -> int:
        """The layer of parameter ``name`` for layer-wise learning-rate decay: the tubelet embedding, CLS token
        and positional table 0, block ``i`` ``i + 1``, the final norm and the classifier ``num_layers + 1``.
        Model 2 numbers its temporal blocks after the spatial ones (temporal block ``j``: ``depth + j + 1``);
        what feeds the temporal encoder (``norm_spatial``, the temporal CLS token and positions) sits one below
        its first block, at ``depth``."""
        if name.startswith(("patch_embed.", "cls_token", "pos_embed")):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        depth = len(self.blocks)
        if name.startswith("temporal_blocks."):
            return depth + int(name.split(".")[1]) + 1
        if name.startswith(("norm_spatial.", "temporal_cls_token", "temporal_pos_embed")):
            return depth
        return self.num_layers + 1

    def no_weight_decay(self) -> set[str]:
        """The learned tokens and positional tables, exempt from weight decay."""
        names = {"pos_embed", "cls_token"} if self.num_prefix_tokens else {"pos_embed"}
        return names | ({"temporal_cls_token", "temporal_pos_embed"} if self.variant == 2 else set())

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations in the backward pass instead of keeping them (training only):
        less memory for one more forward pass of compute."""
        self.grad_checkpointing = enable

    def token_grid(self, frames: int, height: int, width: int) -> Grid:
        """The grid (T', H', W') of the tokens :meth:`forward_features` returns after its prefix for clips of
        ``frames`` x ``height`` x ``width``: the tubelet grid; model 2's are per frame, (T', 1, 1)."""
        t, h, w = self.patch_embed.grid(frames, height, width)
        return (t, 1, 1) if self.variant == 2 else (t, h, w)

    def _run(self, blocks: nn.ModuleList, x: Tensor, grid: Grid | None, prefix: int) -> Tensor:
        for block in blocks:
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(block, x, grid, prefix, use_reentrant=False)
            else:
                x = block(x, grid, prefix)
        return x

    def _with_cls(self, cls: Tensor, tokens: Tensor) -> Tensor:
        return torch.cat([cls.expand(tokens.shape[0], -1, -1), tokens], dim=1)

    def forward_features(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> normalised tokens [B, P + N, D]: models 1, 3, 4: P = 1 (CLS; 0 for 3 and 4)
        and the N = T' H' W' tubelet tokens in (t, h, w) order; model 2: the temporal CLS and one token per
        time step, [B, 1 + T', D]."""
        tokens = self.patch_embed(x)  # [B, T' H' W', D]
        grid = self.patch_embed.grid(*x.shape[2:])
        if self.variant == 2:
            return self._factorised_encoder(tokens, grid)
        if self.num_prefix_tokens:
            tokens = self._with_cls(self.cls_token, tokens)
        pos = resample_pos_embed(self.pos_embed, self.base_grid, grid, self.num_prefix_tokens)
        tokens = self.pos_drop(tokens + pos)
        return self.norm(self._run(self.blocks, tokens, grid, self.num_prefix_tokens))

    def _factorised_encoder(self, tokens: Tensor, grid: Grid) -> Tensor:
        """Model 2: tokens [B, T' H' W', D] -> [B, 1 + T', D]."""
        b, _, d = tokens.shape
        t, h, w = grid
        frames = self._with_cls(self.cls_token, tokens.reshape(b * t, h * w, d))  # [B T', 1 + H' W', D]
        base_t, base_h, base_w = self.base_grid
        pos = resample_pos_embed(self.pos_embed, (1, base_h, base_w), (1, h, w), 1)
        frames = self._run(self.blocks, self.pos_drop(frames + pos), (1, h, w), 1)
        steps = self.norm_spatial(frames[:, 0]).reshape(b, t, d)  # each frame's CLS: [B, T', D]
        steps = self._with_cls(self.temporal_cls_token, steps)
        pos = resample_pos_embed(self.temporal_pos_embed, (base_t, 1, 1), (t, 1, 1), 1)
        return self.norm(self._run(self.temporal_blocks, self.pos_drop(steps + pos), (t, 1, 1), 1))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Tokens [B, P + N, D] -> logits [B, K] (``pre_logits``: [B, D]): the CLS token (models 1, 2) or the
        mean of the tokens (models 3, 4), dropout, the linear classifier."""
        pooled = x[:, 0] if self.num_prefix_tokens else x.mean(dim=1)
        return pooled if pre_logits else self.head(self.head_drop(pooled))

    def forward_temporal(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> [B, T', D]: the grid tokens averaged over H', W' (model 2: its per-step
        tokens)."""
        grid = self.token_grid(*x.shape[2:])
        return temporal_pool(
            self.forward_features(x), self.feature_layout, grid=grid, num_prefix_tokens=self.num_prefix_tokens
        )

    def forward(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> logits [B, K]."""
        return self.forward_head(self.forward_features(x))


# --- registered models -----------------------------------------------------------------------------------

_BASE = {"img_size": 224, "num_frames": 32, "tubelet": (2, 16, 16), "dim": 768, "depth": 12, "num_heads": 12}
_BASE_ACT = {1: "gelu_fast"}  # Hugging Face's ViViT (model 1) uses the tanh GELU; Scenic's others, exact GELU
_TINY = {"img_size": 112, "num_frames": 8, "tubelet": (2, 16, 16), "dim": 192, "depth": 4, "num_heads": 6}
_PAPER = "Arnab et al., ViViT: A Video Vision Transformer, ICCV 2021"
#: ViViT's input: 32 frames every 2 at 224, pixels scaled to [-1, 1] (Scenic's and Hugging Face's mean = std
#: = 0.5).
_PRESET = Preset(frames=32, frame_stride=2, crop_size=224, short_side=256, mean=(0.5,) * 3, std=(0.5,) * 3)
_TINY_PRESET = Preset(
    frames=8, frame_stride=2, crop_size=112, short_side=128, mean=(0.5,) * 3, std=(0.5,) * 3
)


#: google/vivit-b-16x2-kinetics400 on Hugging Face, pinned to the commit that converted it to safetensors
#: (refs/pr/3, not merged into main; main holds the same weights as pytorch_model.bin).
_HF_B_K400 = (
    "https://huggingface.co/google/vivit-b-16x2-kinetics400/resolve/"
    "990d41c5f5e68d71edfdf7f754e407c13d2b8a36/model.safetensors"
)
_WEIGHTS = {
    "vivit_b": (
        Weights(
            tag="kinetics400",
            files=(
                WeightsFile(
                    _HF_B_K400,
                    sha256="41df97234ff90175c5247a4842ae0d5dd2f1d1614ba66aa6e602f696d4463cac",
                    filename="vivit-b-16x2-kinetics400.safetensors",
                ),
            ),
            dataset="Kinetics-400",
            num_classes=400,
            labels="kinetics400",
            preset=Preset(
                frames=32,
                frame_stride=2,
                short_side=224,
                crop_size=224,
                mean=(0.5,) * 3,
                std=(0.5,) * 3,
                num_clips=4,
                num_crops=3,
            ),
            layout="hf",
            source="google-research/scenic (Hugging Face: google/vivit-b-16x2-kinetics400)",
            license="MIT (the model card's licence)",
            test_protocol="Kinetics-400, 4 clips x 3 crops of 32 frames every 2nd at 224 (the paper's views)",
            notes=(
                "Model 1 (joint space-time attention), converted from Scenic by Hugging Face. The model card "
                "states no accuracy. Its config's id2label holds placeholders (LABEL_0 ...); the head follows the "
                "alphabetical Kinetics-400 order (Hugging Face's documented example answers LABEL_116 on "
                "'eating spaghetti', the 117th alphabetical class). Pixels are scaled to [-1, 1], as Scenic "
                "trains (Hugging Face's processor, with rescale 1/127.5, offset and mean/std 0.5, normalises "
                "twice). The file's size is not recorded (pages round it: 356 MB): the sha256 is checked."
            ),
        ),
    ),
}


def _build(
    name: str, variant: int, sizes: Mapping[str, Any], num_classes: int, kwargs: dict[str, Any]
) -> ViViT:
    asked = kwargs.pop("variant", variant)
    if asked != variant:
        other = {1: "vivit_b", 2: "vivit_m2_b", 3: "vivit_m3_b", 4: "vivit_m4_b"}[asked]
        raise ConfigError(
            f"{name} is ViViT model {variant} ({_VARIANTS[variant]}); these arguments are for model {asked}: "
            f"build {other}"
        )
    act = _BASE_ACT.get(variant, "gelu")
    return ViViT(num_classes, variant=variant, **{"act": act, **sizes, **kwargs})


def _card(name: str, variant: int, *, tiny: bool, params: int, gmacs: float, notes: str = "") -> ModelCard:
    frames, size = (8, 112) if tiny else (32, 224)
    what = "a tiny ViViT for CPUs (D 192, 4 layers, 6 heads)" if tiny else "ViViT-B"
    return ModelCard(
        name=name,
        family="vivit",
        input_size=(3, frames, size, size),
        frames=frames,
        frame_stride=2,
        params=params,
        gmacs=gmacs,
        paper=_PAPER,
        classifier="head",
        preset=_TINY_PRESET if tiny else _PRESET,
        weights=_WEIGHTS.get(name, ()),
        notes=f"Model {variant}, {_VARIANTS[variant]}: {what}, tubelet 2x16x16. MACs at batch 1 on "
        f"(3, {frames}, {size}, {size}), attention included. {notes}".strip(),
    )


@register_model(
    card=_card(
        "vivit_b",
        1,
        tiny=False,
        params=88_954_000,
        gmacs=451.52,
        notes="Hugging Face's VivitForVideoClassification; its save_pretrained folders load with "
        "weights=DIR.",
    )
)
def vivit_b(*, num_classes: int = 400, **kwargs: Any) -> ViViT:
    """ViViT-B model 1 (spatio-temporal attention, the plain video ViT): clips [B, 3, 32, 224, 224] -> [B, K]."""
    return _build("vivit_b", 1, _BASE, num_classes, kwargs)


@register_model(
    card=_card("vivit_m2_b", 2, tiny=False, params=115_062_928, gmacs=283.34, notes="4 temporal layers.")
)
def vivit_m2_b(*, num_classes: int = 400, **kwargs: Any) -> ViViT:
    """ViViT-B model 2 (factorised encoder, 12 spatial + 4 temporal layers): [B, 3, 32, 224, 224] -> [B, K]."""
    return _build("vivit_m2_b", 2, {**_BASE, "temporal_depth": 4}, num_classes, kwargs)


@register_model(card=_card("vivit_m3_b", 3, tiny=False, params=117_319_312, gmacs=371.09))
def vivit_m3_b(*, num_classes: int = 400, **kwargs: Any) -> ViViT:
    """ViViT-B model 3 (factorised self-attention): clips [B, 3, 32, 224, 224] -> [B, K]."""
    return _build("vivit_m3_b", 3, _BASE, num_classes, kwargs)


@register_model(card=_card("vivit_m4_b", 4, tiny=False, params=88_952_464, gmacs=276.18))
def vivit_m4_b(*, num_classes: int = 400, **kwargs: Any) -> ViViT:
    """ViViT-B model 4 (factorised dot-product attention): clips [B, 3, 32, 224, 224] -> [B, K]."""
    return _build("vivit_m4_b", 4, _BASE, num_classes, kwargs)


@register_model(card=_card("vivit_t", 1, tiny=True, params=2_190_160, gmacs=0.466))
def vivit_t(*, num_classes: int = 400, **kwargs: Any) -> ViViT:
    """Tiny ViViT model 1 (D 192, 4 layers, 6 heads): clips [B, 3, 8, 112, 112] -> [B, K]."""
    return _build("vivit_t", 1, _TINY, num_classes, kwargs)


@register_model(
    card=_card("vivit_m2_t", 2, tiny=True, params=3_053_200, gmacs=0.432, notes="2 temporal layers.")
)
def vivit_m2_t(*, num_classes: int = 400, **kwargs: Any) -> ViViT:
    """Tiny ViViT model 2 (4 spatial + 2 temporal layers): clips [B, 3, 8, 112, 112] -> [B, K]."""
    return _build("vivit_m2_t", 2, {**_TINY, "temporal_depth": 2}, num_classes, kwargs)


@register_model(card=_card("vivit_m3_t", 3, tiny=True, params=2_784_208, gmacs=0.536))
def vivit_m3_t(*, num_classes: int = 400, **kwargs: Any) -> ViViT:
    """Tiny ViViT model 3 (factorised self-attention): clips [B, 3, 8, 112, 112] -> [B, K]."""
    return _build("vivit_m3_t", 3, _TINY, num_classes, kwargs)


@register_model(card=_card("vivit_m4_t", 4, tiny=True, params=2_189_776, gmacs=0.413))
def vivit_m4_t(*, num_classes: int = 400, **kwargs: Any) -> ViViT:
    """Tiny ViViT model 4 (factorised dot-product attention): clips [B, 3, 8, 112, 112] -> [B, K]."""
    return _build("vivit_m4_t", 4, _TINY, num_classes, kwargs)


# --- Hugging Face ----------------------------------------------------------------------------------------

#: Hugging Face ViViT module names (both the saved names and transformers 5's in-memory ones) -> vidact's.
_HF_BLOCK = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.output.dense": "attn.proj",
    "attention.o_proj": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}
_HF_QKV = {
    "attention.attention.query": 0,
    "attention.attention.key": 1,
    "attention.attention.value": 2,
    "attention.q_proj": 0,
    "attention.k_proj": 1,
    "attention.v_proj": 2,
}
_HF_TOP = {
    "embeddings.cls_token": "cls_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
    "classifier.weight": "head.weight",
    "classifier.bias": "head.bias",
}


def convert_hf_state_dict(state: StateDict) -> StateDict:
    """A Hugging Face ``VivitForVideoClassification`` (or ``VivitModel``) state_dict -> :class:`ViViT` model
    1's keys: query, key and value of each layer fused into ``attn.qkv`` (rows q, k, v), the rest renamed.
    ``VivitModel``'s pooler (a Linear + tanh that classification does not use) is left out; keys it does
    not know pass through unchanged, for the strict load to name.

    Raises:
        CheckpointError: a layer with some but not all of its query, key and value.
    """
    out: StateDict = {}
    qkv: dict[tuple[str, str], dict[int, Tensor]] = {}
    for key, value in state.items():
        name = key.removeprefix("vivit.")
        if name.startswith("pooler."):
            continue
        if name in _HF_TOP:
            out[_HF_TOP[name]] = value
            continue
        parts = name.split(".")
        if len(parts) > 3 and parts[0] in ("encoder", "layers"):
            layer_start = 3 if parts[0] == "encoder" else 2  # encoder.layer.N. / layers.N.
            index, module, leaf = parts[layer_start - 1], ".".join(parts[layer_start:-1]), parts[-1]
            if module in _HF_QKV:
                qkv.setdefault((index, leaf), {})[_HF_QKV[module]] = value
                continue
            if module in _HF_BLOCK:
                out[f"blocks.{index}.{_HF_BLOCK[module]}.{leaf}"] = value
                continue
        out[key] = value
    for (index, leaf), parts in sorted(qkv.items()):
        if sorted(parts) != [0, 1, 2]:
            raise CheckpointError(f"layer {index}: the attention's {leaf} lacks some of query, key and value")
        out[f"blocks.{index}.attn.qkv.{leaf}"] = torch.cat([parts[0], parts[1], parts[2]], dim=0)
    return out


def read_hf_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A Hugging Face ``VivitConfig`` (its ``config.json``) -> :class:`ViViT` builder arguments (model 1):
    sizes, frames, tubelet, ``hidden_act``, ``layer_norm_eps``, ``qkv_bias``, dropouts, and the class count
    (``id2label``'s; 0 for a ``VivitModel`` without a classifier).

    Raises:
        ConfigError: a config of another model type, or one whose intermediate size is not a whole MLP width.
    """
    if config.get("model_type") != "vivit":
        raise ConfigError(f"not a Hugging Face ViViT config (model_type {config.get('model_type')!r})")
    dim = int(config.get("hidden_size", 768))
    classifies = any("Classification" in a for a in config.get("architectures") or ["Classification"])
    labels = config.get("id2label")
    num_classes = (len(labels) if labels else int(config.get("num_labels", 2))) if classifies else 0
    return {
        "variant": 1,
        "num_classes": num_classes,
        "img_size": _pair(config.get("image_size", 224)),
        "num_frames": int(config.get("num_frames", 32)),
        "tubelet": tuple(int(v) for v in config.get("tubelet_size", (2, 16, 16))),
        "in_chans": int(config.get("num_channels", 3)),
        "dim": dim,
        "depth": int(config.get("num_hidden_layers", 12)),
        "num_heads": int(config.get("num_attention_heads", 12)),
        "mlp_ratio": int(config.get("intermediate_size", 3072)) / dim,
        "act": str(config.get("hidden_act", "gelu_fast")),
        "norm_eps": float(config.get("layer_norm_eps", 1e-6)),
        "qkv_bias": bool(config.get("qkv_bias", True)),
        "drop_rate": float(config.get("hidden_dropout_prob", 0.0)),
        "attn_drop_rate": float(config.get("attention_probs_dropout_prob", 0.0)),
    }


register_converter("vivit", "hf", convert_hf_state_dict)
register_config_reader("vivit", read_hf_config)
