"""Failure accounting: which videos failed to decode while a dataset produced its items, counted once each.

Items loaded in DataLoader workers carry their failures in ``meta["skipped"]``; the training loop hands each
batch's metadata to :meth:`FailureLog.collect` (through :meth:`~.base.VideoClipDataset.collect`), and
:meth:`FailureLog.report` summarises an epoch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

__all__ = ["Failure", "FailureCount", "FailureLog"]


class Failure(NamedTuple):
    """A sample that failed to decode while the dataset was producing item ``requested`` in ``epoch``."""

    epoch: int
    requested: int
    index: int
    path: str
    reason: str


class FailureCount(NamedTuple):
    path: str
    reason: str
    count: int


class FailureLog:
    """Decoding failures keyed by ``(epoch, requested item, failed sample)``: a failure seen twice (recorded where
    it happened and collected again from the item's ``meta``) counts once."""

    def __init__(self) -> None:
        self._failures: dict[tuple[int, int, int], Failure] = {}

    def record(self, failure: Failure) -> None:
        self._failures.setdefault((failure.epoch, failure.requested, failure.index), failure)

    def collect(self, meta: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> None:
        """Record the failures carried by items: one item's ``meta`` or a batch's list of them."""
        metas = [meta] if isinstance(meta, Mapping) else meta
        for m in metas:
            for failure in m["skipped"]:
                self.record(Failure(*failure))

    def report(self, epoch: int) -> list[FailureCount]:
        """Videos that failed to decode in ``epoch``, most frequent first: ``(path, reason, count)``."""
        counts = Counter((f.path, f.reason) for f in self._failures.values() if f.epoch == epoch)
        return [FailureCount(p, r, n) for (p, r), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
