"""``vidact eval``: multi-view test of a trained model on a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ._output import PrecisionOption, console


def eval_cmd(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run directory (its best checkpoint), a checkpoint file, or published weights by name "
            "(r2plus1d_18.kinetics400)."
        ),
    ],
    data: Annotated[Path, typer.Argument(help="The dataset root.")],
    split: Annotated[
        str | None,
        typer.Option(
            help="Split (class folders: a subfolder of DATA, '' for DATA itself). Default: the recipe's."
        ),
    ] = None,
    kind: Annotated[
        str, typer.Option(help="Dataset layout: folder, ucf101, hmdb51, kinetics, ssv2 or list.")
    ] = "folder",
    annotations: Annotated[
        Path | None, typer.Option(help="Split file(s), CSV or list file of the layout.")
    ] = None,
    fold: Annotated[int, typer.Option(help="Official split number (UCF-101, HMDB-51).")] = 1,
    clips: Annotated[
        int | None, typer.Option(help="Temporal clips per video. Default: the recipe's.")
    ] = None,
    crops: Annotated[
        int | None, typer.Option(help="Spatial crops per clip, 1 or 3. Default: the recipe's.")
    ] = None,
    average: Annotated[
        str,
        typer.Option(help="softmax: mean of the views' probabilities; logits: softmax of their mean logits."),
    ] = "softmax",
    batch_size: Annotated[
        int | None, typer.Option(help="Videos per forward pass. Default: the recipe's.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes decoding videos (0: in the main process).")] = 0,
    device: Annotated[str, typer.Option(help="Where the model runs: cpu, cuda, cuda:1, mps.")] = "cpu",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the setting and the metrics as JSON here.")
    ] = None,
    per_video: Annotated[bool, typer.Option(help="Add every video's prediction to the JSON.")] = False,
    scores: Annotated[
        Path | None,
        typer.Option(
            help="Save every video's class probabilities (views averaged), labels, paths and the class names "
            "as .npz here, for vidact fuse."
        ),
    ] = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Test a trained model on a dataset, several views per video.

    Clips x crops per video, scores averaged: top-1/top-5 accuracy, mean class accuracy, confusion matrix and
    per-class accuracy. --scores keeps every video's scores for late fusion (vidact fuse RGB.npz FLOW.npz).
    """
    from ..engine.evaluate import evaluate, write_json

    result = evaluate(
        run,
        data,
        split=split,
        kind=kind,
        annotations=annotations,
        fold=fold,
        num_clips=clips,
        num_crops=crops,
        average=average,  # type: ignore[arg-type]
        batch_size=batch_size,
        workers=workers,
        device=device,
        precision=precision,
    )
    if json_out is not None:
        write_json(result.to_json(per_video=per_video), json_out)
    if scores is not None:
        if not hasattr(result, "save_scores"):
            raise ConfigError(f"--scores: {result.checkpoint} is not a classifier; --json keeps its outputs")
        result.save_scores(scores)
    t = Table(title=f"{result.checkpoint} on {result.data} ({result.split or 'all'})", show_header=False)
    t.add_column("metric", style="bold")
    t.add_column("value")
    for k, v in result.summary_rows():
        t.add_row(k, v)
    console.print(t)
