"""The ``video`` modality: clips of a video's windows, decoded once (:class:`~vidact.infer.windows.WindowStream`).

**Sampling in a window.** ``sampling="stride"`` takes the model's own clip, ``clip_len`` frames every
``stride``-th frame (the frame rate the model was trained at), centred on the window; a clip longer than the
window reaches beyond it, clamped to the video. ``sampling="uniform"`` spreads ``clip_len`` frames over the window,
the centre frame of each of ``clip_len`` equal parts (TSN's test sampling), whatever the window's length. The
default is ``"uniform"`` for models trained on TSN segments and ``"stride"`` for the others.

**Per-frame scores.** A model whose features are per frame (``feature_layout == "BTC"``, the per-frame 2D CNNs)
also gives the probabilities of every frame it sees (``frame_scores=True``): its head applied to each frame's
feature alone, the consensus of one frame being that frame's logits — the "flicker" chart of
:func:`vidact.infer.plot.plot_timeline`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..data.presets import Preset
from ..data.sampling import window_clip
from ..errors import ConfigError
from ..io import VideoReader
from .base import (
    Modality,
    Prediction,
    Predictor,
    Unit,
    Windows,
    finish_prediction,
    register_modality,
    unit_bounds,
)
from .windows import WindowStream

__all__ = ["VideoModality", "SAMPLINGS"]

SAMPLINGS = ("stride", "uniform")
#: The contract's feature layout of per-frame models (:mod:`vidact.models.contract`): [B, T, D].
PER_FRAME_LAYOUT = "BTC"


@register_modality
class VideoModality(Modality):
    """Clips [B, 3, T, crop, crop] of a video's windows, made as the :class:`~vidact.data.presets.Preset` says."""

    name = "video"

    def default_sampling(self, spec: Preset) -> str:  # type: ignore[override]
        return "uniform" if spec.segments else "stride"

    @contextmanager
    def windows(
        self,
        predictor: Predictor,
        video: str | os.PathLike,
        *,
        window: float,
        stride: float,
        unit: Unit = "seconds",
        sampling: str | None = None,
        batch_size: int = 8,
        progress: bool = False,
        **options: Any,
    ) -> Iterator[Windows]:
        if options:
            given = ", ".join(f"--{name.replace('_', '-')}" for name in options)
            raise ConfigError(f"{given}: not an option of video models ({predictor.name} reads video clips)")
        preset: Preset = predictor.spec  # type: ignore[assignment]
        sampling = sampling or self.default_sampling(preset)
        if sampling not in SAMPLINGS:
            raise ConfigError(f"unknown sampling {sampling!r}; choose from {', '.join(map(repr, SAMPLINGS))}")
        with VideoReader(video, short_side=preset.decode_short_side) as reader:
            times = reader.timestamps()
            bounds = unit_bounds(times, window, stride, unit)
            clips = np.stack(
                [window_clip(times, start, end, preset, sampling) for start, end in bounds]  # type: ignore[arg-type]
            )  # [W, T]
            stream = WindowStream(reader, clips, preset, batch_size=batch_size)
            yield Windows(
                bounds=bounds,
                batches=stream,
                info={"times": times, "clips": clips},
                peak=lambda: stream.peak_frames,
            )

    def predict(
        self,
        predictor: Predictor,
        video: str | os.PathLike,
        *,
        window: float = 2.0,
        stride: float = 1.0,
        sampling: str | None = None,
        batch_size: int = 8,
        frame_scores: bool = False,
        progress: bool = False,
        **options: Any,
    ) -> Prediction:
        model = predictor.model
        if not (frame_scores and getattr(model, "feature_layout", None) == PER_FRAME_LAYOUT):
            return super().predict(
                predictor,
                video,
                window=window,
                stride=stride,
                sampling=sampling,
                batch_size=batch_size,
                **options,
            )
        # a per-frame model's frames too: its head on each frame's feature alone (one frame's consensus)
        frame_probs: dict[int, np.ndarray] = {}
        rows: list[np.ndarray] = []
        with self.windows(
            predictor,
            video,
            window=window,
            stride=stride,
            sampling=sampling,
            batch_size=batch_size,
            **options,
        ) as windows:
            clips = windows.info["clips"]
            for ids, x in windows:
                with torch.inference_mode():
                    features = model.forward_features(x.to(predictor.device))  # [B, T, D]
                    logits = model.forward_head(features)  # [B, K]
                    b, t, d = features.shape
                    frames = model.forward_head(features.reshape(b * t, 1, d)).reshape(b, t, -1)
                probs = frames.float().softmax(dim=-1).cpu().numpy()  # [B, T, K]
                for w, window_probs in zip(ids, probs, strict=True):
                    for i, p in zip(clips[w], window_probs, strict=True):
                        frame_probs.setdefault(int(i), p)
                rows.extend(logits.float().softmax(dim=-1).cpu().numpy())
        frame_indices = np.array(sorted(frame_probs), dtype=np.int64)
        return finish_prediction(
            predictor,
            video,
            windows,
            np.stack(rows).astype(np.float32),
            frame_times=windows.info["times"][frame_indices],
            frame_scores=np.stack([frame_probs[i] for i in frame_indices]),
        )
