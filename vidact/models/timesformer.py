"""TimeSformer (Bertasius, Wang and Torresani, "Is Space-Time Attention All You Need for Video
Understanding?", ICML 2021): a ViT on per-frame 16x16 patches whose blocks attend in time and in space.

Each frame of a clip [B, 3, T, H, W] is cut into p x p patches (a tubelet of one frame, so T' = T), which become
the grid tokens in (t, h, w) order, after one CLS token. Positions are separable and learned: a spatial table
``pos_embed`` [1, 1 + H'W', D] (its first row is the CLS token's) and a temporal one ``time_embed`` [1, T', D],
both resampled when a clip's grid differs from the model's. Three ``attention_type`` values, as in the paper's
ablations:

    divided_space_time   each block: temporal attention within each spatial cell (+ its output Linear
                         ``time_fc``), then spatial attention within each frame (the CLS token copied into every
                         frame, its outputs averaged), then the MLP (:class:`~vidact.models.vit.layers.DividedBlock`)
    joint_space_time     each block attends over all 1 + T'H'W' tokens at once
    space_only           no temporal attention and no time embedding: every frame is its own sequence with its
                         own CLS token; the video's CLS is the mean of the frames' (after the final norm)

The classifier reads the CLS token. TimeSformer-B (``timesformer_b``): D 768, 12 layers, 12 heads, 8 frames at
224, 121,566,352 parameters at 400 classes (Hugging Face's ``TimesformerForVideoClassification`` counts the
same).

Hugging Face's weights load through the ``"hf"`` layout, and ``build_model(name, weights=DIR)`` builds the
architecture from a ``save_pretrained`` folder's ``config.json`` (:func:`config_from_hf`). Hugging Face orders
the grid tokens (h, w, t) and embeds patches with a Conv2d; here they are (t, h, w) and a Conv3d of kernel
(1, p, p), so its masks and token outputs are permuted, its logits equal. Its ``space_only`` model returns one
row of logits per frame ([B T, K]); the mean of those rows is this model's logits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..data.presets import Preset
from ..errors import ConfigError
from .contract import FeatureLayout, temporal_pool
from .converters import register_config_reader, register_converter
from .layers import LinearClassifier, linear_classifier
from .registry import ModelCard, Weights, WeightsFile, register_model
from .vit.layers import (
    Block,
    DividedBlock,
    Grid,
    TubeletEmbed,
    init_vit_weights,
    resample_pos_embed,
    trunc_normal_,
)

__all__ = [
    "ATTENTION_TYPES",
    "TimeSformer",
    "config_from_hf",
    "convert_hf_state_dict",
    "timesformer_b",
    "timesformer_b_joint",
    "timesformer_b_space",
    "timesformer_tiny",
    "timesformer_tiny_joint",
    "timesformer_tiny_space",
]

#: The attention of each block, by the names of the paper's code and of Hugging Face's ``attention_type``.
ATTENTION_TYPES = ("divided_space_time", "joint_space_time", "space_only")


class TimeSformer(LinearClassifier, nn.Module):
    """TimeSformer: clips [B, in_chans, T, H, W] -> logits [B, num_classes].

    ``forward_features`` gives tokens [B, 1 + T'H'W', D] (CLS first, then the grid in (t, h, w) order, after
    the final LayerNorm), ``forward_head`` classifies the CLS token. Clips of another size than the model's
    (``num_frames`` x ``img_size``) resample the positional tables (trilinear, :func:`resample_pos_embed`).

    Args:
        num_classes: logits (0: no classifier, ``forward`` returns the CLS token [B, D]).
        img_size: the frame size the spatial table is learned for (square).
        patch_size: patch side p (the tubelet is (1, p, p)).
        num_frames: the frames the time table is learned for.
        in_chans: input channels.
        embed_dim: token width D.
        depth: blocks.
        num_heads: attention heads (divide D).
        mlp_ratio: MLP hidden width over D.
        qkv_bias: the attention's ``qkv`` has a bias.
        attention_type: one of :data:`ATTENTION_TYPES`.
        norm_eps: LayerNorm epsilon (1e-6, the paper's code and Hugging Face's default).
        act: MLP activation (a name of :data:`vidact.models.vit.layers.ACTIVATIONS`).
        drop_rate: dropout after the positional embeddings, the projections and before the classifier.
        attn_drop_rate: dropout on attention weights.
        drop_path_rate: stochastic depth of the last block (linear from 0 over the blocks).

    Raises:
        ConfigError: an unknown ``attention_type``, or heads that do not divide D.
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.TOKENS
    classifier_attr = "head"
    num_prefix_tokens = 1

    def __init__(
        self,
        num_classes: int = 400,
        *,
        img_size: int = 224,
        patch_size: int = 16,
        num_frames: int = 8,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        attention_type: str = "divided_space_time",
        norm_eps: float = 1e-6,
        act: str = "gelu",
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if attention_type not in ATTENTION_TYPES:
            raise ConfigError(
                f"unknown TimeSformer attention_type {attention_type!r}; choose from {', '.join(ATTENTION_TYPES)}"
            )
        self.attention_type = attention_type
        self.patch_embed = TubeletEmbed(in_chans, embed_dim, (1, patch_size, patch_size))
        self.grid = self.patch_embed.grid(num_frames, img_size, img_size)
        _, h, w = self.grid
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + h * w, embed_dim))
        self.time_embed = (
            nn.Parameter(torch.zeros(1, num_frames, embed_dim)) if attention_type != "space_only" else None
        )
        self.pos_drop = nn.Dropout(drop_rate)
        block = DividedBlock if attention_type == "divided_space_time" else Block
        block_args = {
            "mlp_ratio": mlp_ratio,
            "qkv_bias": qkv_bias,
            "norm_eps": norm_eps,
            "act": act,
            "drop": drop_rate,
            "attn_drop": attn_drop_rate,
        }
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # 0 .. drop_path_rate
        self.blocks = nn.ModuleList(
            block(embed_dim, num_heads, drop_path=rate, **block_args) for rate in rates
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.num_features = self.head_hidden_size = embed_dim
        self.num_classes = num_classes
        self.head_drop = nn.Dropout(drop_rate)
        #: Blocks, as layer-wise learning-rate decay counts them (:meth:`layer_id`).
        self.num_layers = depth
        self.grad_checkpointing = False
        init_vit_weights(self)
        trunc_normal_(self.pos_embed)
        trunc_normal_(self.cls_token)
        self.head = linear_classifier(embed_dim, num_classes)

    def layer_id(self, name: str) -> int:
        """The layer of parameter ``name`` for layer-wise learning-rate decay: the patch embedding, CLS token
        and positional tables 0, block ``i`` ``i + 1``, the final norm and the classifier ``num_layers + 1``."""
        if name.startswith(("patch_embed.", "cls_token", "pos_embed", "time_embed")):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.num_layers + 1

    def no_weight_decay(self) -> set[str]:
        """The learned tokens and positional tables, exempt from weight decay."""
        return {"cls_token", "pos_embed"} | ({"time_embed"} if self.time_embed is not None else set())

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations in the backward pass instead of keeping them (training only):
        less memory for one more forward pass of the blocks."""
        self.grad_checkpointing = enable

    def _block(self, blk: nn.Module, x: Tensor, *args: Any) -> Tensor:
        """``blk(x, *args)``, checkpointed when :meth:`set_grad_checkpointing` asked for it and gradients flow."""
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(blk, x, *args, use_reentrant=False)
        return blk(x, *args)

    def token_grid(self, frames: int, height: int, width: int) -> Grid:
        """The grid (T', H', W') = (T, H // p, W // p) of the tokens after the CLS token, for clips of
        ``frames`` x ``height`` x ``width``."""
        return self.patch_embed.grid(frames, height, width)

    def _embed(self, x: Tensor) -> tuple[Tensor, Tensor, Grid]:
        """Clips [B, C, T, H, W] -> (CLS [B, 1, D], grid tokens [B, T'H'W', D], grid), positions added."""
        grid = self.token_grid(*x.shape[2:])
        t, h, w = grid
        tokens = self.patch_embed(x)
        pos = resample_pos_embed(self.pos_embed, (1, *self.grid[1:]), (1, h, w), num_prefix_tokens=1)
        b, _, d = tokens.shape
        tokens = tokens.view(b, t, h * w, d) + pos[:, None, 1:]
        if self.time_embed is not None:
            time = resample_pos_embed(self.time_embed, (self.grid[0], 1, 1), (t, 1, 1))
            tokens = tokens + time[:, :, None]
        cls = (self.cls_token + pos[:, :1]).expand(b, -1, -1)
        return self.pos_drop(cls), self.pos_drop(tokens.flatten(1, 2)), grid

    def forward_features(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> tokens [B, 1 + T H' W', D] after the final norm: the CLS token, then the
        grid tokens in (t, h, w) order (``space_only``: the CLS token is the frames' mean)."""
        cls, tokens, grid = self._embed(x)
        t, h, w = grid
        b, _, d = tokens.shape
        if self.attention_type == "space_only":  # T sequences [1 + H'W'] per clip, one CLS token each
            frames = torch.cat([cls.repeat_interleave(t, dim=0), tokens.reshape(b * t, h * w, d)], dim=1)
            for blk in self.blocks:
                frames = self._block(blk, frames)
            frames = self.norm(frames).view(b, t, 1 + h * w, d)
            return torch.cat(
                [frames[:, :, 0].mean(dim=1, keepdim=True), frames[:, :, 1:].flatten(1, 2)], dim=1
            )
        x = torch.cat([cls, tokens], dim=1)
        for blk in self.blocks:
            x = self._block(blk, x, grid, 1)
        return self.norm(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Tokens [B, 1 + N, D] -> logits [B, num_classes] from the CLS token (``pre_logits``: the CLS token
        [B, D])."""
        x = self.head_drop(x[:, 0])
        return x if pre_logits else self.head(x)

    def forward_temporal(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> [B, T, D]: each frame's grid tokens averaged (the CLS token left out)."""
        grid = self.token_grid(*x.shape[2:])
        return temporal_pool(self.forward_features(x), self.feature_layout, grid=grid, num_prefix_tokens=1)

    def forward(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> logits [B, num_classes] (no classifier: the CLS token [B, D])."""
        return self.forward_head(self.forward_features(x))


# --- Hugging Face's TimesformerForVideoClassification --------------------------------------------------------

#: Hugging Face's block keys (after ``timesformer.encoder.layer.<i>.``) -> a block's, first match wins.
_HF_BLOCK_KEYS = (
    (r"attention\.attention\.qkv\.", "attn.qkv."),
    (r"attention\.output\.dense\.", "attn.proj."),
    (r"temporal_attention\.attention\.qkv\.", "attn_time.qkv."),
    (r"temporal_attention\.output\.dense\.", "attn_time.proj."),
    (r"temporal_layernorm\.", "norm_time."),
    (r"temporal_dense\.", "time_fc."),
    (r"layernorm_before\.", "norm1."),
    (r"layernorm_after\.", "norm2."),
    (r"intermediate\.dense\.", "mlp.fc1."),
    (r"output\.dense\.", "mlp.fc2."),
)
_HF_TOP_KEYS = {
    "timesformer.embeddings.cls_token": "cls_token",
    "timesformer.embeddings.position_embeddings": "pos_embed",
    "timesformer.embeddings.time_embeddings": "time_embed",
    "timesformer.embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "timesformer.embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "timesformer.layernorm.weight": "norm.weight",
    "timesformer.layernorm.bias": "norm.bias",
    "classifier.weight": "head.weight",
    "classifier.bias": "head.bias",
}
_HF_LAYER = re.compile(r"^timesformer\.encoder\.layer\.(\d+)\.(.+)$")


def convert_hf_state_dict(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Hugging Face ``TimesformerForVideoClassification`` (or ``TimesformerModel``, keys without the
    ``timesformer.`` prefix) keys -> :class:`TimeSformer`'s; the Conv2d patch kernel [D, C, p, p] becomes the
    Conv3d's [D, C, 1, p, p]. Keys it does not know are passed through unchanged, so a strict load names them."""
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        if not key.startswith(("timesformer.", "classifier.")):
            key = f"timesformer.{key}"
        if key in _HF_TOP_KEYS:
            new = _HF_TOP_KEYS[key]
            if new == "patch_embed.proj.weight" and value.ndim == 4:
                value = value.unsqueeze(2)
            out[new] = value
            continue
        match = _HF_LAYER.match(key)
        if match is None:
            out[key] = value
            continue
        index, rest = match.groups()
        for pattern, replacement in _HF_BLOCK_KEYS:
            if re.match(pattern, rest):
                rest = re.sub(f"^{pattern}", replacement, rest)
                break
        out[f"blocks.{index}.{rest}"] = value
    return out


def _square(value: Any, what: str) -> int:
    sides = [value] * 2 if isinstance(value, int) else list(value)
    if len(sides) != 2 or sides[0] != sides[1]:
        raise ConfigError(f"TimeSformer config: {what} must be square, got {value!r}")
    return int(sides[0])


def _num_classes(config: Mapping[str, Any]) -> int:
    """The classes of a Hugging Face config: those ``id2label`` names (else ``num_labels``) when its
    architecture classifies, 0 for a bare backbone."""
    classifies = any("Classification" in a for a in config.get("architectures") or ["Classification"])
    labels = config.get("id2label")
    return (len(labels) if labels else int(config.get("num_labels", 2))) if classifies else 0


def config_from_hf(config: Mapping[str, Any]) -> dict[str, Any]:
    """A Hugging Face ``TimesformerConfig`` (``config.json`` as a dict) -> :class:`TimeSformer` arguments
    (``num_classes``: the ``id2label`` entries of a classification model, 0 for ``TimesformerModel``).

    Raises:
        ConfigError: a config of another model type, a non-square image or patch, an unknown attention type.
    """
    model_type = config.get("model_type", "timesformer")
    if model_type != "timesformer":
        raise ConfigError(f"config.json describes a {model_type!r} model, not a TimeSformer")
    dim = int(config.get("hidden_size", 768))
    attention_type = config.get("attention_type", "divided_space_time")
    if attention_type not in ATTENTION_TYPES:
        raise ConfigError(
            f"TimeSformer config: unknown attention_type {attention_type!r}; choose from {', '.join(ATTENTION_TYPES)}"
        )
    return {
        "num_classes": _num_classes(config),
        "img_size": _square(config.get("image_size", 224), "image_size"),
        "patch_size": _square(config.get("patch_size", 16), "patch_size"),
        "num_frames": int(config.get("num_frames", 8)),
        "in_chans": int(config.get("num_channels", 3)),
        "embed_dim": dim,
        "depth": int(config.get("num_hidden_layers", 12)),
        "num_heads": int(config.get("num_attention_heads", 12)),
        "mlp_ratio": int(config.get("intermediate_size", 4 * dim)) / dim,  # round(D * ratio) is the width
        "qkv_bias": bool(config.get("qkv_bias", True)),
        "attention_type": attention_type,
        "norm_eps": float(config.get("layer_norm_eps", 1e-6)),
        "act": str(config.get("hidden_act", "gelu")),
        "drop_rate": float(config.get("hidden_dropout_prob", 0.0)),
        "attn_drop_rate": float(config.get("attention_probs_dropout_prob", 0.0)),
        "drop_path_rate": float(config.get("drop_path_rate", 0.0)),
    }


# --- registered models -----------------------------------------------------------------------------------------

_PAPER = 'Bertasius, Wang and Torresani, "Is Space-Time Attention All You Need for Video Understanding?", ICML 2021'
_B = {"img_size": 224, "patch_size": 16, "num_frames": 8, "embed_dim": 768, "depth": 12, "num_heads": 12}
#: The small variant of the synthetic-data comparisons: D 192, 4 blocks, 3 heads, 8 frames at 112.
_TINY = {"img_size": 112, "patch_size": 16, "num_frames": 8, "embed_dim": 192, "depth": 4, "num_heads": 3}
_B_NOTES = (
    "8 frames sampled every 32 at 224x224 (Kinetics-400: 3 spatial crops x 1 clip at test time). "
    "Hugging Face's facebook/timesformer-base-finetuned-k400 loads through the 'hf' layout."
)


#: facebook/timesformer-base-finetuned-k400 on Hugging Face: its safetensors file is on the conversion pull
#: request's branch (refs/pr/5, not merged into main); the file is pinned by its sha256 (the LFS object id).
_HF_B_K400 = (
    "https://huggingface.co/facebook/timesformer-base-finetuned-k400/resolve/refs%2Fpr%2F5/model.safetensors"
)
_WEIGHTS = {
    "timesformer_b": (
        Weights(
            tag="kinetics400",
            files=(
                WeightsFile(
                    _HF_B_K400,
                    sha256="71e5bb193f69681414dc0647ca750857e540fef256ae4313084bd5f022ddd599",
                    filename="timesformer-base-finetuned-k400.safetensors",
                ),
            ),
            dataset="Kinetics-400",
            num_classes=400,
            labels="kinetics400",
            # 8 frames every 32nd; short side 224, three 224 crops; mean 0.45 / std 0.225 (the checkpoint's
            # preprocessor_config.json, the reference code's Kinetics statistics).
            preset=Preset(
                frames=8,
                frame_stride=32,
                short_side=224,
                crop_size=224,
                mean=(0.45, 0.45, 0.45),
                std=(0.225, 0.225, 0.225),
                num_clips=1,
                num_crops=3,
            ),
            layout="hf",
            source="facebookresearch/TimeSformer (Hugging Face: facebook/timesformer-base-finetuned-k400)",
            license="CC-BY-NC-4.0 (the model card's and the reference code's licence: non-commercial use)",
            top1=77.9,
            top5=93.2,
            test_protocol="Kinetics-400 validation, 1 clip x 3 crops of 8 frames every 32nd at 224",
            notes=(
                "Divided space-time attention. Accuracy from the TimeSformer README (the retrained models' "
                "table; the paper's 78.0 / 93.7). Labels: the config's id2label is the alphabetical Kinetics-400 "
                "list vidact ships. The file's size is not recorded (Hugging Face's pages round it: 486 MB): "
                "the sha256 is checked."
            ),
        ),
        Weights(
            tag="ssv2",
            files=(
                WeightsFile(
                    "https://huggingface.co/facebook/timesformer-base-finetuned-ssv2/resolve/refs%2Fpr%2F5/"
                    "model.safetensors",
                    sha256="b558c3c7fca329182dbeebcc6f453f56c6510a5069a14812cb125499268f41bf",
                    filename="timesformer-base-finetuned-ssv2.safetensors",
                ),
            ),
            dataset="Something-Something v2",
            num_classes=174,
            labels="ssv2",
            # 8 segments, one frame each (the reference code's SSv2 loader); short side 224, three crops.
            preset=Preset(
                frames=8,
                sampler="segments",
                short_side=224,
                crop_size=224,
                mean=(0.45, 0.45, 0.45),
                std=(0.225, 0.225, 0.225),
                num_clips=1,
                num_crops=3,
            ),
            layout="hf",
            source="facebookresearch/TimeSformer (Hugging Face: facebook/timesformer-base-finetuned-ssv2)",
            license="CC-BY-NC-4.0 (the model card's and the reference code's licence: non-commercial use)",
            top1=59.1,
            top5=85.6,
            test_protocol="Something-Something v2 validation, 1 clip x 3 crops of 8 segments at 224",
            notes=(
                "Divided space-time attention; accuracy from the TimeSformer README. The safetensors file is on "
                "the conversion pull request's branch (refs/pr/5), pinned by its sha256; its size is not "
                "recorded (pages round it: 486 MB)."
            ),
        ),
    ),
}


def _card(name: str, size: dict[str, int], params: int, gmacs: float, notes: str) -> ModelCard:
    """The card of a TimeSformer variant; ``gmacs`` of one clip at the card's input, attention counted under
    the math SDPA kernel (TimeSformer-B: 196, the paper's 0.59 TFLOPs for 3 views)."""
    frames, side = size["num_frames"], size["img_size"]
    return ModelCard(
        name=name,
        family="timesformer",
        input_size=(3, frames, side, side),
        frames=frames,
        frame_stride=32 if side == 224 else 4,
        params=params,
        gmacs=gmacs,
        default_num_classes=400,
        classifier="head",
        paper=_PAPER,
        notes=notes,
        weights=_WEIGHTS.get(name, ()),
    )


def _build(
    size: dict[str, int], attention_type: str, num_classes: int, kwargs: dict[str, Any]
) -> TimeSformer:
    return TimeSformer(num_classes=num_classes, **{**size, "attention_type": attention_type, **kwargs})


@register_model(
    card=_card("timesformer_b", _B, 121_566_352, 195.83, "Divided space-time attention. " + _B_NOTES)
)
def timesformer_b(*, num_classes: int = 400, **kwargs: Any) -> TimeSformer:
    """TimeSformer-B, divided space-time attention, 8 x 224 x 224 clips. ``kwargs`` go to :class:`TimeSformer`."""
    return _build(_B, "divided_space_time", num_classes, kwargs)


@register_model(
    card=_card(
        "timesformer_b_joint", _B, 86_112_400, 179.563, "Joint space-time attention (ablation). " + _B_NOTES
    )
)
def timesformer_b_joint(*, num_classes: int = 400, **kwargs: Any) -> TimeSformer:
    """TimeSformer-B with joint space-time attention (the paper's "ST" ablation)."""
    return _build(_B, "joint_space_time", num_classes, kwargs)


@register_model(
    card=_card("timesformer_b_space", _B, 86_106_256, 140.505, "Space-only attention (ablation). " + _B_NOTES)
)
def timesformer_b_space(*, num_classes: int = 400, **kwargs: Any) -> TimeSformer:
    """TimeSformer-B with space-only attention (the paper's "S" ablation: frames averaged at the end)."""
    return _build(_B, "space_only", num_classes, kwargs)


_TINY_NOTES = "Small variant for CPU experiments on synthetic data (D 192, 4 blocks, 3 heads, 8 x 112 x 112)."


@register_model(card=_card("timesformer_tiny", _TINY, 2_758_672, 1.082, "Divided. " + _TINY_NOTES))
def timesformer_tiny(*, num_classes: int = 400, **kwargs: Any) -> TimeSformer:
    """A small divided space-time TimeSformer (D 192, 4 blocks) for CPU experiments."""
    return _build(_TINY, "divided_space_time", num_classes, kwargs)


@register_model(card=_card("timesformer_tiny_joint", _TINY, 2_016_016, 0.991, "Joint. " + _TINY_NOTES))
def timesformer_tiny_joint(*, num_classes: int = 400, **kwargs: Any) -> TimeSformer:
    """A small joint space-time TimeSformer (D 192, 4 blocks) for CPU experiments."""
    return _build(_TINY, "joint_space_time", num_classes, kwargs)


@register_model(card=_card("timesformer_tiny_space", _TINY, 2_014_480, 0.796, "Space-only. " + _TINY_NOTES))
def timesformer_tiny_space(*, num_classes: int = 400, **kwargs: Any) -> TimeSformer:
    """A small space-only TimeSformer (D 192, 4 blocks) for CPU experiments."""
    return _build(_TINY, "space_only", num_classes, kwargs)


register_converter("timesformer", "hf", convert_hf_state_dict)
register_config_reader("timesformer", config_from_hf)
