"""VideoMAE pre-training: no labels; a video transformer reconstructs the pixels of tubes hidden at a high ratio.

The recipe's ``task: videomae_pretraining`` with a VideoMAE registry model (``videomae_*``; ``model.kwargs`` go to
its builder, which gets ``num_classes=0``). ``task.kwargs``:

======================  ======================================================================================
``mask_ratio``          the share of the H' x W' token positions hidden in every clip, the same ones at every
                        time step (tube masking, :func:`~vidact.models.videomae.tube_mask`); default 0.9
``decoder_dim``         the decoder's width (default half the encoder's)
``decoder_depth``       its blocks (default 4)
``decoder_heads``       its heads (default half the encoder's)
``decoder_mlp_ratio``   its MLP width over ``decoder_dim`` (default 4)
``norm_pix_loss``       targets normalised per tubelet and channel (default true, the paper's)
======================  ======================================================================================

The network is :class:`~vidact.models.videomae.VideoMAEPretrainer`: the encoder sees only the visible tokens, the
light decoder predicts the hidden tubelets' pixels, and the loss is their mean squared error. The pixels are the
clips with the recipe's normalisation (``data.normalize``) undone. Training draws each clip's mask from a generator
seeded by the loop's ``rng`` (a resumed run draws the same); validation hides the same tubes of a sample in every
epoch and on any number of processes (a function of the seed and the sample's index) and reports ``mse``, the loss
on the validation clips (lower is better; with ``norm_pix_loss`` predicting each tubelet's mean colour scores
about 1). Labels are not read: any video layout the classification task reads serves.

Checkpoints hold ``encoder.`` (a :class:`~vidact.models.videomae.VideoMAE` without classifier), ``encoder_to_decoder.``,
``mask_token`` and ``decoder.``; they are not classifiers. A classification recipe with ``model.pretrained: RUN``
(a ``videomae_*`` model with the same sizes; another clip length or frame size resamples the fixed positional
table) loads the encoder, the decoder left out with a one-line notice. The run directory adds
``reconstructions.png``: the first validation clips (frames of each time step, the hidden tubes, the
reconstruction with the hidden tubelets predicted) at the best epoch.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..._atomic import write_bytes
from ...data.datasets import collate_clips
from ...errors import ConfigError
from ...models.videomae import VideoMAE, VideoMAEPretrainer, tube_mask
from ..config import Config
from .base import Batch, StepOutput, Task, TaskData, build_network, per_sample_generator, video_datasets
from .registry import register_task

__all__ = ["VideoMAEPretraining", "save_reconstructions"]

#: Validation samples (the first by index) drawn in ``reconstructions.png``.
SHOWN = 4
#: Time steps drawn per clip, at most.
_MAX_STEPS = 8


@register_task
class VideoMAEPretraining(Task):
    """Unlabelled clips [B, 3, T, H, W] -> the pixels of their hidden tubes, predicted by a VideoMAE encoder and
    decoder; the best epoch has the lowest validation ``mse``."""

    name = "videomae_pretraining"
    pretrains = True
    loss_names = ("reconstruction",)
    val_metrics = ("mse",)
    monitor = "mse"
    higher_is_better = False
    produces_classifier = False  # its checkpoints predict pixels: nothing to evaluate or predict
    backbone_prefix = (
        "encoder."  # what seeds fine-tuning (model.pretrained: RUN): the encoder, not the decoder
    )

    def __init__(
        self,
        config: Config,
        mask_ratio: float = 0.9,
        decoder_dim: int | None = None,
        decoder_depth: int = 4,
        decoder_heads: int | None = None,
        decoder_mlp_ratio: float = 4.0,
        norm_pix_loss: bool = True,
    ):
        super().__init__(config)
        if not 0.0 < mask_ratio < 1.0:
            raise ConfigError(f"task.kwargs.mask_ratio must be in (0, 1), got {mask_ratio!r}")
        self.mask_ratio = float(mask_ratio)
        self.decoder_args: dict[str, Any] = {
            "decoder_dim": decoder_dim,
            "decoder_depth": decoder_depth,
            "decoder_heads": decoder_heads,
            "decoder_mlp_ratio": decoder_mlp_ratio,
            "norm_pix_loss": norm_pix_loss,
        }
        self._latest: list[dict[str, Tensor]] = []  # the clips drawn at the last validation
        self._best: list[dict[str, Tensor]] | None = None  # at the best one seen by this process

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
        if not isinstance(encoder, VideoMAE):
            raise ConfigError(
                f"task videomae_pretraining: needs a VideoMAE model (videomae_*), got {model.name} "
                f"({type(encoder).__name__})"
            )
        tubelet = encoder.patch_embed.tubelet
        shape = (data.clip_len, data.crop_size, data.crop_size)
        if any(size % side for size, side in zip(shape, tubelet, strict=True)):
            raise ConfigError(
                f"task videomae_pretraining: {'x'.join(map(str, shape))} clips are not whole "
                f"{'x'.join(map(str, tubelet))} tubelets of {model.name}"
            )
        self.grid = encoder.token_grid(*shape)
        cells = self.grid[1] * self.grid[2]
        hidden = round(self.mask_ratio * cells)
        if not 0 < hidden < cells:
            raise ConfigError(
                f"task.kwargs.mask_ratio {self.mask_ratio} hides {hidden} of the {cells} positions of a "
                f"{self.grid[1]}x{self.grid[2]} grid: at least one must be hidden and one visible"
            )
        mean, std = self._normalisation(encoder.patch_embed.in_chans)
        return VideoMAEPretrainer(encoder, **self.decoder_args, mean=mean, std=std)

    def _normalisation(self, channels: int) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
        """The recipe's per-channel mean and std (``None`` for pixels left in [0, 1]), one value per channel."""
        spec = self.input_spec(self.config)
        if spec.mean == (0.0,) * len(spec.mean) and spec.std == (1.0,) * len(spec.std):
            return None, None
        mean, std = tuple(spec.mean), tuple(spec.std)
        if len(mean) == 1:
            mean, std = mean * channels, std * channels
        return mean, std

    def _masks(self, generators: list[torch.Generator]) -> Tensor:
        """[B, N] bool tube masks (True = hidden), clip ``b``'s drawn from ``generators[b]``."""
        return torch.cat([tube_mask(1, self.grid, self.mask_ratio, g) for g in generators])

    def training_step(self, model: nn.Module, batch: Batch, rng: np.random.Generator) -> StepOutput:
        clips = batch["video"]
        seeds = rng.integers(0, 2**63 - 1, size=len(clips))
        mask = self._masks([torch.Generator().manual_seed(int(s)) for s in seeds]).to(clips.device)
        loss = model.loss(clips, mask)
        return StepOutput({"reconstruction": loss.float()}, size=len(clips))

    def validation_step(self, model: nn.Module, batch: Batch) -> dict[str, Tensor | list[Any]]:
        clips = batch["video"]
        seed = self.config.train.seed
        indices = [int(m["index"]) for m in batch["meta"]]
        mask = self._masks([per_sample_generator(seed, i) for i in indices]).to(clips.device)
        predicted = model(clips, mask).float()
        error = (predicted - model.targets(clips, mask).float()).square().mean(dim=(1, 2))  # [B]
        return {"squared_error": error, "shown": self._drawn(model, clips, mask, indices)}

    def _drawn(
        self, model: VideoMAEPretrainer, clips: Tensor, mask: Tensor, indices: list[int]
    ) -> list[dict[str, Tensor] | None]:
        """Per sample: for the first :data:`SHOWN` by index, its pixels, mask [T', H', W'] and reconstruction
        (uint8 [3, T, H, W]); ``None`` for the others."""
        drawn: list[dict[str, Tensor] | None] = [None] * len(indices)
        rows = [b for b, index in enumerate(indices) if index < SHOWN]
        if not rows:
            return drawn
        x, m = clips[rows].float(), mask[rows]
        pixels = model.pixels(x).clamp(0, 1)
        rebuilt = model.reconstruct(x, m).float()
        for k, b in enumerate(rows):
            drawn[b] = {
                "index": torch.tensor(indices[b]),
                "pixels": _to_uint8(pixels[k]),
                "mask": m[k].reshape(self.grid).cpu(),
                "reconstruction": _to_uint8(rebuilt[k]),
            }
        return drawn

    def validation_metrics(self, outputs: dict[str, Tensor | list[Any]]) -> dict[str, Any]:
        error = outputs["squared_error"]
        assert isinstance(error, Tensor)
        self._latest = [item for item in outputs["shown"] if item is not None]
        return {"mse": float(error.double().mean()), "num_samples": len(error)}

    def is_better(self, metrics: dict[str, Any], best: dict[str, Any] | None) -> bool:
        better = super().is_better(metrics, best)
        if better:  # the loop makes these metrics the best epoch's: keep the clips drawn with them
            self._best = self._latest
        return better

    def write_reports(self, run_dir: Path, best: dict[str, Any]) -> None:
        """``reconstructions.png``: the best epoch's first validation clips (or, when the best epoch was before
        a resume, the last validation's)."""
        if self._best is not None:
            shown, title = self._best, f"Validation, epoch {best['epoch']}: mse {best['mse']:.4f}"
        else:
            shown, title = (
                self._latest,
                f"Validation, last epoch (best epoch {best['epoch']} before a resume)",
            )
        if shown:
            save_reconstructions(shown, run_dir / "reconstructions.png", title=title)


