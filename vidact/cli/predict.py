"""``vidact predict``: the top labels of one video and a timeline of sliding windows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ._output import PrecisionOption, console


def predict(
    video: Annotated[Path, typer.Argument(help="A video file, GIF or folder of frames.")],
    model: Annotated[
        str,
        typer.Option(
            help="A run directory or checkpoint; published weights by name (r2plus1d_18.kinetics400, see "
            "`vidact weights list`); or a registered model name with --weights."
        ),
    ],
    weights: Annotated[
        Path | None, typer.Option(help="A weights file of the --model name (class count read from it).")
    ] = None,
    weights_layout: Annotated[
        str | None,
        typer.Option(
            help="Key layout of --weights (default: found by trying vidact's and the published ones)."
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(help="Class names of the weights, one a line (default: theirs, or class_0 ...)."),
    ] = None,
    window: Annotated[float, typer.Option(help="Timeline window length, seconds.")] = 2.0,
    stride: Annotated[float, typer.Option(help="Seconds between window starts.")] = 1.0,
    sampling: Annotated[
        str | None,
        typer.Option(
            help="A window's clip: stride (the model's frame rate) or uniform (spread over the window)."
        ),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Labels to show per window and for the whole video.")] = 5,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the labels and the timeline as JSON here.")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Chart the top classes' scores over time (PNG).")] = None,
    device: Annotated[str, typer.Option(help="Where the model runs: cpu, cuda, cuda:1, mps.")] = "cpu",
    pose: Annotated[
        Path | None,
        typer.Option(
            help="Skeleton models: the video's pose extracted beforehand (`vidact extract pose`, .pkl or .npz) "
            "instead of extracting it now."
        ),
    ] = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Say what happens in a video: its top labels and a timeline.

    The video's scores are the windows' mean. For skeleton models (efficientgcn_b0.ntu60, stgcnpp_hand.hagrid)
    the pose is extracted first, and the whole sequence is scored as one; windows without a person (a hand)
    have no answer.
    """
    from ..infer.predict import load_predictor, predict_video, save_json

    predictor = load_predictor(
        model,
        weights=weights,
        weights_layout=weights_layout,
        labels=labels,
        device=device,
        precision=precision,
    )
    options = {} if pose is None else {"pose": pose}  # an option of the skeleton modality
    prediction = predict_video(
        predictor,
        video,
        window=window,
        stride=stride,
        sampling=sampling,  # type: ignore[arg-type]
        frame_scores=plot is not None,
        progress=console.is_terminal,
        **options,
    )
    if json_out is not None:
        save_json(prediction, json_out, top=top)
    if plot is not None:
        from ..infer.plot import plot_timeline

        plot_timeline(prediction, plot, top=top)
    t = Table(title=f"{video}: timeline ({predictor.name})", title_justify="left")
    t.add_column("start-end (s)", no_wrap=True)
    t.add_column("top labels")
    for (start, end), scores in zip(prediction.windows, prediction.window_scores, strict=True):
        labels_ = ", ".join(f"{k} {s:.2f}" for k, s in prediction.top(top, scores)) or "no answer"
        t.add_row(f"{start:.2f}-{end:.2f}", labels_)
    console.print(t)
    if prediction.has_answer:
        t = Table(title=prediction.scope, title_justify="left")
        t.add_column("label")
        t.add_column("score", justify="right")
        for label, score in prediction.top(top):
            t.add_row(label, f"{score:.3f}")
        console.print(t)
    if prediction.note is not None:
        console.print(prediction.note, markup=False, highlight=False, soft_wrap=True)
