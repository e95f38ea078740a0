"""What prediction and window features share across modalities: :class:`Predictor`, :class:`Prediction`, and the
per-modality :class:`Modality` that turns a video into its windows' model inputs.

A modality is one class registered with :func:`register_modality` under its input spec's ``modality``
(:mod:`vidact.data.inputs`): ``video`` (:mod:`.video`: clips decoded in one pass) and ``skeleton``
(:mod:`.skeleton`: pose first, then joints) today. :func:`~vidact.infer.predict.predict_video` and
:func:`~vidact.infer.predict.window_features` dispatch once, on ``predictor.spec.modality``:

    >>> with modality_of(predictor).windows(predictor, "video.mp4", window=2.0, stride=1.0) as windows:
    ...     for ids, x in windows.batches:        # [B] window indices, [B * views, ...] model inputs
    ...         logits = predictor.model(x)
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import torch
from torch import nn

from .._atomic import write_json
from .._registry import Registry
from ..data.inputs import InputSpec
from ..data.sampling import frame_window_bounds, window_bounds
from ..errors import ConfigError

__all__ = [
    "Predictor",
    "Prediction",
    "Windows",
    "Modality",
    "MODALITIES",
    "register_modality",
    "modality_of",
    "save_json",
    "Unit",
    "unit_bounds",
    "to_device",
]

Unit = Literal["seconds", "frames"]


def unit_bounds(times: np.ndarray, window: float, stride: float, unit: Unit) -> np.ndarray:
    """The windows over frames at ``times`` [N] (seconds), ``window`` long every ``stride``, in ``unit``:
    [W, 2] float64 ``(start, end)`` seconds (:func:`~vidact.data.sampling.window_bounds`, or
    :func:`~vidact.data.sampling.frame_window_bounds` for whole numbers of frames).

    Raises:
        ConfigError: an unknown unit, a non-positive window or stride.
    """
    if unit == "seconds":
        return window_bounds(times, window, stride)
    if unit == "frames":
        return frame_window_bounds(times, int(window), int(stride))
    raise ConfigError(f"unknown window unit {unit!r}; choose from 'seconds', 'frames'")


@dataclass
class Predictor:
    """A model ready to score inputs, with its class names and the input it expects.

    Attributes:
        model: inputs as ``spec`` makes them (clips [B, 3, T, H, W], joints [B, M, T, V, C], ...) -> logits
            [B, K], in eval mode on ``device`` (with the fast path applied where ``precision`` says so).
        name: the registered model name, or the published weights' name.
        source: the checkpoint or weights file it was loaded from (the first file of published weights).
        classes: K class names.
        spec: how its input is made (:class:`~vidact.data.inputs.InputSpec`).
        device: where it runs.
        precision: ``"bf16"`` (the fast path of :mod:`vidact.engine.fast`) or ``"32"`` (eager float32).
    """

    model: nn.Module
    name: str
    source: str
    classes: list[str]
    spec: InputSpec
    device: torch.device
    precision: str = "32"

    @property
    def preset(self) -> InputSpec:
        """``spec`` (its name before input specs covered every modality)."""
        return self.spec

    @property
    def modality(self) -> str:
        return self.spec.modality


@dataclass
class Prediction:
    """What :func:`~vidact.infer.predict.predict_video` saw in a video.

    Attributes:
        video: the video's path.
        model: the model's name.
        classes: K class names.
        windows: [W, 2] ``(start, end)`` of each window, in seconds.
        window_scores: [W, K] float32 class probabilities of each window (NaN for a window without an answer,
            see ``answered``).
        scores: [K] float32 the whole video's (NaN when no window has an answer).
        frame_times: [F] seconds of each frame a per-frame model scored (``frame_scores=True``), else ``None``.
        frame_scores: [F, K] float32 their class probabilities, else ``None``.
        peak_frames: the most decoded frames held at once.
        answered: [W] bool, the windows the model could answer (a skeleton model: a pose was found in them);
            ``None``: all of them.
        note: why the video, or some of its windows, has no answer (``None`` when all have one).
        scope: how ``scores`` were made: ``"whole video (mean over windows)"``, ``"whole sequence (the model on
            all of it)"``.
    """

    video: str
    model: str
    classes: list[str]
    windows: np.ndarray
    window_scores: np.ndarray
    scores: np.ndarray
    frame_times: np.ndarray | None
    frame_scores: np.ndarray | None
    peak_frames: int
    answered: np.ndarray | None = None
    note: str | None = None
    scope: str = "whole video (mean over windows)"

    @property
    def has_answer(self) -> bool:
        """Whether the whole video has scores (some window was answered)."""
        return bool(np.isfinite(self.scores).all()) and len(self.scores) > 0

    def top(self, k: int = 5, scores: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The ``k`` best ``(label, score)`` of ``scores`` [K] (default: the whole video's), best first; empty
        for scores without an answer (NaN)."""
        scores = self.scores if scores is None else scores
        if not np.isfinite(scores).all():
            return []
        order = np.argsort(-scores, kind="stable")[: max(1, min(k, len(self.classes)))]
        return [(self.classes[i], float(scores[i])) for i in order]

    def to_json(self, top: int = 5) -> dict[str, Any]:
        """``{"video", "model", "top": [{"label", "score"}], "timeline": [{"start", "end", "top": [...]}]}``,
        and ``"note"`` when some answer is missing (a window without one has ``"top": []``)."""

        def labelled(pairs: list[tuple[str, float]]) -> list[dict[str, Any]]:
            return [{"label": label, "score": score} for label, score in pairs]

        out: dict[str, Any] = {
            "video": self.video,
            "model": self.model,
            "top": labelled(self.top(top)),
            "timeline": [
                {"start": float(start), "end": float(end), "top": labelled(self.top(top, scores))}
                for (start, end), scores in zip(self.windows, self.window_scores, strict=True)
            ],
        }
        if self.note is not None:
            out["note"] = self.note
        return out


