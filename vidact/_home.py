"""vidact's home folder: where it keeps what it downloads and caches (published weights, dataset frame indices).

``$VIDACT_HOME`` when set, else ``~/.cache/vidact``. Nothing is created here; writers make the folders they need.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["vidact_home", "cache_dir"]


def vidact_home() -> Path:
    """``$VIDACT_HOME`` (``~`` expanded), default ``~/.cache/vidact``."""
    home = os.environ.get("VIDACT_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "vidact"


def cache_dir(*parts: str) -> Path:
    """A folder under ``$VIDACT_HOME/cache`` (``cache_dir("index")`` is ``$VIDACT_HOME/cache/index``)."""
    return vidact_home().joinpath("cache", *parts)
