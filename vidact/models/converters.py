"""The published state_dict layouts vidact reads, and the converter of each onto a model family's key names.

A converter is a plain function ``state_dict -> state_dict`` living in its family's file
(:func:`vidact.models.resnet3d.convert_torchvision_state_dict`, ...); this table says which one applies to
which (family, layout). Training (``model.pretrained_layout``) and prediction (``--weights-layout``) both
look converters up here.

    >>> from vidact.models.converters import get_converter
    >>> get_converter("slowfast", "pyslowfast")            # doctest: +ELLIPSIS
    <function convert_pyslowfast_state_dict at ...>
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from . import resnet3d, slowfast
from .weights import StateDict

__all__ = ["WEIGHT_LAYOUTS", "CONVERTERS", "get_converter"]

#: The layouts a weights file may have; ``"vidact"`` is vidact's own key names (no conversion).
WEIGHT_LAYOUTS = ("torchvision", "pytorchvideo", "pyslowfast", "vidact")

#: (model family, weights layout) -> the converter of that layout's keys to the family's.
CONVERTERS: dict[tuple[str, str], Callable[[StateDict], StateDict]] = {
    ("resnet3d", "torchvision"): resnet3d.convert_torchvision_state_dict,
    ("resnet3d", "pytorchvideo"): resnet3d.convert_pytorchvideo_state_dict,
    ("slowfast", "pytorchvideo"): slowfast.convert_pytorchvideo_state_dict,
    ("slowfast", "pyslowfast"): slowfast.convert_pyslowfast_state_dict,
}


def get_converter(family: str, layout: str, *, model: str | None = None) -> Callable[[StateDict], StateDict] | None:
    """The converter of ``layout`` weights to ``family``'s keys; ``None`` for vidact's own layout.

    Raises:
        ConfigError: an unknown layout, or one this family has no converter for (the message lists those it has).
    """
    if layout not in WEIGHT_LAYOUTS:
        raise ConfigError(f"unknown weights layout {layout!r}; choose from {', '.join(WEIGHT_LAYOUTS)}")
    if layout == "vidact":
        return None
    converter = CONVERTERS.get((family, layout))
    if converter is None:
        known = [lay for fam, lay in CONVERTERS if fam == family] + ["vidact"]
        what = f"{family} models" + (f" ({model})" if model else "")
        raise ConfigError(f"no converter for {layout} weights of {what}; choose from {', '.join(known)}")
    return converter
