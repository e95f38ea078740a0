"""``vidact fuse``: late fusion of several models' score files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ._output import console


def fuse(
    scores: Annotated[
        list[Path],
        typer.Argument(
            help="Score files of the same samples: mmaction2/PYSKL test pickles, .npy [N, K], .npz."
        ),
    ],
    weights: Annotated[
        str | None, typer.Option(help="Comma-separated weights, one per file (default 1 each), e.g. 2,2,1,1.")
    ] = None,
    normalize: Annotated[
        str | None,
        typer.Option(
            help="softmax (logits) or none (probabilities); default: none where all are probabilities."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the fused scores here (.npy).")] = None,
) -> None:
    """Fuse several models' scores of the same samples (late fusion).

    Skeleton streams, RGB + flow: the top-1 of each file and of their weighted sum, where the files carry labels.
    """
    import numpy as np

    from .._atomic import atomic_write
    from ..infer.fusion import fuse_files

    factors = None
    if weights is not None:
        try:
            factors = [float(w) for w in weights.split(",")]
        except ValueError:
            raise ConfigError(f"--weights: not comma-separated numbers: {weights!r}") from None
    result = fuse_files(scores, factors, normalize=normalize)  # type: ignore[arg-type]
    t = Table(title=f"late fusion ({result.normalize}, weights {factors or 'all 1'})", title_justify="left")
    t.add_column("scores")
    t.add_column("top-1", justify="right")
    for path, top1 in zip(scores, result.top1, strict=True):
        t.add_row(str(path), "-" if top1 is None else f"{top1:.4f}")
    t.add_row("fused", "-" if result.fused_top1 is None else f"{result.fused_top1:.4f}")
    console.print(t)
    if out is not None:
        with atomic_write(out, "wb") as f:
            np.save(f, result.fused)