def _to_uint8(video: Tensor) -> Tensor:
    """Pixels [C, T, H, W] in [0, 1] -> uint8 on the CPU."""
    return (video.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def save_reconstructions(shown: list[dict[str, Tensor]], path: str | Path, *, title: str) -> None:
    """Draw clips, their tube masks and reconstructions as a PNG (matplotlib Agg, written atomically).

    Per clip three rows over its time steps (the first frame of each tubelet step, at most 8): the frames, the
    frames with the hidden tubelets greyed out, and the reconstruction (hidden tubelets predicted).

    Args:
        shown: per clip a dict of ``pixels`` and ``reconstruction`` (uint8 [3, T, H, W]), ``mask`` (bool
            [T', H', W'], True = hidden) and ``index`` (the sample's index).
        path: the PNG file to write.
        title: the figure's title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = min(int(shown[0]["mask"].shape[0]), _MAX_STEPS)
    fig = Figure(figsize=(1.2 * steps + 1.5, 3.6 * len(shown)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(title)
    axes = fig.subplots(3 * len(shown), steps, squeeze=False)
    for c, item in enumerate(shown):
        mask = item["mask"]
        t_cells, h_cells, w_cells = mask.shape
        pixels, rebuilt = item["pixels"], item["reconstruction"]
        t, h, w = pixels.shape[1:]
        hidden = (
            mask.repeat_interleave(t // t_cells, 0)
            .repeat_interleave(h // h_cells, 1)
            .repeat_interleave(w // w_cells, 2)
        )  # [T, H, W]
        masked = torch.where(hidden[None], torch.full_like(pixels, 128), pixels)
        for r, (video, label) in enumerate(
            ((pixels, "clip"), (masked, "visible"), (rebuilt, "reconstruction"))
        ):
            for s in range(steps):
                ax = axes[3 * c + r, s]
                ax.imshow(video[:, s * (t // t_cells)].permute(1, 2, 0).numpy(), interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if s == 0:
                    ax.set_ylabel(f"#{int(item['index'])} {label}", fontsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_bytes(path, buffer.getvalue())
