"""What several explorer pages share: where the real data is, images as PNG, a one-line "no data" error, and the
heavy imports done one thread at a time.

Not a page (it registers none). Imports of numpy, PIL, torch and the models happen inside functions, so that
importing the pages package (at ``vidact explore``'s start) stays fast.

**Why imports are serialised.** Endpoints run in a thread pool, and the first requests of a page arrive together
(a page asks for its cost table, its grid and its mask at once). Two threads importing overlapping parts of
vidact for the first time can meet in Python's import machinery and fail with ``_DeadlockError`` (the package
imports reach each other's modules). :func:`heavy` makes a router dependency that imports a page's modules
under one process-wide lock before its endpoints run; afterwards the imports inside the endpoints are dictionary
lookups.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ....errors import DatasetError
from .._imports import import_heavy

__all__ = ["real_data", "data_file", "png_bytes", "PNG", "heavy", "import_heavy"]


def heavy(*modules: str) -> Callable[[], None]:
    """A FastAPI dependency (``APIRouter(dependencies=[Depends(heavy(...))])``) that imports ``modules`` under the
    process-wide import lock before an endpoint runs."""

    def dependency() -> None:
        import_heavy(*modules)

    return dependency


#: The media type of the image endpoints.
PNG = "image/png"


def real_data() -> Path:
    """The shared real-data folder: ``$VIDACT_REAL_DATA``, else ``../shared/data`` beside the working folder
    (as ``vidact demo`` finds it, :func:`vidact.demo.run.default_real_data`).

    Raises:
        DatasetError: there is none (one line naming the variable to set).
    """
    candidate = Path(os.environ.get("VIDACT_REAL_DATA", Path.cwd().parent / "shared" / "data"))
    if not candidate.is_dir():
        raise DatasetError(
            f"no real data folder at {candidate}: set VIDACT_REAL_DATA to the shared data folder (its README "
            "lists the clips, scores and skeletons this page reads)"
        )
    return candidate


def data_file(*parts: str) -> Path:
    """A file of the real-data folder (:func:`real_data`), by its relative parts.

    Raises:
        DatasetError: the folder or the file is missing.
    """
    path = real_data().joinpath(*parts)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file in the real data folder")
    return path


def png_bytes(image: Any) -> bytes:
    """An image as PNG bytes.

    Args:
        image: uint8 [H, W, 3] RGB or [H, W] grey (a numpy array or anything ``np.asarray`` takes).
    """
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.asarray(image, dtype=np.uint8))).save(buffer, format="PNG")
    return buffer.getvalue()
