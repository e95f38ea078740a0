"""``vidact demo``: the main job, end to end, with its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ._output import console


def demo(
    out: Annotated[Path, typer.Option(help="Output folder (new, empty, or an earlier demo's).")] = Path(
        "demo_out"
    ),
    preset: Annotated[str, typer.Option(help="'default' (about 10 min on 2 cores) or 'quick'.")] = "default",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data and the training runs.")] = 0,
    progress: Annotated[bool, typer.Option(help="Progress bars.")] = True,
    real_data: Annotated[
        Path | None,
        typer.Option(
            help="Real clips for the real-video section (videos/, skeleton/pretrained/; default "
            "$VIDACT_REAL_DATA or ../shared/data)."
        ),
    ] = None,
    real: Annotated[
        bool, typer.Option(help="The real-video section (pose + pretrained skeleton models).")
    ] = True,
) -> None:
    """Run the main job: per-frame vs temporal models, real clips.

    Synthesizes temporal-pair and scene-biased videos, trains a per-frame and a temporal model on each and
    evaluates them; then runs real clips through pretrained skeleton models; writes results.json and report.html.
    """
    from ..demo import comparison_rows, run_demo

    results = run_demo(
        out,
        preset,
        seed=seed,
        real_data=(real_data if real_data is not None else True) if real else None,
        progress=progress,
        log=lambda m: console.print(m, highlight=False),
    )
    t = Table(title="test top-1: per-frame vs temporal")
    for col in ("dataset", "per-frame", "temporal", "gap"):
        t.add_column(col)
    for row in comparison_rows(results):
        t.add_row(*row)
    console.print(t)
    tp = results["temporal"]
    console.print(
        f"temporal pairs: the per-frame model finds the right pair {tp['per_frame']['pair_acc']:.0%} of the time but "
        f"the right direction only {tp['per_frame']['direction_acc_within_pair']:.0%} (pair chance 50%); "
        f"the temporal model gets the direction {tp['temporal']['direction_acc_within_pair']:.0%}."
    )
    clips = results.get("real_video", {}).get("clips", [])
    if clips:
        t = Table(title="real video: what the pretrained skeleton models say (not an accuracy)")
        for col in ("clip", "its label", "model", "top 3"):
            t.add_column(col)
        for row in clips:
            says = ", ".join(f"{x['label']} {x['score']:.2f}" for x in row["top"][:3])
            t.add_row(Path(row["video"]).name, row["truth"] or "-", row["model"], says)
        console.print(t)
    console.print(
        f"wrote {out / 'results.json'} and {out / 'report.html'} ({results['_about']['seconds']:.0f} s)",
        soft_wrap=True,
    )
