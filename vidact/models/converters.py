"""The published state_dict layouts vidact reads, and the converter of each onto a model family's key names.

A converter is a plain function ``state_dict -> state_dict`` living in its family's file
(:func:`vidact.models.resnet3d.convert_torchvision_state_dict`, ...); this table says which one applies to
which (family, layout). Training (``model.pretrained_layout``), prediction (``--weights-layout``) and the
weights catalogue (:mod:`vidact.models.hub`) all look converters up here. Most layouts are PyTorch files; a
layout in :data:`READERS` is another format (a TensorFlow checkpoint, a Caffe2 pickle), read by its reader.

    >>> from vidact.models.converters import get_converter
    >>> get_converter("slowfast", "pyslowfast")            # doctest: +ELLIPSIS
    <function convert_pyslowfast_state_dict at ...>
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from . import caffe2, efficientgcn, i3d, per_frame, resnet3d, slowfast, stgcn, tf_checkpoint
from .weights import StateDict, extract_state_dict, read_checkpoint

__all__ = ["WEIGHT_LAYOUTS", "CONVERTERS", "READERS", "get_converter", "read_layout"]

#: The layouts a weights file may have; ``"vidact"`` is vidact's own key names (no conversion).
WEIGHT_LAYOUTS = (
    "torchvision",
    "pytorchvideo",
    "pyslowfast",
    "pyslowfast-caffe2",
    "kinetics-i3d-tf",
    "efficientnet_pytorch",
    "pyskl",
    "efficientgcn",
    "vidact",
)

#: (model family, weights layout) -> the converter of that layout's keys to the family's.
CONVERTERS: dict[tuple[str, str], Callable[[StateDict], StateDict]] = {
    ("resnet3d", "torchvision"): resnet3d.convert_torchvision_state_dict,
    ("resnet3d", "pytorchvideo"): resnet3d.convert_pytorchvideo_state_dict,
    ("slowfast", "pytorchvideo"): slowfast.convert_pytorchvideo_state_dict,
    ("slowfast", "pyslowfast"): slowfast.convert_pyslowfast_state_dict,
    ("slowfast", "pyslowfast-caffe2"): slowfast.convert_caffe2_state_dict,
    ("i3d", "kinetics-i3d-tf"): i3d.convert_kinetics_i3d_tf_variables,
    ("per_frame", "efficientnet_pytorch"): per_frame.convert_efficientnet_pytorch_to_per_frame,
    ("stgcn", "pyskl"): stgcn.convert_pyskl_state_dict,
    ("efficientgcn", "efficientgcn"): efficientgcn.convert_upstream_state_dict,
}

#: Layouts that are not PyTorch files: layout -> reader of the files (in the catalogue's order) to a dict of
#: name -> tensor or array, before conversion.
READERS: dict[str, Callable[[Sequence[str | os.PathLike]], Mapping[str, Any]]] = {
    "kinetics-i3d-tf": lambda paths: tf_checkpoint.read_tf_checkpoint(*paths[:2]),
    "pyslowfast-caffe2": lambda paths: caffe2.read_caffe2_blobs(paths[0]),
}


def read_layout(layout: str, paths: Sequence[str | os.PathLike]) -> Mapping[str, Any]:
    """The tensors of a checkpoint of ``layout`` made of ``paths`` (one file, or a TF checkpoint's .index and
    .data), unconverted: PyTorch files through :func:`~vidact.models.weights.read_checkpoint` (weights only).

    Raises:
        CheckpointError: unreadable or corrupt files.
    """
    if layout in READERS:
        return READERS[layout](paths)
    path = os.fspath(paths[0])
    return extract_state_dict(read_checkpoint(path), source=path)


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
