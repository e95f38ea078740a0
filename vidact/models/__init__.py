"""Models: one self-contained file per family, all built by name through one registry.

    >>> from vidact.models import build_model, list_models
    >>> model = build_model("r2plus1d_18", num_classes=101)   # [B, 3, T, H, W] -> [B, 101]

Importing the package imports every family (each registers its builders, cards and weights converters from its
own file) and the readers of the weights formats that are not PyTorch files. A new family is one file here and
one line below; a model outside vidact registers itself with :func:`register_model` (see :mod:`vidact._plugins`).
"""

# The families and the readers register themselves on import.
from . import (  # noqa: F401  (imported for their registrations)
    actionformer,
    c3d,
    caffe2,
    efficientgcn,
    i3d,
    per_frame,
    raft,
    resnet3d,
    simple3d,
    skeleton_frame,
    slowfast,
    stgcn,
    tad_baseline,
    tf_checkpoint,
    timesformer,
    two_stream,
    videomae,
    vivit,
)
from .contract import FeatureLayout, VideoModel
from .factory import build_model
from .registry import ModelCard, Weights, get_builder, list_models, model_card, register_model

__all__ = [
    "build_model",
    "list_models",
    "model_card",
    "register_model",
    "get_builder",
    "ModelCard",
    "Weights",
    "VideoModel",
    "FeatureLayout",
]
