"""Training, the public entry: :func:`train` runs a recipe's task in the generic loop.

    >>> from vidact.engine.config import load_config
    >>> from vidact.engine.train import train
    >>> result = train(load_config("configs/synthetic_simple3d.yaml"), "runs/simple3d")

The loop is :mod:`vidact.engine.loop` (Fabric, batch order, random state, exact resume, checkpoints, logging);
the tasks are :mod:`vidact.engine.tasks` (classification, masked reconstruction); the batch order is
:mod:`vidact.engine.sampler`. From the shell: ``vidact train RECIPE ...``, or under torchrun
``torchrun --nproc_per_node=N -m vidact train RECIPE ...``.
"""

from __future__ import annotations

from .loop import RunResult, history_columns, state_checksum, train
from .sampler import ShardedBatchSampler
from .tasks.classification import Classification

__all__ = [
    "HISTORY_COLUMNS",
    "RunResult",
    "ShardedBatchSampler",
    "history_columns",
    "state_checksum",
    "train",
]

#: Columns of a classification run's ``metrics.csv`` (and keys of ``RunResult.history`` rows).
HISTORY_COLUMNS = history_columns(Classification)
