"""``vidact fuse``: late fusion of several models' score files, scored against labels, with a weight sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ._output import console, print_whole


def _numbers(option: str, text: str) -> list[float]:
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise ConfigError(f"{option}: not comma-separated numbers: {text!r}") from None


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def fuse(
    scores: Annotated[
        list[Path],
        typer.Argument(
            help="Score files of the same samples: mmaction2/PYSKL test pickles, .npy [N, K], .npz "
            "(vidact eval --scores)."
        ),
    ],
    gt: Annotated[
        Path | None,
        typer.Option(
            help="Labels: a list file (its last column: '<id> <label>', '<id> <frames> <label>'), one integer "
            "a line, or .npy. Default: the labels the score files carry."
        ),
    ] = None,
    coefficients: Annotated[
        str | None,
        typer.Option(help="Comma-separated weights, one per file (default 1 each), e.g. 1,1 or 2,2,1,1."),
    ] = None,
    weights: Annotated[str | None, typer.Option(hidden=True, help="The old name of --coefficients.")] = None,
    normalize: Annotated[
        str | None,
        typer.Option(
            help="softmax (logits) or none (probabilities); default: none where all are probabilities."
        ),
    ] = None,
    sweep: Annotated[
        bool, typer.Option(help="Two files A, B: accuracy of w * A + (1 - w) * B for w from 0 to 1.")
    ] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Draw accuracy against w (the sweep) as a PNG here.")
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Write the accuracies (fractions) and the sweep as JSON here."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the fused scores here (.npy).")] = None,
) -> None:
    """Late fusion of several models' scores of the same samples.

    Skeleton streams, RGB + flow: the top-1 and top-5 of each file and of their weighted sum, where there are
    labels (--gt, or labels the files carry); with --sweep (two files) the accuracy of w * A + (1 - w) * B for
    w from 0 (B alone) to 1 (A alone) in steps of 0.05, and the best w.
    """
    import numpy as np

    from .._atomic import atomic_write, write_json
    from ..infer.fusion import fuse_files, plot_sweep

    if coefficients is not None and weights is not None:
        raise ConfigError("give --coefficients or --weights (its old name), not both")
    text, option = (weights, "--weights") if weights is not None else (coefficients, "--coefficients")
    factors = None if text is None else _numbers(option, text)
    if factors is not None and len(factors) != len(scores):
        raise ConfigError(f"{option}: {len(factors)} values for {len(scores)} score files")
    result = fuse_files(scores, factors, normalize=normalize, gt=gt, sweep=sweep or plot is not None)  # type: ignore[arg-type]
    # the files first: a closed pipe (vidact fuse ... | head) must not lose them
    if json_out is not None:
        write_json(result.to_json(), json_out)
    if plot is not None:
        plot_sweep(result, plot)
    if out is not None:
        with atomic_write(out, "wb") as f:
            np.save(f, result.fused)

    n, k = result.fused.shape
    given = ", ".join(f"{w:g}" for w in result.weights)
    labels = f"labels from {result.labels_from}" if result.labels_from else "no labels"
    console.print(
        f"late fusion of {n:,} samples, {k} classes: normalize {result.normalize}, coefficients {given}; {labels}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    t = Table()
    t.add_column("stream")
    t.add_column("file")
    t.add_column("top-1", justify="right")
    t.add_column("top-5", justify="right")
    accuracies = result.stream_accuracy or [None] * len(result.names)
    for name, path, acc in zip(result.names, result.paths, accuracies, strict=True):
        t.add_row(name, str(path), _fraction(acc and acc.top1), _fraction(acc and acc.top5))
    fused = result.fused_accuracy
    t.add_row("fused", "", _fraction(fused and fused.top1), _fraction(fused and fused.top5), style="bold")
    print_whole(t)

    if result.sweep:
        a, b = result.names
        best = result.best
        console.print(f"weight sweep: w * {a} + (1 - w) * {b}", markup=False, highlight=False, soft_wrap=True)
        s = Table()
        s.add_column("w", justify="right")
        s.add_column("top-1", justify="right")
        s.add_column("top-5", justify="right")
        s.add_column("")
        for point in result.sweep:
            mark = "best" if point is best else {1.0: f"{a} alone", 0.0: f"{b} alone"}.get(point.w, "")
            s.add_row(f"{point.w:.2f}", _fraction(point.top1), _fraction(point.top5), mark)
        print_whole(s)
