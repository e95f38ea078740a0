"""VideoMAE (Tong, Song, Wang and Wang, "VideoMAE: Masked Autoencoders are Data-Efficient Learners for
Self-Supervised Video Pre-Training", NeurIPS 2022): a plain ViT on 2 x 16 x 16 tubelets with joint space-time
attention, pre-trained by reconstructing the pixels of tubes hidden at a very high ratio.

The encoder (:class:`VideoMAE`) embeds a clip [B, 3, T, H, W] as T'H'W' tokens in (t, h, w) order (no CLS
token), adds a fixed sine-cosine table over the flat token index (:func:`~vidact.models.vit.layers.sinusoid_table`,
resampled onto another grid when a clip's size differs from the model's) and runs pre-norm blocks whose attention
has q and v biases and no k bias (here one fused ``qkv`` with k's bias at zero, which attention ignores). For
classification it averages the tokens, normalises them (``fc_norm``) and applies a linear head.

Pre-training (:class:`VideoMAEPretrainer`): :func:`tube_mask` hides, in every clip, the same spatial cells at
every time step (90 % of them in the paper); the encoder sees only the visible tokens; a light decoder (its own
sine-cosine positions, a learned mask token for each hidden one) predicts each hidden tubelet's pixels, and the
loss is the mean squared error on pixels normalised per tubelet and channel (``norm_pix_loss``), as Hugging Face's
``VideoMAEForPreTraining`` computes it.

Sizes (``videomae_s/b/l/h``): D 384/768/1024/1280, depth 12/12/24/32, heads 6/12/16/16, 16 frames at 224.
Parameters at 400 classes: 22.04 M, 86.54 M (the paper's 87 M), 304.30 M, 632.16 M; each is Hugging Face's count
plus the zero k bias of the fused ``qkv`` (D per block).

Hugging Face's weights load through the ``"hf"`` layout (classification and pre-training checkpoints), and
``build_model(name, weights=DIR)`` builds the architecture from a ``save_pretrained`` folder's ``config.json``
(:func:`config_from_hf`). Hugging Face's token order is this one, so its ``bool_masked_pos`` carry over.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
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
    Grid,
    TubeletEmbed,
    init_vit_weights,
    resample_pos_embed,
    sinusoid_table,
    trunc_normal_,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VideoMAE",
    "VideoMAEDecoder",
    "VideoMAEPretrainer",
    "tube_mask",
    "config_from_hf",
    "pretrainer_config_from_hf",
    "convert_hf_state_dict",
    "videomae_s",
    "videomae_b",
    "videomae_l",
    "videomae_h",
    "videomae_tiny",
]

#: The normalisation of VideoMAE's inputs (ImageNet's), which the pre-training loss undoes.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def tube_mask(
    batch: int, grid: Sequence[int], ratio: float, generator: torch.Generator | None = None
) -> Tensor:
    """Tube masks [batch, T' H' W'] bool (True = hidden), tokens in (t, h, w) order: for each clip one random
    set of ``round(ratio * H' W')`` spatial cells, hidden at every time step.

    Args:
        batch: clips B.
        grid: the token grid (T', H', W').
        ratio: the share of cells hidden, in [0, 1).
        generator: the random source (CPU), for reproducible masks.

    Raises:
        ConfigError: a ratio outside [0, 1), or one that would hide every cell or none of a grid.
    """
    t, h, w = (int(v) for v in grid)
    if not 0.0 <= ratio < 1.0:
        raise ConfigError(f"mask ratio must be in [0, 1), got {ratio}")
    cells = h * w
    hidden = round(ratio * cells)
    if hidden >= cells:
        raise ConfigError(f"mask ratio {ratio} hides all {cells} cells of a {h}x{w} grid")
    order = torch.rand(batch, cells, generator=generator).argsort(dim=1)
    spatial = torch.zeros(batch, cells, dtype=torch.bool)
    spatial.scatter_(1, order[:, :hidden], True)
    return spatial[:, None, :].expand(batch, t, cells).reshape(batch, t * cells)


def _check_mask(mask: Tensor, batch: int, tokens: int) -> int:
    """The number of visible tokens per clip of a mask [B, N] bool.

    Raises:
        ConfigError: a mask of another shape or type, or rows hiding different counts.
    """
    if mask.dtype != torch.bool or tuple(mask.shape) != (batch, tokens):
        raise ConfigError(
            f"mask must be bool [B, N] = [{batch}, {tokens}], got {mask.dtype} {tuple(mask.shape)}"
        )
    visible = (~mask).sum(dim=1)
    if bool((visible != visible[0]).any()):
        raise ConfigError(
            f"every clip's mask must hide the same number of tokens, got {visible.tolist()} visible"
        )
    return int(visible[0])


def _keep(tokens: Tensor, keep: Tensor) -> Tensor:
    """Tokens [B, N, D] and a mask [B, N] bool with the same count K of True per row -> [B, K, D], in order."""
    return tokens[keep].reshape(tokens.shape[0], -1, tokens.shape[2])


def _blocks(dim: int, depth: int, num_heads: int, drop_path_rate: float, **kwargs: Any) -> nn.ModuleList:
    rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # 0 .. drop_path_rate
    return nn.ModuleList(Block(dim, num_heads, drop_path=rate, **kwargs) for rate in rates)


class VideoMAE(LinearClassifier, nn.Module):
    """The VideoMAE encoder and its classifier: clips [B, in_chans, T, H, W] -> logits [B, num_classes].

    ``forward_features(x, mask)`` gives the tokens [B, N, D] (no prefix token, (t, h, w) order; with a mask only
    the visible ones), ``forward_head`` pools them: the mean, then ``fc_norm`` (``use_mean_pooling``, the
    fine-tuned models), else the first token after the encoder's final ``norm`` (Hugging Face's and the
    reference code's choice when mean pooling is off).

    Args:
        num_classes: logits (0: no classifier, ``forward`` returns the pooled features [B, D]).
        img_size: the frame size the positional table is made for (square).
        patch_size: patch side p.
        num_frames: the frames the positional table is made for.
        tubelet_size: frames per tubelet t (the tubelet is (t, p, p)).
        in_chans: input channels.
        embed_dim: token width D.
        depth: blocks.
        num_heads: attention heads (divide D).
        mlp_ratio: MLP hidden width over D.
        qkv_bias: q and v biases (Hugging Face's ``qv_bias``; k never has one).
        norm_eps: the blocks' LayerNorm epsilon (the reference code's 1e-6; Hugging Face's configs say 1e-12).
        act: MLP activation (a name of :data:`vidact.models.vit.layers.ACTIVATIONS`).
        use_mean_pooling: pool by the mean and ``fc_norm``; otherwise a final ``norm`` and the first token.
        fc_norm_eps: ``fc_norm``'s epsilon (default ``norm_eps``; Hugging Face's is PyTorch's 1e-5).
        drop_rate: dropout after the projections and before the classifier.
        attn_drop_rate: dropout on attention weights.
        drop_path_rate: stochastic depth of the last block (linear from 0 over the blocks).

    Raises:
        ConfigError: heads that do not divide D, an unknown activation.
    """

    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.TOKENS
    classifier_attr = "head"
    num_prefix_tokens = 0
    pos_embed: Tensor

    def __init__(
        self,
        num_classes: int = 400,
        *,
        img_size: int = 224,
        patch_size: int = 16,
        num_frames: int = 16,
        tubelet_size: int = 2,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        act: str = "gelu",
        use_mean_pooling: bool = True,
        fc_norm_eps: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.patch_embed = TubeletEmbed(in_chans, embed_dim, (tubelet_size, patch_size, patch_size))
        self.grid = self.patch_embed.grid(num_frames, img_size, img_size)
        self.register_buffer("pos_embed", sinusoid_table(math.prod(self.grid), embed_dim), persistent=False)
        self.blocks = _blocks(
            embed_dim,
            depth,
            num_heads,
            drop_path_rate,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            norm_eps=norm_eps,
            act=act,
            drop=drop_rate,
            attn_drop=attn_drop_rate,
        )
        #: What a decoder built for this encoder (:class:`VideoMAEPretrainer`) repeats.
        self.block_args = {"mlp_ratio": mlp_ratio, "qkv_bias": qkv_bias, "norm_eps": norm_eps, "act": act}
        self.num_heads = num_heads
        self.use_mean_pooling = use_mean_pooling
        self.norm = nn.Identity() if use_mean_pooling else nn.LayerNorm(embed_dim, eps=norm_eps)
        self.fc_norm = (
            nn.LayerNorm(embed_dim, eps=norm_eps if fc_norm_eps is None else fc_norm_eps)
            if use_mean_pooling
            else nn.Identity()
        )
        self.num_features = self.head_hidden_size = embed_dim
        self.num_classes = num_classes
        self.head_drop = nn.Dropout(drop_rate)
        #: Blocks, as layer-wise learning-rate decay counts them (:meth:`layer_id`).
        self.num_layers = depth
        self.grad_checkpointing = False
        init_vit_weights(self)
        self.head = linear_classifier(embed_dim, num_classes)

    def layer_id(self, name: str) -> int:
        """The layer of parameter ``name`` for layer-wise learning-rate decay: the tubelet embedding 0, block
        ``i`` ``i + 1``, the final norms and the classifier ``num_layers + 1``."""
        if name.startswith("patch_embed."):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.num_layers + 1

    def no_weight_decay(self) -> set[str]:
        """Parameters exempt from weight decay besides biases and norms: none (the positional table is a
        fixed buffer, not a parameter)."""
        return set()

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations in the backward pass instead of keeping them (training only):
        less memory for one more forward pass of the blocks."""
        self.grad_checkpointing = enable

    def token_grid(self, frames: int, height: int, width: int) -> Grid:
        """The token grid (T // t, H // p, W // p) of clips of ``frames`` x ``height`` x ``width``."""
        return self.patch_embed.grid(frames, height, width)

    def embed(self, x: Tensor) -> tuple[Tensor, Grid]:
        """Clips [B, C, T, H, W] -> (tokens [B, N, D] with their positions added, grid (T', H', W'))."""
        grid = self.token_grid(*x.shape[2:])
        pos = resample_pos_embed(self.pos_embed, self.grid, grid)
        return self.patch_embed(x) + pos.to(x.dtype), grid

    def forward_features(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Clips [B, C, T, H, W] -> tokens [B, N, D] in (t, h, w) order, after the final norm (none with mean
        pooling).

        Args:
            mask: [B, N] bool, True = hidden (:func:`tube_mask`), each row hiding the same count: the encoder
                sees only the visible tokens and returns those [B, N_visible, D], in token order.

        Raises:
            ConfigError: a mask of another shape, or rows hiding different counts.
        """
        tokens, _ = self.embed(x)
        if mask is not None:
            _check_mask(mask, tokens.shape[0], tokens.shape[1])
            tokens = _keep(tokens, ~mask.to(tokens.device))
        checkpointed = self.grad_checkpointing and self.training and torch.is_grad_enabled()
        for blk in self.blocks:
            tokens = checkpoint(blk, tokens, use_reentrant=False) if checkpointed else blk(tokens)
        return self.norm(tokens)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Tokens [B, N, D] -> logits [B, num_classes] (``pre_logits``: the pooled [B, D]): ``fc_norm`` of the
        tokens' mean (``use_mean_pooling``), else the first token."""
        x = self.fc_norm(x.mean(dim=1)) if self.use_mean_pooling else x[:, 0]
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward_temporal(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> [B, T', D]: each time step's tokens averaged."""
        grid = self.token_grid(*x.shape[2:])
        return temporal_pool(self.forward_features(x), self.feature_layout, grid=grid)

    def forward(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> logits [B, num_classes] (no classifier: the pooled features [B, D])."""
        return self.forward_head(self.forward_features(x))


class VideoMAEDecoder(nn.Module):
    """VideoMAE's light decoder: tokens [B, L, D_dec] -> pixel predictions [B, L, out_dim] (pre-norm joint
    attention blocks, a final LayerNorm, a linear ``head``).

    Args:
        dim: width D_dec. depth: blocks. num_heads: heads. out_dim: the pixels of one tubelet, ``t p p C``.
        norm_eps: the blocks' LayerNorm epsilon. head_norm_eps: the final norm's (default ``norm_eps``).
        mlp_ratio, qkv_bias, act: as :class:`VideoMAE`'s.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        out_dim: int,
        *,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        head_norm_eps: float | None = None,
        act: str = "gelu",
    ) -> None:
        super().__init__()
        self.blocks = _blocks(
            dim, depth, num_heads, 0.0, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, norm_eps=norm_eps, act=act
        )
        self.norm = nn.LayerNorm(dim, eps=norm_eps if head_norm_eps is None else head_norm_eps)
        self.head = nn.Linear(dim, out_dim)

    def forward(self, x: Tensor, last: int | None = None) -> Tensor:
        """Tokens [B, L, D_dec] -> predictions [B, L, out_dim] (``last``: of the last ``last`` tokens only,
        [B, last, out_dim])."""
        for blk in self.blocks:
            x = blk(x)
        if last is not None:
            x = x[:, x.shape[1] - last :]
        return self.head(self.norm(x))


class VideoMAEPretrainer(nn.Module):
    """VideoMAE pre-training: an encoder that sees only the visible tubelets, a light decoder that predicts the
    hidden ones' pixels, and the loss (Hugging Face's ``VideoMAEForPreTraining``, whose weights load through the
    ``"hf"`` layout).

    What a task needs:

        mask = tube_mask(B, pretrainer.token_grid(T, H, W), 0.9, generator)   # [B, N] bool, True = hidden
        loss = pretrainer.loss(x, mask)                  # x [B, 3, T, H, W], normalised with mean/std
        video = pretrainer.reconstruct(x, mask)          # [B, 3, T, H, W] in [0, 1], hidden tubelets predicted

    ``state_dict`` prefixes: ``encoder.`` holds a :class:`VideoMAE` without classifier (its keys exactly, so it
    seeds fine-tuning: ``load_state_dict`` into the same builder with ``num_classes=0``), ``encoder_to_decoder.``,
    ``mask_token`` and ``decoder.`` the rest. The decoder's positions are a fixed table (a buffer, not saved).
    With mean pooling the encoder's ``fc_norm`` belongs to the classification head, takes no part here and is
    frozen at its initial values (so distributed training sees no unused trainable parameter).

    Args:
        encoder: a :class:`VideoMAE` (``num_classes=0``; ``use_mean_pooling=False`` ends it with a LayerNorm, as
            the paper's pre-training encoder).
        decoder_dim: D_dec (default D / 2: 384 for ViT-B, as the paper).
        decoder_depth: decoder blocks (the paper's 4).
        decoder_heads: decoder heads (default half the encoder's: 6 for ViT-B).
        decoder_norm_eps: the decoder's final LayerNorm epsilon (default the encoder's; Hugging Face's 1e-5).
        norm_pix_loss: the targets are each tubelet's pixels normalised per channel (mean 0, unbiased std 1,
            ``+ 1e-6``); otherwise the pixels in [0, 1].
        mean, std: the per-channel normalisation of the inputs, undone to get the pixels (``None``: inputs are
            pixels already).

    Raises:
        ConfigError: an encoder that is not a :class:`VideoMAE`, or has a classifier.
    """

    pos_embed: Tensor

    def __init__(
        self,
        encoder: VideoMAE,
        *,
        decoder_dim: int | None = None,
        decoder_depth: int = 4,
        decoder_heads: int | None = None,
        decoder_mlp_ratio: float = 4.0,
        decoder_norm_eps: float | None = None,
        norm_pix_loss: bool = True,
        mean: Sequence[float] | None = IMAGENET_MEAN,
        std: Sequence[float] | None = IMAGENET_STD,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, VideoMAE):
            raise ConfigError(f"VideoMAE pre-training needs a VideoMAE encoder, got {type(encoder).__name__}")
        if encoder.num_classes:
            raise ConfigError(
                f"VideoMAE pre-training takes an encoder without classifier (num_classes=0), got {encoder.num_classes}"
            )
        self.encoder = encoder
        encoder.fc_norm.requires_grad_(False)
        dim = encoder.num_features
        decoder_dim = decoder_dim or dim // 2
        self.tubelet = encoder.patch_embed.tubelet
        self.in_chans = encoder.patch_embed.in_chans
        self.encoder_to_decoder = nn.Linear(dim, decoder_dim, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.register_buffer(
            "pos_embed", sinusoid_table(math.prod(encoder.grid), decoder_dim), persistent=False
        )
        self.decoder = VideoMAEDecoder(
            decoder_dim,
            decoder_depth,
            decoder_heads or max(1, encoder.num_heads // 2),
            self.in_chans * math.prod(self.tubelet),
            **{**encoder.block_args, "mlp_ratio": decoder_mlp_ratio},
            head_norm_eps=decoder_norm_eps,
        )
        init_vit_weights(self.encoder_to_decoder)
        init_vit_weights(self.decoder)
        trunc_normal_(self.mask_token)
        self.norm_pix_loss = norm_pix_loss
        if (mean is None) != (std is None):
            raise ConfigError("VideoMAE pre-training: give both mean and std, or neither")
        self.register_buffer("mean", _channels(mean), persistent=False)
        self.register_buffer("std", _channels(std), persistent=False)
        self.mean: Tensor | None
        self.std: Tensor | None

    def no_weight_decay(self) -> set[str]:
        """The mask token is exempt from weight decay (the encoder's exemptions are its own)."""
        return {"mask_token"}

    def token_grid(self, frames: int, height: int, width: int) -> Grid:
        """The encoder's token grid (T', H', W') for clips of ``frames`` x ``height`` x ``width``."""
        return self.encoder.token_grid(frames, height, width)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] and a mask [B, N] bool (True = hidden, the same count M per row) -> the
        predicted pixels of the hidden tubelets [B, M, t p p C], in token order, each tubelet's values in
        (frame, row, column, channel) order (Hugging Face's)."""
        visible = self.encoder_to_decoder(self.encoder.forward_features(x, mask))
        grid = self.token_grid(*x.shape[2:])
        pos = resample_pos_embed(self.pos_embed, self.encoder.grid, grid).to(visible.dtype)
        pos = pos.expand(x.shape[0], -1, -1)
        mask = mask.to(x.device)
        hidden = _keep(pos, mask)
        tokens = torch.cat([visible + _keep(pos, ~mask), self.mask_token.to(visible.dtype) + hidden], dim=1)
        return self.decoder(tokens, last=hidden.shape[1])

    def patchify(self, x: Tensor) -> Tensor:
        """Clips [B, C, T, H, W] -> tubelets [B, N, t p p C] in token order, each in (frame, row, column,
        channel) order (frames or pixels past the last whole tubelet dropped)."""
        b, c = x.shape[:2]
        tt, th, tw = self.token_grid(*x.shape[2:])
        t, p, q = self.tubelet
        x = x[:, :, : tt * t, : th * p, : tw * q]
        x = x.reshape(b, c, tt, t, th, p, tw, q).permute(0, 2, 4, 6, 3, 5, 7, 1)
        return x.reshape(b, tt * th * tw, t * p * q * c)

    def unpatchify(self, patches: Tensor, grid: Sequence[int]) -> Tensor:
        """Tubelets [B, N, t p p C] (as :meth:`patchify` gives) on ``grid`` (T', H', W') -> clips
        [B, C, T' t, H' p, W' p]."""
        tt, th, tw = grid
        t, p, q = self.tubelet
        b = patches.shape[0]
        x = patches.reshape(b, tt, th, tw, t, p, q, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.reshape(b, -1, tt * t, th * p, tw * q)

    def pixels(self, x: Tensor) -> Tensor:
        """Normalised clips [B, C, T, H, W] -> their pixels (``x * std + mean``; ``x`` itself without them)."""
        if self.mean is None or self.std is None:
            return x
        return x * self.std.to(x.dtype) + self.mean.to(x.dtype)

    def targets(self, x: Tensor, mask: Tensor) -> Tensor:
        """Clips [B, C, T, H, W], mask [B, N] -> what :meth:`forward` predicts: the hidden tubelets' pixels
        [B, M, t p p C], normalised per tubelet and channel with ``norm_pix_loss``."""
        with torch.no_grad():
            patches = self.patchify(self.pixels(x))
            if self.norm_pix_loss:
                b, n, _ = patches.shape
                per_channel = patches.reshape(b, n, -1, self.in_chans)
                mu = per_channel.mean(dim=2, keepdim=True)
                sigma = per_channel.var(dim=2, unbiased=True, keepdim=True).sqrt()
                patches = ((per_channel - mu) / (sigma + 1e-6)).reshape(b, n, -1)
            return _keep(patches, mask.to(x.device))

    def loss(self, x: Tensor, mask: Tensor) -> Tensor:
        """The pre-training loss of clips [B, C, T, H, W] (normalised with ``mean``/``std``) under a mask [B, N]
        bool (True = hidden): the mean squared error of the hidden tubelets' predicted pixels (a scalar)."""
        return F.mse_loss(self(x, mask), self.targets(x, mask))

    @torch.no_grad()
    def reconstruct(self, x: Tensor, mask: Tensor) -> Tensor:
        """Clips [B, C, T, H, W], mask [B, N] -> their pixels [B, C, T' t, H' p, W' p] (the whole tubelets), in
        [0, 1], with the hidden tubelets replaced by the predictions (with ``norm_pix_loss``, brought back with
        each true tubelet's mean and std, as the paper's figures): what a report shows beside the clip and the
        mask."""
        grid = self.token_grid(*x.shape[2:])
        patches = self.patchify(self.pixels(x))
        predicted = self(x, mask).to(patches.dtype)
        mask = mask.to(x.device)
        if self.norm_pix_loss:
            b, m, _ = predicted.shape
            true = _keep(patches, mask).reshape(b, m, -1, self.in_chans)
            mu = true.mean(dim=2, keepdim=True)
            sigma = true.var(dim=2, unbiased=True, keepdim=True).sqrt()
            predicted = (predicted.reshape(b, m, -1, self.in_chans) * (sigma + 1e-6) + mu).reshape(b, m, -1)
        patches = patches.clone()
        patches[mask] = predicted.reshape(-1, patches.shape[2])
        return self.unpatchify(patches, grid).clamp(0, 1)


def _channels(values: Sequence[float] | None) -> Tensor | None:
    """Per-channel values -> [C, 1, 1, 1], to broadcast over [B, C, T, H, W] (``None`` stays ``None``)."""
    return None if values is None else torch.tensor(values, dtype=torch.float32)[:, None, None, None]


# --- Hugging Face's VideoMAEForVideoClassification and VideoMAEForPreTraining ------------------------------------

#: Hugging Face's layer keys (after ``...layer.<i>.``) -> a block's; q, k and v are fused separately.
_HF_BLOCK_KEYS = {
    "attention.output.dense.": "attn.proj.",
    "layernorm_before.": "norm1.",
    "layernorm_after.": "norm2.",
    "intermediate.dense.": "mlp.fc1.",
    "output.dense.": "mlp.fc2.",
}
_HF_LAYER = re.compile(r"^(videomae\.encoder\.layer|decoder\.decoder_layers)\.(\d+)\.(.+)$")
#: The q, k, v parameters of a layer: ``query.weight``, ... in memory; ``q_bias``, ``v_bias`` in saved files.
_HF_QKV = re.compile(r"^attention\.attention\.(?:(query|key|value)\.(weight|bias)|(q|v)_bias)$")
_HF_SAVED_BIAS = {"q": "query", "v": "value"}
_HF_TOP_KEYS = {
    "videomae.embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "videomae.embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "videomae.layernorm.weight": "norm.weight",
    "videomae.layernorm.bias": "norm.bias",
    "fc_norm.weight": "fc_norm.weight",
    "fc_norm.bias": "fc_norm.bias",
    "classifier.weight": "head.weight",
    "classifier.bias": "head.bias",
}


def convert_hf_state_dict(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Hugging Face VideoMAE keys -> vidact's: a ``VideoMAEForVideoClassification`` (or ``VideoMAEModel``,
    without the ``videomae.`` prefix) onto :class:`VideoMAE`, a ``VideoMAEForPreTraining`` onto
    :class:`VideoMAEPretrainer` (its encoder under ``encoder.``). Each layer's query, key and value Linears
    become one ``qkv`` (weight [3D, D]; bias q, zeros, v; the biases are ``query.bias``/``value.bias`` in
    memory and ``q_bias``/``v_bias`` in the files ``save_pretrained`` writes and MCG-NJU published). A pre-training checkpoint of a mean-pooling encoder
    (no final ``layernorm``) gets the encoder's unused ``fc_norm`` at a new LayerNorm's values (weight 1, bias
    0: what :class:`VideoMAEPretrainer` keeps it at), so it loads strictly. Keys it does not know pass through
    unchanged, so a strict load names them."""
    pretraining = any(
        k.startswith(("decoder.", "encoder_to_decoder.")) or k == "mask_token" for k in state_dict
    )
    encoder = "encoder." if pretraining else ""
    out: dict[str, Tensor] = {}
    fused: dict[str, dict[str, Tensor]] = {}
    for key, value in state_dict.items():
        if key.startswith(("embeddings.", "encoder.layer.", "layernorm.")):
            key = f"videomae.{key}"
        if key in _HF_TOP_KEYS:
            new = _HF_TOP_KEYS[key]
            out[new if key.startswith(("fc_norm.", "classifier.")) else encoder + new] = value
            continue
        match = _HF_LAYER.match(key)
        if match is None:
            out[key] = value  # encoder_to_decoder.weight, mask_token, decoder.norm.*, decoder.head.*
            continue
        stack, index, rest = match.groups()
        prefix = f"{encoder}blocks.{index}." if stack.startswith("videomae") else f"decoder.blocks.{index}."
        qkv = _HF_QKV.match(rest)
        if qkv is not None:
            name, kind, saved = qkv.groups()
            part = f"{_HF_SAVED_BIAS[saved]}.bias" if saved else f"{name}.{kind}"
            fused.setdefault(prefix, {})[part] = value
            continue
        for old, new in _HF_BLOCK_KEYS.items():
            if rest.startswith(old):
                rest = new + rest[len(old) :]
                break
        out[prefix + rest] = value
    for prefix, parts in fused.items():
        weights = [parts.get(f"{name}.weight") for name in ("query", "key", "value")]
        if any(w is None for w in weights):
            out.update({f"{prefix}attention.attention.{k}": v for k, v in parts.items()})  # left for the load
            continue
        out[f"{prefix}attn.qkv.weight"] = torch.cat(weights, dim=0)  # type: ignore[arg-type]
        if "query.bias" in parts or "value.bias" in parts:
            q = parts.get("query.bias", torch.zeros(weights[0].shape[0], dtype=weights[0].dtype))
            v = parts.get("value.bias", torch.zeros_like(q))
            out[f"{prefix}attn.qkv.bias"] = torch.cat([q, parts.get("key.bias", torch.zeros_like(q)), v])
    embed_bias = out.get("encoder.patch_embed.proj.bias")
    if pretraining and embed_bias is not None and "encoder.norm.weight" not in out:
        out["encoder.fc_norm.weight"] = torch.ones_like(embed_bias)
        out["encoder.fc_norm.bias"] = torch.zeros_like(embed_bias)
    return out


def _square(value: Any, what: str) -> int:
    sides = [value] * 2 if isinstance(value, int) else list(value)
    if len(sides) != 2 or sides[0] != sides[1]:
        raise ConfigError(f"VideoMAE config: {what} must be square, got {value!r}")
    return int(sides[0])


def _num_classes(config: Mapping[str, Any]) -> int:
    """The classes of a Hugging Face config: those ``id2label`` names (else ``num_labels``) when its
    architecture classifies, 0 for a backbone or a pre-training model."""
    classifies = any("Classification" in a for a in config.get("architectures") or ["Classification"])
    labels = config.get("id2label")
    return (len(labels) if labels else int(config.get("num_labels", 2))) if classifies else 0


def config_from_hf(config: Mapping[str, Any]) -> dict[str, Any]:
    """A Hugging Face ``VideoMAEConfig`` (``config.json`` as a dict) -> :class:`VideoMAE` arguments
    (``num_classes``: the ``id2label`` entries of a classification model, 0 for ``VideoMAEModel`` and
    ``VideoMAEForPreTraining``). ``fc_norm`` gets PyTorch's default epsilon (1e-5), as Hugging Face's classifier.

    Raises:
        ConfigError: a config of another model type, a non-square image or patch.
    """
    model_type = config.get("model_type", "videomae")
    if model_type != "videomae":
        raise ConfigError(f"config.json describes a {model_type!r} model, not a VideoMAE")
    dim = int(config.get("hidden_size", 768))
    return {
        "num_classes": _num_classes(config),
        "img_size": _square(config.get("image_size", 224), "image_size"),
        "patch_size": _square(config.get("patch_size", 16), "patch_size"),
        "num_frames": int(config.get("num_frames", 16)),
        "tubelet_size": int(config.get("tubelet_size", 2)),
        "in_chans": int(config.get("num_channels", 3)),
        "embed_dim": dim,
        "depth": int(config.get("num_hidden_layers", 12)),
        "num_heads": int(config.get("num_attention_heads", 12)),
        "mlp_ratio": int(config.get("intermediate_size", 4 * dim)) / dim,  # round(D * ratio) is the width
        "qkv_bias": bool(config.get("qv_bias", config.get("qkv_bias", True))),
        "norm_eps": float(config.get("layer_norm_eps", 1e-12)),
        "act": str(config.get("hidden_act", "gelu")),
        "use_mean_pooling": bool(config.get("use_mean_pooling", True)),
        "fc_norm_eps": 1e-5,
        "drop_rate": float(config.get("hidden_dropout_prob", 0.0)),
        "attn_drop_rate": float(config.get("attention_probs_dropout_prob", 0.0)),
    }


def pretrainer_config_from_hf(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Hugging Face ``VideoMAEConfig`` of a ``VideoMAEForPreTraining`` -> (:class:`VideoMAE` arguments with
    ``num_classes=0``, :class:`VideoMAEPretrainer` arguments): ``VideoMAEPretrainer(VideoMAE(**a), **b)``
    is Hugging Face's model (the decoder's final norm at 1e-5, ImageNet mean and std for 3 channels).

    Raises:
        ConfigError: as :func:`config_from_hf`.
    """
    encoder = {**config_from_hf(config), "num_classes": 0}
    decoder_dim = int(config.get("decoder_hidden_size", 384))
    three = encoder["in_chans"] == 3
    return encoder, {
        "decoder_dim": decoder_dim,
        "decoder_depth": int(config.get("decoder_num_hidden_layers", 4)),
        "decoder_heads": int(config.get("decoder_num_attention_heads", 6)),
        "decoder_mlp_ratio": int(config.get("decoder_intermediate_size", 4 * decoder_dim)) / decoder_dim,
        "decoder_norm_eps": 1e-5,
        "norm_pix_loss": bool(config.get("norm_pix_loss", True)),
        "mean": IMAGENET_MEAN if three else None,
        "std": IMAGENET_STD if three else None,
    }


# --- registered models -----------------------------------------------------------------------------------------

_PAPER = (
    'Tong, Song, Wang and Wang, "VideoMAE: Masked Autoencoders are Data-Efficient Learners for Self-Supervised '
    'Video Pre-Training", NeurIPS 2022'
)
_SIZES = {
    "s": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "b": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "l": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
    "h": {"embed_dim": 1280, "depth": 32, "num_heads": 16},
}
_INPUT = {"img_size": 224, "patch_size": 16, "num_frames": 16, "tubelet_size": 2}
#: The small variant of the synthetic-data experiments: D 192, 4 blocks, 3 heads, 8 frames at 112.
_TINY = {
    "img_size": 112,
    "patch_size": 16,
    "num_frames": 8,
    "tubelet_size": 2,
    "embed_dim": 192,
    "depth": 4,
    "num_heads": 3,
}
_PARAMS = {"s": 22_038_544, "b": 86_544_016, "l": 304_295_312, "h": 632_160_400, "tiny": 2_152_144}
_GMACS = {
    "videomae_s": 56.878,
    "videomae_b": 180.345,
    "videomae_l": 596.833,
    "videomae_h": 1190.994,
    "videomae_tiny": 0.464,
}
_NOTES = (
    "ViT-{size} encoder on 16 frames at 224x224 in 2x16x16 tubelets (8x14x14 = 1568 tokens), fixed sine-cosine "
    "positions, mean pooling with fc_norm. Kinetics-400 test protocol: 5 clips x 3 crops. Hugging Face's "
    "MCG-NJU VideoMAE checkpoints load through the 'hf' layout; pre-train with VideoMAEPretrainer."
)


#: MCG-NJU's ViT-B fine-tuned on Kinetics-400 as Hugging Face publishes it, pinned to the commit that added the
#: safetensors file (its sha256 and size as measured on a download of that commit, recorded twice by others).
_HF_B_K400 = (
    "https://huggingface.co/MCG-NJU/videomae-base-finetuned-kinetics/resolve/"
    "488eb9a0565f257b32866000305c8178965eb9f6/model.safetensors"
)
_WEIGHTS = {
    "videomae_b": (
        Weights(
            tag="kinetics400",
            files=(
                WeightsFile(
                    _HF_B_K400,
                    sha256="065cfde56f97671da4d196e1a3a6d3cf9304dcad92eb671e3632a6c6cdd04f73",
                    size=346_161_616,
                    filename="videomae-base-finetuned-kinetics.safetensors",
                ),
            ),
            dataset="Kinetics-400",
            num_classes=400,
            labels="kinetics400",
            # 16 frames every 4th; short side 224, three 224 crops along the long side; ImageNet statistics
            # (the checkpoint's preprocessor_config.json and the reference code's test loader).
            preset=Preset(
                frames=16,
                frame_stride=4,
                short_side=224,
                crop_size=224,
                mean=(0.485, 0.456, 0.406),
                std=(0.229, 0.224, 0.225),
                num_clips=5,
                num_crops=3,
            ),
            layout="hf",
            source="MCG-NJU (Hugging Face: MCG-NJU/videomae-base-finetuned-kinetics)",
            license="CC-BY-NC-4.0 (the model card's licence: non-commercial use)",
            top1=80.9,
            top5=94.7,
            test_protocol="Kinetics-400 validation, 5 clips x 3 crops of 16 frames every 4th at 224",
            notes=(
                "Pre-trained for 1600 epochs with 90 % tube masking, then fine-tuned; accuracy as the model card "
                "states it (the authors' MODEL_ZOO.md now lists 81.5 / 95.1 for this row). Labels: the config's "
                "id2label is the alphabetical Kinetics-400 list vidact ships. Hugging Face's config says "
                "layer_norm_eps 1e-12; the reference code (and vidact) use 1e-6, the checkpoint's training value."
            ),
        ),
        Weights(
            tag="ssv2",
            files=(
                WeightsFile(
                    # main: its safetensors conversion is an unmerged pull request; the file is pinned by its
                    # sha256 (the LFS object id Hugging Face's page shows).
                    "https://huggingface.co/MCG-NJU/videomae-base-finetuned-ssv2/resolve/main/pytorch_model.bin",
                    sha256="b960dafd7b3051e8be4ce7ca1bcbc051012eee2a0767f22dd6b7ca77507b82fb",
                    filename="videomae-base-finetuned-ssv2.bin",
                ),
            ),
            dataset="Something-Something v2",
            num_classes=174,
            labels="ssv2",
            # 16 segments (one frame each, TSN-style, as the reference code samples SSv2); short side 224.
            preset=Preset(
                frames=16,
                sampler="segments",
                short_side=224,
                crop_size=224,
                mean=(0.485, 0.456, 0.406),
                std=(0.229, 0.224, 0.225),
                num_clips=2,
                num_crops=3,
            ),
            layout="hf",
            source="MCG-NJU (Hugging Face: MCG-NJU/videomae-base-finetuned-ssv2)",
            license="CC-BY-NC-4.0 (the model card's licence: non-commercial use)",
            top1=70.8,
            top5=92.4,
            test_protocol="Something-Something v2 validation, 2 clips x 3 crops of 16 segments at 224",
            notes=(
                "Pre-trained for 2400 epochs on SSv2, then fine-tuned; accuracy from the authors' MODEL_ZOO.md "
                "(an earlier revision listed 70.6 / 92.6). A PyTorch file read with weights_only=True (no code "
                "runs). Its size is not recorded (pages round it: 346 MB): the sha256 is checked."
            ),
        ),
    ),
}


def _card(name: str, size: dict[str, int], params: int, notes: str) -> ModelCard:
    """The card of a VideoMAE size; GMACs of one clip at the card's input (attention counted under the math
    SDPA kernel; the paper's 57 / 180 / 597 / 1192 GFLOPs per view for S / B / L / H)."""
    frames, side = size["num_frames"], size["img_size"]
    return ModelCard(
        name=name,
        family="videomae",
        input_size=(3, frames, side, side),
        frames=frames,
        frame_stride=4 if side == 224 else 2,
        params=params,
        gmacs=_GMACS[name],
        default_num_classes=400,
        classifier="head",
        paper=_PAPER,
        notes=notes,
        weights=_WEIGHTS.get(name, ()),
    )


def _build(size: dict[str, int], num_classes: int, kwargs: dict[str, Any]) -> VideoMAE:
    return VideoMAE(num_classes=num_classes, **{**size, **kwargs})


@register_model(card=_card("videomae_s", {**_INPUT, **_SIZES["s"]}, _PARAMS["s"], _NOTES.format(size="S")))
def videomae_s(*, num_classes: int = 400, **kwargs: Any) -> VideoMAE:
    """VideoMAE ViT-S (D 384, 12 blocks, 6 heads), 16 x 224 x 224 clips. ``kwargs`` go to :class:`VideoMAE`."""
    return _build({**_INPUT, **_SIZES["s"]}, num_classes, kwargs)


@register_model(card=_card("videomae_b", {**_INPUT, **_SIZES["b"]}, _PARAMS["b"], _NOTES.format(size="B")))
def videomae_b(*, num_classes: int = 400, **kwargs: Any) -> VideoMAE:
    """VideoMAE ViT-B (D 768, 12 blocks, 12 heads), 16 x 224 x 224 clips. ``kwargs`` go to :class:`VideoMAE`."""
    return _build({**_INPUT, **_SIZES["b"]}, num_classes, kwargs)


@register_model(card=_card("videomae_l", {**_INPUT, **_SIZES["l"]}, _PARAMS["l"], _NOTES.format(size="L")))
def videomae_l(*, num_classes: int = 400, **kwargs: Any) -> VideoMAE:
    """VideoMAE ViT-L (D 1024, 24 blocks, 16 heads), 16 x 224 x 224 clips. ``kwargs`` go to :class:`VideoMAE`."""
    return _build({**_INPUT, **_SIZES["l"]}, num_classes, kwargs)


@register_model(card=_card("videomae_h", {**_INPUT, **_SIZES["h"]}, _PARAMS["h"], _NOTES.format(size="H")))
def videomae_h(*, num_classes: int = 400, **kwargs: Any) -> VideoMAE:
    """VideoMAE ViT-H (D 1280, 32 blocks, 16 heads), 16 x 224 x 224 clips. ``kwargs`` go to :class:`VideoMAE`."""
    return _build({**_INPUT, **_SIZES["h"]}, num_classes, kwargs)


@register_model(
    card=_card(
        "videomae_tiny",
        _TINY,
        _PARAMS["tiny"],
        "Small variant for CPU experiments on synthetic data: D 192, 4 blocks, 3 heads, 8 frames at 112x112 in "
        "2x16x16 tubelets (4x7x7 = 196 tokens).",
    )
)
def videomae_tiny(*, num_classes: int = 400, **kwargs: Any) -> VideoMAE:
    """A small VideoMAE (D 192, 4 blocks, 8 x 112 x 112 clips) for CPU experiments."""
    return _build(_TINY, num_classes, kwargs)


register_converter("videomae", "hf", convert_hf_state_dict)
register_config_reader("videomae", config_from_hf)
