"""``vidact train`` (a run from a recipe), ``vidact pretrain`` (the same, for pre-training tasks only) and
``vidact recipes`` (the shipped recipes)."""

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
    _run(recipe, overrides or [], out, resume=resume, progress=progress, pretraining=False)


def pretrain(
    recipe: Annotated[
        Path, typer.Argument(help="The recipe: a YAML file, or the name of a shipped one (vidact recipes).")
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="section.key=value overrides, the value parsed as YAML (task.kwargs.mask_ratio=0.9)."
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
    """Pre-train a network from a recipe of a pre-training task.

    The same run as vidact train; the run then seeds fine-tuning: model.pretrained=RUN in a classification
    recipe loads its encoder. A recipe of another task is refused.
    """
    _run(recipe, overrides or [], out, resume=resume, progress=progress, pretraining=True)


def _run(
    recipe: Path, overrides: list[str], out: Path | None, *, resume: bool, progress: bool, pretraining: bool
) -> None:
    """Load the recipe and train it; with ``pretraining``, refuse a task that does not pre-train first."""
    from ..engine.config import load_config
    from ..engine.tasks import get_task, list_tasks
    from ..engine.train import train as train_run
    from ..errors import ConfigError

    config = load_config(recipe, overrides)
    if pretraining and not get_task(config.task.name).pretrains:
        which = ", ".join(name for name in list_tasks() if get_task(name).pretrains) or "none"
        raise ConfigError(
            f"{recipe}: task {config.task.name} does not pre-train (pre-training tasks: {which}); "
            "run it with vidact train"
        )
    train_run(config, out, resume=resume, progress=progress, name=recipe.stem)


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