def save_json(prediction: Prediction, path: str | os.PathLike, top: int = 5) -> None:
    """Write :meth:`Prediction.to_json` to ``path`` atomically (temporary file, then rename)."""
    write_json(prediction.to_json(top), path)


@dataclass
class Windows:
    """A video's windows and their model inputs, from a :meth:`Modality.windows` context.

    Attributes:
        bounds: [W, 2] float64 ``(start, end)`` of each window, in seconds.
        batches: yields ``(ids, x)``: ``ids`` [B] int64 window indices (in order), ``x`` the model inputs of
            those windows, ``views`` consecutive rows per window ([B * views, ...]).
        views: model inputs per window (test views averaged per window).
        answered: [W] bool, the windows whose inputs carry an answer (``None``: all).
        note: why some windows have none.
        info: what the modality found on the way (the pose record, ...), for its prediction.
    """

    bounds: np.ndarray
    batches: Iterable[tuple[np.ndarray, torch.Tensor]]
    views: int = 1
    answered: np.ndarray | None = None
    note: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    peak: Callable[[], int] = lambda: 0

    def __iter__(self) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        return iter(self.batches)

    @property
    def peak_frames(self) -> int:
        """The most decoded frames held at once so far."""
        return self.peak()


class Modality(ABC):
    """How a modality's models look at a video: its windows' inputs (:meth:`windows`) and, where it differs from
    the mean of its windows' scores, its prediction (:meth:`predict`)."""

    #: The input spec modality it serves (:mod:`vidact.data.inputs`).
    name: ClassVar[str]

    def default_sampling(self, spec: InputSpec) -> str | None:
        """The sampling of a window's frames when none is asked for (``None``: the modality has no choice)."""
        return None

    @abstractmethod
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
    ) -> AbstractContextManager[Windows]:
        """A context giving the video's :class:`Windows` (its resources, an open decoder, closed on exit).

        Raises:
            VideoError: an unreadable video. ConfigError: options the modality does not take.
        """

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
        """Each window's softmax scores (views averaged) and their mean over the answered windows."""
        with self.windows(
            predictor,
            video,
            window=window,
            stride=stride,
            sampling=sampling,
            batch_size=batch_size,
            progress=progress,
            **options,
        ) as windows:
            window_scores = score_windows(predictor, windows)
        return finish_prediction(predictor, video, windows, window_scores)


def to_device(x: Any, device: torch.device | str) -> Any:
    """A model input on ``device``: a tensor, or each tensor of a dict (a two-stream pair's ``{"video", "flow"}``)
    or of a list (SlowFast's pathways)."""
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, dict):
        return {key: to_device(value, device) for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(value, device) for value in x)
    return x


def score_windows(predictor: Predictor, windows: Windows) -> np.ndarray:
    """Softmax class probabilities [W, K] float32 of every window, its views averaged."""
    rows: list[np.ndarray] = []
    for ids, x in windows:
        with torch.inference_mode():
            logits = predictor.model(to_device(x, predictor.device))  # [B * views, K]
        probs = logits.float().softmax(dim=-1).reshape(len(ids), windows.views, -1).mean(dim=1)
        rows.extend(probs.cpu().numpy())
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, len(predictor.classes)), np.float32)


def finish_prediction(
    predictor: Predictor,
    video: str | os.PathLike,
    windows: Windows,
    window_scores: np.ndarray,
    *,
    scores: np.ndarray | None = None,
    frame_times: np.ndarray | None = None,
    frame_scores: np.ndarray | None = None,
    cls: type[Prediction] = Prediction,
    **extra: Any,
) -> Prediction:
    """A :class:`Prediction` of ``window_scores`` [W, K]: unanswered windows' rows NaN, the video's scores the
    mean of the answered ones (or ``scores`` [K] when the modality scores the whole video otherwise)."""
    answered = windows.answered
    window_scores = window_scores.astype(np.float32, copy=True)
    if answered is not None:
        window_scores[~answered] = np.nan
        if scores is None:
            scores = (
                window_scores[answered].mean(axis=0)
                if answered.any()
                else np.full(window_scores.shape[1], np.nan, np.float32)
            )
    elif scores is None:
        scores = window_scores.mean(axis=0)
    return cls(
        video=os.fspath(video),
        model=predictor.name,
        classes=list(predictor.classes),
        windows=windows.bounds,
        window_scores=window_scores,
        scores=np.asarray(scores, dtype=np.float32),
        frame_times=frame_times,
        frame_scores=frame_scores,
        peak_frames=windows.peak_frames,
        answered=answered,
        note=windows.note,
        **extra,
    )


#: The modality of every input spec, by name.
MODALITIES: Registry[Modality] = Registry("prediction modality")
M = TypeVar("M", bound=type[Modality])


def register_modality(cls: M) -> M:
    """Class decorator: serve inputs of ``cls.name`` with an instance of ``cls``."""
    MODALITIES.register(cls.name, cls())
    return cls


def modality_of(predictor: Predictor) -> Modality:
    """The modality serving ``predictor``'s input spec.

    Raises:
        ConfigError: no registered modality serves it.
    """
    return MODALITIES.get(predictor.spec.modality)
