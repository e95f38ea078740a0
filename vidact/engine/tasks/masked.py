"""Masked reconstruction: no labels; a 3D CNN fills in hidden tubelets of each clip from the rest of it.

The recipe's ``task: masked_reconstruction`` (``task.kwargs``: ``mask_ratio``, default 0.75; ``masking``, default
``cell``). A toy of VideoMAE's pre-training for the convolutional models: the clip is cut into tubelets, one per
cell of the encoder's T' x H' x W' feature map (a 3D CNN that downsamples [T, H, W] by (4, 8, 8) gives 4x8x8
tubelets); of every clip, ``masking: cell`` hides ``round(mask_ratio x T'H'W')`` cells drawn anywhere, ``masking:
tube`` (VideoMAE's tube masking) ``round(mask_ratio x H'W')`` positions of the H' x W' grid at every time step, the
same ones, so that no hidden tubelet can be copied from the same place a step earlier or later. Hidden cells are
set to 0 (the normalised mean); the encoder (the recipe's registry model, its classifier
removed) maps the masked clip to features, a 1x1x1 decoder maps each cell's features to the pixels of its
tubelet, and the loss is the mean squared error over the hidden pixels (of the normalised clip). Zeroing the
hidden input instead of dropping tokens is what masked image modelling does for CNNs (SparK, ConvNeXt V2 without
their sparse convolutions).

Validation hides the same cells of a sample in every epoch and on any number of processes (a function of the seed
and the sample's index) and reports ``mse``, ``baseline_mse`` (filling each hidden pixel with its clip's mean
visible colour) and ``explained`` = 1 - mse / baseline_mse: above 0 the network has learned more than the clip's
average colour. The best epoch has the lowest validation ``mse``. Checkpoints hold the whole network (``encoder.``
and ``decoder.``); they are not classifiers, so ``vidact eval`` and ``predict`` refuse them. They seed fine-tuning:
a classification recipe with ``model.pretrained: RUN`` (the same registry model) loads the encoder, the decoder
left out with a one-line notice.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ...data.datasets import collate_clips
from ...errors import ConfigError
from ...models.contract import feature_map
from ..config import Config
from .base import Batch, StepOutput, Task, TaskData, build_network, per_sample_generator, video_datasets
from .registry import register_task

__all__ = ["MaskedReconstruction", "MaskedVideoModel", "expand_mask"]


def expand_mask(mask: Tensor, tubelet: tuple[int, int, int]) -> Tensor:
    """Cells [B, T', H', W'] (bool) -> pixels [B, 1, T'*t, H'*h, W'*w] (bool), each cell over its tubelet."""
    t, h, w = tubelet
    return mask[:, None].repeat_interleave(t, 2).repeat_interleave(h, 3).repeat_interleave(w, 4)


class MaskedVideoModel(nn.Module):
    """A registry model's features, decoded back to the pixels of every tubelet.

    ``forward(clips [B, 3, T, H, W], mask [B, T', H', W'] bool)`` -> reconstruction [B, 3, T, H, W]: the clip
    with the masked tubelets set to 0 goes through the encoder's feature map
    (:func:`~vidact.models.contract.feature_map`: [B, C, T', H', W']; SlowFast's pathways fused onto the Slow
    time axis) and a two-layer 1x1x1 convolutional decoder ([B, 3 * t * h * w, T', H', W']), whose channels are
    each cell's tubelet of pixels.

    What the encoder offers the loop stays reachable through ``encoder``: its ``layer_id`` (layer-wise
    learning-rate decay, the decoder counted as head) and ``set_grad_checkpointing``
    (:mod:`vidact.engine.optim`).
    """

    def __init__(self, encoder: nn.Module, num_features: int, tubelet: tuple[int, int, int]):
        super().__init__()
        self.encoder = encoder
        self.tubelet = tubelet
        pixels = 3 * math.prod(tubelet)
        self.decoder = nn.Sequential(
            nn.Conv3d(num_features, num_features, 1), nn.GELU(), nn.Conv3d(num_features, pixels, 1)
        )

    def forward(self, clips: Tensor, mask: Tensor) -> Tensor:
        visible = clips * ~expand_mask(mask, self.tubelet)
        cells = self.decoder(feature_map(self.encoder, visible))  # SlowFast: its pathways fused
        b, _, tc, hc, wc = cells.shape
        t, h, w = self.tubelet
        pixels = cells.reshape(b, 3, t, h, w, tc, hc, wc).permute(0, 1, 5, 2, 6, 3, 7, 4)
        return pixels.reshape(b, 3, tc * t, hc * h, wc * w)


@register_task
class MaskedReconstruction(Task):
    """Unlabelled clips [B, 3, T, H, W] -> their masked tubelets reconstructed; needs a model whose
    features are [B, C, T', H', W'] maps (``feature_layout`` ``BCTHW``, the 3D CNNs, or ``pathways``, SlowFast)
    that divide the clip evenly."""

    name = "masked_reconstruction"
    pretrains = True
    loss_names = ("reconstruction",)
    val_metrics = ("mse", "baseline_mse", "explained")
    monitor = "mse"
    higher_is_better = False
    produces_classifier = False  # its checkpoints reconstruct pixels: nothing to evaluate or predict
    backbone_prefix = (
        "encoder."  # what seeds fine-tuning (model.pretrained: RUN): the encoder, not the decoder
    )

    def __init__(self, config: Config, mask_ratio: float = 0.75, masking: Literal["cell", "tube"] = "cell"):
        super().__init__(config)
        if not 0.0 < mask_ratio < 1.0:
            raise ConfigError(f"task.kwargs.mask_ratio must be in (0, 1), got {mask_ratio!r}")
        if masking not in ("cell", "tube"):
            raise ConfigError(f"task.kwargs.masking must be 'cell' or 'tube', got {masking!r}")
        self.mask_ratio = float(mask_ratio)
        self.masking = masking

    def build_data(self, *, seed: int, validate: bool, progress: bool) -> TaskData:
        train_set, val_set = video_datasets(
            self.config.data, seed, validate, progress, model=self.config.model
        )
        self.data = TaskData(train_set, val_set, collate=collate_clips)
        return self.data

    @property
    def outputs(self) -> list[str]:
        return []  # not a classifier: no named outputs

    def build_model(self) -> nn.Module:
        data, model = self.config.data, self.config.model
        encoder = build_network(model, 0)
        shape = (data.clip_len, data.crop_size, data.crop_size)
        with torch.no_grad():
            encoder.eval()  # a probe of the output shape must not move batch-norm statistics
            features = feature_map(encoder, torch.zeros(1, 3, *shape))
            encoder.train()
        if features.dim() != 5 or any(
            size % cells for size, cells in zip(shape, features.shape[2:], strict=True)
        ):
            raise ConfigError(
                f"task masked_reconstruction: {model.name} maps a {'x'.join(map(str, shape))} clip to features "
                f"{tuple(features.shape[1:])}, not [C, T', H', W'] cells that divide it evenly"
            )
        self.tubelet = tuple(size // cells for size, cells in zip(shape, features.shape[2:], strict=True))
        self.cells = tuple(features.shape[2:])
        # the cells drawn at random: all of them, or (tubes) those of one time step, repeated along time
        self.drawn = math.prod(self.cells) if self.masking == "cell" else math.prod(self.cells[1:])
        self.num_masked = round(self.mask_ratio * self.drawn)
        if not 0 < self.num_masked < self.drawn:
            where = "cells" if self.masking == "cell" else "positions of a time step"
            raise ConfigError(
                f"task.kwargs.mask_ratio {self.mask_ratio} hides {self.num_masked} of {self.drawn} {where}: "
                "at least one must be hidden and one visible"
            )
        return MaskedVideoModel(encoder, features.shape[1], self.tubelet)

    def _mask(self, orders: list[Tensor], device: torch.device) -> Tensor:
        """[B, T', H', W'] bool: of each clip, the cells first in its order (a permutation of the ``drawn``
        cells: [T'H'W'], or [H'W'] repeated over the T' steps for tubes) are hidden."""
        mask = torch.zeros(len(orders), self.drawn, dtype=torch.bool)
        for row, order in zip(mask, orders, strict=True):
            row[order[: self.num_masked]] = True
        if self.masking == "tube":
            return mask.reshape(len(orders), 1, *self.cells[1:]).expand(-1, *self.cells).to(device)
        return mask.reshape(len(orders), *self.cells).to(device)

    def training_step(self, model: nn.Module, batch: Batch, rng: np.random.Generator) -> StepOutput:
        clips = batch["video"]
        orders = [torch.from_numpy(rng.permutation(self.drawn)) for _ in range(len(clips))]
        mask = self._mask(orders, clips.device)
        reconstruction = model(clips, mask).float()
        hidden = expand_mask(mask, self.tubelet)
        error = (reconstruction - clips).square() * hidden
        loss = error.sum() / (hidden.sum() * clips.shape[1])
        return StepOutput({"reconstruction": loss}, size=len(clips))

    def validation_step(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        clips = batch["video"]
        seed = self.config.train.seed
        orders = [
            torch.randperm(self.drawn, generator=per_sample_generator(seed, m["index"]))
            for m in batch["meta"]
        ]
        mask = self._mask(orders, clips.device)
        reconstruction = model(clips, mask).float()
        hidden = expand_mask(mask, self.tubelet).float()  # [B, 1, T, H, W]
        visible = 1.0 - hidden
        mean_visible = (clips * visible).sum((2, 3, 4), keepdim=True) / visible.sum((2, 3, 4), keepdim=True)
        return {
            "squared_error": ((reconstruction - clips).square() * hidden).sum((1, 2, 3, 4)),
            "baseline_squared_error": ((mean_visible - clips).square() * hidden).sum((1, 2, 3, 4)),
            "values": hidden.sum((1, 2, 3, 4)) * clips.shape[1],
        }

    def validation_metrics(self, outputs: dict[str, Tensor]) -> dict[str, Any]:
        values = float(outputs["values"].double().sum())
        mse = float(outputs["squared_error"].double().sum()) / values
        baseline = float(outputs["baseline_squared_error"].double().sum()) / values
        return {
            "mse": mse,
            "baseline_mse": baseline,
            "explained": 1.0 - mse / baseline,
            "num_samples": len(outputs["values"]),
        }
