"""Extraction kinds for the tests, in a module of their own: worker processes and Ray actors import an extractor's
class by its module's name, so it cannot live in a test module (tests that need them put this folder on the
workers' ``PYTHONPATH``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class FileFacts:
    """A cheap extractor: a video file's size in bytes ([1] int64) and the id of the process that read it
    ([1] int64). It kills its own process (as a crash in a decoder or the out-of-memory killer would) on the
    video whose file name without extension is ``crash_on``."""

    crash_on: str = ""
    name: ClassVar[str] = "file_facts"

    def params(self) -> dict[str, Any]:
        return {"crash_on": self.crash_on}

    def __call__(self, video: str) -> dict[str, np.ndarray]:
        if Path(video).stem == self.crash_on:
            os._exit(3)
        return {
            "size": np.array([Path(video).stat().st_size], dtype=np.int64),
            "pid": np.array([os.getpid()], dtype=np.int64),
        }


@dataclass(frozen=True)
class BigOne:
    """Values 0, 1, ... as float64: one per video, and 8192 (64 KiB) for the video whose file name without
    extension is ``big``."""

    big: str = ""
    name: ClassVar[str] = "big_one"

    def params(self) -> dict[str, Any]:
        return {"big": self.big}

    def __call__(self, video: str) -> dict[str, np.ndarray]:
        return {"values": np.arange(8192.0 if Path(video).stem == self.big else 1.0)}
