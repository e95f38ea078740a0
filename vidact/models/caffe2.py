"""Caffe2 weights as PySlowFast publishes them (``.pkl``): a pickle of ``{"blobs": {name: numpy array}}``.

Read with :func:`vidact.models.weights.safe_unpickle` (numpy arrays and containers only, never code); the blob
names are Caffe2's (``res2_0_branch2a_w``, ``t_conv1_w``, ``pred_w``), which each family's converter maps onto
its modules (:func:`vidact.models.slowfast.convert_caffe2_state_dict`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import numpy as np
import torch

from ..errors import CheckpointError
from .converters import register_reader
from .weights import safe_unpickle

__all__ = ["read_caffe2_blobs"]

#: Training state saved with the weights (momentum buffers, learning rate, iteration count): not weights.
_TRAINING_STATE = re.compile(r"momentum|(^|_)lr$|model_iter")


def read_caffe2_blobs(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The weight blobs of a Caffe2 ``.pkl`` as tensors, training state left out.

    Raises:
        CheckpointError: not a safe pickle, or no ``blobs`` of arrays in it.
    """
    obj = safe_unpickle(path)
    blobs = obj.get("blobs") if isinstance(obj, Mapping) else None
    if not isinstance(blobs, Mapping) or not blobs:
        raise CheckpointError(f"{os.fspath(path)}: not a Caffe2 weights file (no 'blobs' dictionary)")
    out = {}
    for name, value in blobs.items():
        if _TRAINING_STATE.search(str(name)):
            continue
        if not isinstance(value, np.ndarray):
            raise CheckpointError(
                f"{os.fspath(path)}: blob {name!r} is a {type(value).__name__}, not an array"
            )
        out[str(name)] = torch.from_numpy(np.array(value))
    return out


# the layout this reader reads (see vidact.models.converters): PySlowFast's Caffe2 .pkl
register_reader("pyslowfast-caffe2", lambda paths: read_caffe2_blobs(paths[0]))
