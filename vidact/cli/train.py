"""``vidact train`` (a run from a recipe) and ``vidact recipes`` (the shipped recipes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ._output import print_whole


def train(
    recipe: Annotated[
        Path, typer.Argument(help="The recipe: a YAML file, or the name of a shipped one (vidact recipes).")
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="section.key=value overrides, the value parsed as YAML (data.root=PATH train.lr=0.1)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory. Default: runs/<recipe name>-<date>-<time>.")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out from its checkpoints/last.ckpt.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Progress bars (only when stderr is a terminal).")] = True,
) -> None:
    """Train a model from a recipe.

    The run directory gets checkpoints, metrics.csv, TensorBoard logs and reports. Under torchrun, each process
    trains on its shard of every epoch (DistributedDataParallel).
    """
    from ..engine.config import load_config
    from ..engine.train import train as train_run

    train_run(load_config(recipe, overrides or []), out, resume=resume, progress=progress, name=recipe.stem)


def recipes_cmd() -> None:
    """List the recipes shipped with vidact.

    By name (vidact train NAME), with the first line of each.
    """
    from ..engine.config import RECIPES_DIR, list_recipes

    t = Table(title=f"recipes in {RECIPES_DIR}", title_justify="left")
    t.add_column("name", style="bold", no_wrap=True)
    t.add_column("what it trains")
    for name, description in list_recipes().items():
        t.add_row(name, description)
    print_whole(t)
