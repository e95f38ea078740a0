"""The ``vidact`` command line: a thin layer over the Python API, one module per command group.

``info`` (:mod:`.info`: info, synth), :mod:`.models` (models, weights list|fetch|add), :mod:`.train` (train,
pretrain, recipes), :mod:`.evaluate` (eval), :mod:`.predict`, :mod:`.extract` (one sub-command per registered
extraction kind), :mod:`.fuse`, :mod:`.demo`; :mod:`._output` holds the consoles. The commands parse arguments,
call the API and print; they compute nothing of their own.

Bad input (a broken video, a wrong config key, a mismatched checkpoint) prints one line
``error: <path>: <reason>`` on stderr and exits with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import VidactError
from . import attention, demo, detection, evaluate, explore, extract, fuse, info, models, predict, train
from ._output import command_help, err_console

__all__ = ["app", "main"]

#: The order of ``vidact --help``'s command list: look at a video, make data, models, use them, train, the demo.
_ORDER = (
    "info",
    "synth",
    "models",
    "eval",
    "predict",
    "detect",
    "eval-detection",
    "extract",
    "train",
    "pretrain",
    "recipes",
    "demo",
    "explore",
    "fuse",
    "attention-cost",
    "weights",
)


class _Commands(TyperGroup):
    """The root group: its commands listed in :data:`_ORDER` (typer lists sub-groups after commands)."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: _ORDER.index(name) if name in _ORDER else len(_ORDER))


app = typer.Typer(
    cls=_Commands,
    name="vidact",
    help="Watch a video and say what is happening in it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
) -> None:
    """``--debug`` is read by :func:`main` before the command runs; declared here so that typer accepts it."""


_commands = (
    ("info", info.info),
    ("synth", info.synth),
    ("models", models.models_cmd),
    ("eval", evaluate.eval_cmd),
    ("predict", predict.predict),
    ("detect", detection.detect),
    ("eval-detection", detection.eval_detection),
    ("train", train.train),
    ("pretrain", train.pretrain),
    ("recipes", train.recipes_cmd),
    ("demo", demo.demo),
    ("explore", explore.explore),
    ("fuse", fuse.fuse),
    ("attention-cost", attention.attention_cost),
)
for _name, _function in _commands:
    app.command(_name, help=command_help(_function))(_function)
app.add_typer(extract.extract_app(), name="extract")
app.add_typer(models.weights_app(), name="weights")


def _plain_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """A warning as one plain line on stderr (``warning: <message>``), not Python's ``file:line: Category``
    with the source line; ``--debug`` keeps Python's form."""
    text = " ".join(str(message).split())
    err_console.print(f"warning: {text}", markup=False, highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``vidact`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if not debug:
        warnings.showwarning = _plain_warning
    try:
        app(args=args, prog_name="vidact")  # standalone: usage errors print and exit 2 by themselves
    except VidactError as e:
        if debug:
            raise
        err_console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
