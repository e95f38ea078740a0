"""The batches of one training process: a shard of each epoch's shuffle, a pure function of (seed, epoch).

Resuming mid-epoch rests on it: a resumed epoch skips the batches already consumed instead of replaying a
sampler's state (:mod:`vidact.engine.loop`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["ShardedBatchSampler"]


class ShardedBatchSampler(Sampler[list[int]]):
    """One process's batches of one epoch: a deterministic function of (seed, epoch, rank, world size).

    With ``shuffle`` the epoch's order is ``torch.randperm`` seeded with ``seed + epoch``; the first
    ``world_size * (N // world_size)`` samples of it are dealt round-robin (process ``rank`` takes positions
    ``rank, rank + world_size, ...``), so every process gets as many samples, hence as many batches. Without
    shuffle (validation) sample ``j`` goes to process ``j % world_size`` and no sample is dropped.

    :meth:`set_epoch` selects the epoch and how many of its batches to skip (resuming mid-epoch); iterating
    yields the remaining batches, lists of sample indices. ``len()`` counts the remaining batches;
    :attr:`batches_per_epoch` all of them.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
    ):
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Iterate epoch ``epoch`` from its batch ``start`` on."""
        self.epoch = epoch
        self.start = start

    def shard(self) -> list[int]:
        """This process's sample indices of the current epoch, in order."""
        if self.shuffle:
            order = torch.randperm(
                self.num_samples, generator=torch.Generator().manual_seed(self.seed + self.epoch)
            )
            order = order[: self.num_samples - self.num_samples % self.world_size].tolist()
        else:
            order = list(range(self.num_samples))
        return order[self.rank :: self.world_size]

    @property
    def batches_per_epoch(self) -> int:
        if self.shuffle:
            shard_size = self.num_samples // self.world_size
        else:
            shard_size = len(range(self.rank, self.num_samples, self.world_size))
        return shard_size // self.batch_size if self.drop_last else math.ceil(shard_size / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        shard = self.shard()
        for b in range(self.start, self.batches_per_epoch):
            yield shard[b * self.batch_size : (b + 1) * self.batch_size]

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start
