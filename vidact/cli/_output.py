"""What every command prints with: the consoles (stdout, stderr), whole tables into pipes, number formats; and
the options several commands share."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["console", "err_console", "print_whole", "fmt_int", "command_help", "PrecisionOption"]

#: ``--precision`` of the commands that run a model (predict, eval; the features kind has it as a parameter).
PrecisionOption = Annotated[
    str,
    typer.Option(
        help="auto: the fast path (BatchNorm folded, bf16) where the CPU or GPU computes bf16 natively, "
        "else float32; 32: eager float32."
    ),
]

console = Console()
err_console = Console(stderr=True)

_UNBOUNDED_WIDTH = 10_000


def print_whole(table: Table) -> None:
    """Print ``table`` on stdout, fitted to the width of a terminal, and whole into a pipe or a file.

    Rich lays out for 80 columns when stdout is not a terminal, which cuts the cells of a wide table
    (``vidact models | grep slowfast`` lost its weights column and shortened GMACs to ``111.…``); a table
    does not expand, so printing it at an unbounded width gives each column its natural width.
    """
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=_UNBOUNDED_WIDTH).print(table)


def fmt_int(n: int | None) -> str:
    """``12,345``, or ``-`` for an unknown count."""
    return "-" if n is None else f"{n:,}"


def command_help(function: Callable) -> str:
    """A command's ``--help`` text from its docstring: one short sentence (the summary in the command list), a
    blank line, then paragraphs of details.

    Each paragraph becomes one line, which rich wraps to the terminal (typer keeps a docstring's line breaks
    after the first paragraph, so text wrapped for the source would break mid-line at 80 columns).
    """
    paragraphs = inspect.cleandoc(function.__doc__ or "").split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)
