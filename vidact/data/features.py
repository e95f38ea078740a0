"""The input spec of feature sequences: :class:`FeaturesSpec` (modality ``"features"``), what a temporal action
detector reads and every detection run stores.

A detector reads a video as a sequence of feature vectors, one per *step* ([D, T]). The spec says how those
steps were made, so that a run can be used on new videos:

* ``extractor``: the ``params()`` of the vidact feature extractor that wrote them (``vidact extract features``:
  the model by name and checksum, its input spec, the window, stride, unit and sampling, ...).
  ``vidact detect`` rebuilds that extractor to go from a raw video to the detector's input. ``None`` for
  features made elsewhere (I3D or TSP features of a published benchmark), which a run can only read from files.
* ``feat_stride``, ``num_frames``, ``fps``: the time of each step of features made elsewhere, ActionFormer's
  convention: a step every ``feat_stride`` frames, each from a clip of ``num_frames`` frames, at ``fps``
  (``None``: each video's own frame rate, from the ground truth). ``None`` for vidact's own features, whose
  per-video ``timestamps.npy`` says when each step is.
* ``dim``: D, the feature width; ``max_seq_len``: the steps of one training sequence (longer videos are cropped
  to it in training; the model pads every input to a multiple of its largest stride).

    >>> spec = FeaturesSpec(dim=2048, feat_stride=4, num_frames=16, max_seq_len=2304)
    >>> input_from_dict(spec.to_dict()) == spec
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any, ClassVar

from ..errors import ConfigError
from .inputs import register_input, spec_fields

__all__ = ["FeaturesSpec"]


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@register_input
@dataclass(frozen=True)
class FeaturesSpec:
    """How a detector's feature sequences are made (see the module docstring). The input spec of the
    ``features`` modality (:mod:`vidact.data.inputs`).

    Attributes:
        dim: D, the width of a feature vector.
        max_seq_len: steps of a training sequence (a longer video is cropped to it in training).
        extractor: the vidact feature extractor's ``params()`` (JSON values), ``None`` for features made
            elsewhere.
        feat_stride: frames between consecutive steps of features made elsewhere (``None``: vidact's own,
            timed by their ``timestamps.npy``).
        num_frames: frames of the clip behind each step (with ``feat_stride``).
        fps: the frame rate those frames are counted at, ``None`` when it is each video's own.
    """

    dim: int
    max_seq_len: int = 2304
    extractor: dict[str, Any] | None = None
    feat_stride: int | None = None
    num_frames: int | None = None
    fps: float | None = None

    modality: ClassVar[str] = "features"

    def __post_init__(self) -> None:
        for name in ("dim", "max_seq_len"):
            if not _positive_int(getattr(self, name)):
                raise ConfigError(
                    f"features spec: {name} must be a positive integer, got {getattr(self, name)!r}"
                )
        for name in ("feat_stride", "num_frames"):
            value = getattr(self, name)
            if value is not None and not _positive_int(value):
                raise ConfigError(f"features spec: {name} must be a positive integer or None, got {value!r}")
        if (self.feat_stride is None) != (self.num_frames is None):
            raise ConfigError(
                "features spec: feat_stride and num_frames go together (features made elsewhere) or are both "
                f"None (vidact's, timed by their timestamps); got {self.feat_stride!r} and {self.num_frames!r}"
            )
        fps = self.fps
        if fps is not None and (
            isinstance(fps, bool) or not isinstance(fps, Real) or not math.isfinite(fps) or fps <= 0
        ):
            raise ConfigError(f"features spec: fps must be a positive number or None, got {fps!r}")
        if self.extractor is not None:
            if not isinstance(self.extractor, Mapping):
                raise ConfigError(
                    f"features spec: extractor must be the extractor's params (a mapping), got "
                    f"{type(self.extractor).__name__}"
                )
            try:
                json.dumps(dict(self.extractor))
            except (TypeError, ValueError) as e:
                raise ConfigError(
                    f"features spec: the extractor's params are not JSON values ({e})"
                ) from None

    @property
    def frame_based(self) -> bool:
        """Whether steps are timed by ``feat_stride`` and ``num_frames`` (features made elsewhere) rather than by
        each video's ``timestamps.npy``."""
        return self.feat_stride is not None

    def input_shape(self, batch: int = 1) -> tuple[int, int, int]:
        """A training batch's features [B, D, max_seq_len] (with a mask [B, max_seq_len] beside them)."""
        return (batch, self.dim, self.max_seq_len)

    # -- conversions -----------------------------------------------------------------------------------------
    def test_views(self) -> dict[str, int]:
        """The views of the test protocol: one, the whole sequence (``{"clips": 1}``)."""
        return {"clips": 1}

    def to_dict(self) -> dict[str, Any]:
        """The fields, and ``"modality": "features"``."""
        values = asdict(self)
        values["extractor"] = None if self.extractor is None else dict(self.extractor)
        return {"modality": self.modality, **values}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FeaturesSpec:
        """The inverse of :meth:`to_dict` (``"modality"`` may be present).

        Raises:
            ConfigError: an unknown key, another modality, or values that make no valid spec.
        """
        return cls(**spec_fields(cls, values, "features spec"))
