"""How a skeleton model's input is made: :class:`SkeletonPreset`, the skeleton twin of
:class:`vidact.data.presets.Preset`. Every skeleton weights entry carries one, so the same joints reach the
model at prediction time as at training time (which layout, how many frames and how they are picked, how many
person slots, in which coordinates)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

from ...errors import ConfigError
from ..inputs import register_input, spec_fields
from .layouts import get_layout

__all__ = ["SkeletonPreset", "SAMPLERS", "COORDS", "CENTERS", "Center"]

#: ``uniform``: PYSKL's UniformSample — ``frames`` equal segments, one frame from each (a random one in
#: training, a fixed one in testing). ``pad``: the first ``frames`` frames of the sequence zero-padded to
#: ``pad_to`` (EfficientGCN: pad to 300, keep 288).
SAMPLERS = ("uniform", "pad")

#: ``image01``: x / width and y / height, in [0, 1] (MediaPipe's normalised image landmarks); ``pixels``:
#: image coordinates in pixels; ``world``: metres in a camera's 3D space (Kinect v2's for NTU RGB+D: x to
#: the right, y up, z away from the camera).
COORDS = ("image01", "pixels", "world")

Center = Literal["none", "first_frame", "every_frame"]
#: ``none``: coordinates as they are; ``first_frame``: minus the centre joint of the first person in the
#: first frame where it is present (PYSKL's 3D pre-normalisation, without its rotation); ``every_frame``:
#: every person's joints minus that person's centre joint in the same frame (position-invariant).
CENTERS: tuple[str, ...] = ("none", "first_frame", "every_frame")


@register_input
@dataclass(frozen=True)
class SkeletonPreset:
    """How a skeleton model's joints are made. The input spec of the ``skeleton`` modality
    (:mod:`vidact.data.inputs`).

    Attributes:
        layout: the skeleton layout (:func:`~vidact.data.skeleton.layouts.get_layout` name).
        frames: T, the frames the model sees per sample.
        sampler: one of :data:`SAMPLERS`.
        persons: M, person (or hand) slots; missing ones are zeros.
        coords: one of :data:`COORDS`.
        channels: C, coordinates per joint (2: x, y; 3: x, y, z).
        pad_to: ``pad`` sampler: the length sequences are zero-padded to before the first ``frames`` are kept.
        num_clips: test views averaged per sample (``uniform`` sampler).
        center: centring of the coordinates, one of :data:`CENTERS` (after the conversion to ``coords``).
        center_joint: the joint centred on, a name of the layout (``None``: the layout's centre).
    """

    layout: str
    frames: int
    sampler: str = "uniform"
    persons: int = 1
    coords: str = "image01"
    channels: int = 2
    pad_to: int | None = None
    num_clips: int = 1
    center: Center = "none"
    center_joint: str | None = None

    modality: ClassVar[str] = "skeleton"

    def __post_init__(self) -> None:
        layout = get_layout(self.layout)
        if self.center not in CENTERS:
            raise ConfigError(
                f"skeleton preset: center must be one of {', '.join(CENTERS)}, got {self.center!r}"
            )
        if self.center_joint is not None:
            try:
                layout.index(self.center_joint)
            except KeyError as e:
                raise ConfigError(f"skeleton preset: center_joint: {e.args[0]}") from None
        if self.sampler not in SAMPLERS:
            raise ConfigError(
                f"skeleton preset: sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}"
            )
        if self.coords not in COORDS:
            raise ConfigError(
                f"skeleton preset: coords must be one of {', '.join(COORDS)}, got {self.coords!r}"
            )
        if self.frames < 1 or self.persons < 1 or self.channels not in (2, 3) or self.num_clips < 1:
            raise ConfigError(
                f"skeleton preset: frames, persons and num_clips >= 1 and channels 2 or 3, got frames={self.frames}, "
                f"persons={self.persons}, channels={self.channels}, num_clips={self.num_clips}"
            )
        if self.pad_to is not None and self.pad_to < self.frames:
            raise ConfigError(f"skeleton preset: pad_to={self.pad_to} < frames={self.frames}")

    @property
    def center_index(self) -> int:
        """The index of the joint centred on (the layout's centre unless ``center_joint`` names one)."""
        layout = get_layout(self.layout)
        return layout.center if self.center_joint is None else layout.index(self.center_joint)

    @property
    def num_joints(self) -> int:
        """V of the layout."""
        return get_layout(self.layout).num_joints

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int, int]:
        """The model input's shape [N, M, T, V, C]."""
        return (batch, self.persons, self.frames, self.num_joints, self.channels)

    @property
    def test_inputs(self) -> int:
        """K, the inputs a sample gives in testing (:func:`~vidact.data.skeleton.transforms.skeleton_input`):
        ``num_clips`` views with the ``uniform`` sampler, one with ``pad`` (its first frames)."""
        return self.num_clips if self.sampler == "uniform" else 1

    def test_views(self) -> dict[str, int]:
        """The views of the test protocol: ``{"clips": num_clips}`` (a skeleton has no crops)."""
        return {"clips": self.num_clips}

    def to_dict(self) -> dict[str, Any]:
        """The fields, and ``"modality": "skeleton"``."""
        return {"modality": self.modality, **asdict(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SkeletonPreset:
        """The inverse of :meth:`to_dict` (``"modality"`` may be present).

        Raises:
            ConfigError: an unknown key, another modality, or values that make no valid preset.
        """
        values = spec_fields(cls, values, "skeleton preset")
        return cls(**values)
