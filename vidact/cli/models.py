"""``vidact models`` (the registered models) and ``vidact weights list|fetch|add`` (the published weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ._output import command_help, console, print_whole


def models_cmd(
    pattern: Annotated[
        str | None, typer.Argument(help="Shell glob on the model name, e.g. '*slowfast*'.")
    ] = None,
) -> None:
    """List the registered models with their model cards.

    A card gives the input, parameters, GMACs and the loadable weights.
    """
    from ..models import list_models, model_card

    t = Table(title="vidact models (GMACs = multiply-adds per view; torch's flop_counter reports 2x)")
    for col in ("name", "family", "input (C,T,H,W)", "params", "GMACs"):
        t.add_column(col, no_wrap=True)
    t.add_column("weights")
    for name in list_models(pattern):
        try:
            c = model_card(name)
        except KeyError:
            t.add_row(name, "-", "-", "-", "-", "-")
            continue
        t.add_row(
            name,
            c.family,
            "x".join(map(str, c.input_size)),
            f"{c.params / 1e6:.2f}M" if c.params else "-",
            f"{c.gmacs:.2f}" if c.gmacs else "-",
            ", ".join(f"{c.name}.{w.tag}" for w in c.weights) or "-",
        )
    print_whole(t)


def _size(published) -> str:  # noqa: ANN001
    """Bytes when the catalogue knows them, else about 4 bytes a parameter (float32 weights)."""
    entry, params = published.entry, published.card.params
    if entry.bundled is not None:
        return "in package"
    sizes = [f.size for f in entry.files]
    if sizes and all(s is not None for s in sizes):
        return f"{sum(sizes) / 2**20:.0f} MiB"
    return f"~{params * 4 / 2**20:.0f} MiB" if params else "-"


def weights_list(
    pattern: Annotated[
        str | None, typer.Argument(help="Shell glob on the model name, e.g. 'slowfast*'.")
    ] = None,
) -> None:
    """List every published checkpoint vidact can load.

    With its dataset, accuracy, size, source, licence and whether it is in the cache.
    """
    from ..models import hub

    t = Table(title=f"published weights (cache: {hub.vidact_home() / 'weights'})")
    for col in ("name", "dataset", "top-1", "top-5", "size", "source", "licence", "cached"):
        t.add_column(col, no_wrap=col not in ("licence",))
    for w in hub.list_weights(pattern):
        e = w.entry
        t.add_row(
            w.name,
            e.dataset,
            "-" if e.top1 is None else f"{e.top1:g}",
            "-" if e.top5 is None else f"{e.top5:g}",
            _size(w),
            e.source,
            e.license.split(" (")[0],
            "yes" if hub.is_cached(w) else "no",
        )
    print_whole(t)


def weights_fetch(
    names: Annotated[
        list[str], typer.Argument(metavar="NAME...", help="Weights names, e.g. r2plus1d_18.kinetics400.")
    ],
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr.")] = True,
) -> None:
    """Download weights into the cache.

    Downloads are checked and resumable; weights already cached are left as they are.
    """
    from ..models import hub

    for name in names:
        paths = hub.fetch(name, progress=progress)
        console.print(f"{name}: {', '.join(map(str, paths))}", soft_wrap=True, highlight=False)


def weights_add(
    name: Annotated[str, typer.Argument(help="The weights name, e.g. r2plus1d_18.kinetics400.")],
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="The file(s), in the catalogue's order.")
    ],
) -> None:
    """Register weights downloaded by hand.

    The files are checked (hash, layout) and copied into the cache.
    """
    from ..models import hub

    paths = hub.add(name, list(files))
    console.print(f"{name}: added {', '.join(map(str, paths))}", soft_wrap=True, highlight=False)


def weights_app() -> typer.Typer:
    """The ``vidact weights`` command group."""
    group = typer.Typer(
        help="List, download or register published weights.\n\n"
        "Weights by name (r2plus1d_18.kinetics400): the catalogue, downloads into the cache (checked, "
        "resumable), and files downloaded by hand, checked and copied into the cache.",
        no_args_is_help=True,
    )
    for name, function in (("list", weights_list), ("fetch", weights_fetch), ("add", weights_add)):
        group.command(name, help=command_help(function))(function)
    return group
