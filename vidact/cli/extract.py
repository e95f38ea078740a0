"""``vidact extract KIND INPUT --out DIR [options] [the kind's options]``: a per-video extractor mapped over a
corpus, one sub-command per registered extraction kind.

A kind's options are not listed here: they are its factory's parameters (``vidact.extract.register_extractor``),
read when the command line is used, so a kind added by a plugin (entry-point group ``vidact.plugins``) is a
command with its own options without an edit here. ``window_frames: int | None = None`` becomes
``--window-frames INTEGER``, a ``bool`` ``--x/--no-x``, a ``Literal[...]`` a choice; each option's help is its
entry in the factory docstring's ``Args:`` (or, for a dataclass, ``Attributes:``) section. An option left out is
not passed, so the factory's default applies and a missing required one is the factory's one-line error.
"""

from __future__ import annotations

import inspect
import os
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from typer.core import TyperGroup

from ._output import command_help, console, err_console

__all__ = ["COMMON_OPTIONS", "extract_app", "kind_command", "docstring_args"]


def _extract(
    kind: str,
    options: dict[str, Any],
    source: Path,
    out: Path,
    workers: int,
    ray: str | None,
    threads: int | None,
    root: Path | None,
    progress: bool,
) -> None:
    """Build the kind's extractor from the options given, run it, print the report; exit 1 if a video failed."""
    from ..extract import build_extractor, extract

    extractor = build_extractor(kind, **{k: v for k, v in options.items() if v is not None})
    report = extract(
        extractor, source, out, workers=workers, ray=ray, threads=threads, root=root, progress=progress
    )
    for failure in report.failed:
        err_console.print(
            f"failed: {failure.video}: {failure.reason}", markup=False, highlight=False, soft_wrap=True
        )
    console.print(
        f"{report.kind}: {report.videos} videos, {report.done} extracted, {report.skipped} up to date, "
        f"{len(report.failed)} failed in {report.seconds:.1f} s ({report.backend}); summary in {report.summary}",
        highlight=False,
        soft_wrap=True,
    )
    if not report.ok:
        raise typer.Exit(1)


def _common(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT", help="A video, a folder (searched recursively) or a list file (.txt/.lst)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output folder: <video>.<array>.npy and <video>.<kind>.json.")],
    workers: Annotated[
        int, typer.Option(min=1, help="Processes here; with --ray, actors (default: the cluster's CPUs).")
    ] = 1,
    ray: Annotated[
        str | None, typer.Option(help="'auto' starts a local Ray; an address joins a running cluster.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Torch threads per worker (default: the CPUs shared out).")
    ] = None,
    root: Annotated[Path | None, typer.Option(help="Folder a list file's paths are relative to.")] = None,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr.")] = True,
) -> None:
    """The options every kind takes (their signature is read, the function never runs)."""


#: The parameters every ``vidact extract KIND`` takes, before the kind's own.
COMMON_OPTIONS: tuple[inspect.Parameter, ...] = tuple(
    inspect.signature(_common, eval_str=True).parameters.values()
)


# -- a factory's signature as command-line options ---------------------------------------------------------------
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")  # :func:`~vidact.x.y` -> vidact.x.y


def _plain(text: str) -> str:
    """reStructuredText markup as plain help text: roles and literals unquoted, one line."""
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1] if "~" in m.group(0) else m.group(1), text)
    return " ".join(text.replace("``", "").split())


def docstring_args(obj: Callable[..., Any]) -> dict[str, str]:
    """Parameter name -> its help, from the ``Args:`` and ``Attributes:`` sections of ``obj``'s docstring
    (Google style: ``name: text``, continuation lines indented deeper; ``a, b: text`` documents both)."""
    found: dict[str, str] = {}
    lines = inspect.cleandoc(inspect.getdoc(obj) or "").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() not in ("Args:", "Attributes:"):
            i += 1
            continue
        i += 1
        entries: list[tuple[str, list[str]]] = []
        indent = None
        while i < len(lines) and (not lines[i].strip() or lines[i][:1].isspace()):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            depth = len(line) - len(line.lstrip())
            indent = depth if indent is None else indent
            names, sep, text = line.strip().partition(":")
            if depth == indent and sep and re.fullmatch(r"[A-Za-z_]\w*(\s*,\s*[A-Za-z_]\w*)*", names.strip()):
                entries.append((names, [text]))
            elif entries:
                entries[-1][1].append(line.strip())
        for names, text in entries:
            for name in names.split(","):
                found.setdefault(name.strip(), _plain(" ".join(text)))
    return found


def _summary(obj: Callable[..., Any]) -> str:
    """The first paragraph of ``obj``'s docstring, as plain text."""
    return _plain(inspect.cleandoc(inspect.getdoc(obj) or "").split("\n\n")[0])


def _type_hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """The factory's parameter annotations, evaluated (``from __future__ import annotations`` leaves strings)."""
    try:
        return typing.get_type_hints(factory)
    except Exception:  # an annotation that names something not importable: those options go untyped
        return {}


def _option_type(annotation: Any) -> Any:
    """The command-line type of a parameter annotation (``X | None`` -> ``X``; a ``str`` union -> ``str``; a
    ``Literal`` stays, typer makes it a choice); None for a type the command line cannot give (a tuple, a
    mapping, an object)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if str in members:
            return str
        if len(members) == 1:
            return _option_type(members[0])
        if all(_option_type(m) is Path for m in members):
            return Path
        return None
    if origin is Literal:
        return annotation
    if annotation in (str, int, float, bool, Path):
        return annotation
    if annotation is os.PathLike or origin is os.PathLike:
        return Path
    return None


def _kind_parameters(kind: str, factory: Callable[..., Any]) -> list[inspect.Parameter]:
    """The factory's parameters as optional typer options (default ``None``: not given). Parameters named like a
    common option, ``*args``/``**kwargs``, and optional ones of a type the command line cannot give are left
    out; a required one of such a type is read as text."""
    hints = _type_hints(factory)
    helps = docstring_args(factory)
    taken = {p.name for p in COMMON_OPTIONS}
    parameters = []
    for p in inspect.signature(factory).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in taken:
            continue
        required = p.default is p.empty
        cli_type = _option_type(hints.get(p.name, str))
        if cli_type is None:
            if not required:
                continue
            cli_type = str
        suffix = "[required]" if required else None if p.default is None else f"[default: {p.default}]"
        text = " ".join(part for part in (helps.get(p.name, ""), suffix) if part)
        flag = f"--{p.name.replace('_', '-')}"
        declared = f"{flag}/--no-{flag[2:]}" if cli_type is bool else flag
        option = typer.Option(
            declared, help=escape(text), show_default=False, rich_help_panel=f"Options of {kind}"
        )
        parameters.append(
            inspect.Parameter(
                p.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[cli_type | None, option],
            )
        )
    return parameters


def kind_command(kind: str, factory: Callable[..., Any]) -> Callable[..., None]:
    """The ``vidact extract KIND`` command of one kind: the common options and the factory's, as a function
    whose signature typer reads."""
    parameters = _kind_parameters(kind, factory)
    common = {p.name for p in COMMON_OPTIONS}

    def command(**values: Any) -> None:
        options = {name: value for name, value in values.items() if name not in common}
        _extract(kind, options, **{name: values[name] for name in common})

    command.__signature__ = inspect.Signature([*COMMON_OPTIONS, *parameters])  # type: ignore[attr-defined]
    command.__name__ = kind
    command.__doc__ = (
        f"{_summary(factory) or f'The {kind} extraction kind.'}\n\n"
        f"Maps it over a video, a folder tree or a list file: outputs are keyed by the video's content and the "
        f"options (a re-run skips what is done); bad videos are listed and the rest done; exit 1 if any failed."
    )
    return command


class _KindGroup(TyperGroup):
    """``vidact extract``'s sub-commands: the registered extraction kinds, each built when it is first asked for
    (so ``vidact --help`` imports no extractor), an unknown kind a one-line error naming the close ones."""

    def list_commands(self, ctx: Any) -> list[str]:
        from ..extract import list_extractors

        return list_extractors()

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        from ..extract.base import get_extractor_factory

        built = self.__dict__.setdefault("_built", {})
        if cmd_name not in built:
            factory = get_extractor_factory(
                cmd_name
            )  # ConfigError: unknown extraction kind, did you mean ...
            function = kind_command(cmd_name, factory)
            single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            single.command(cmd_name, help=command_help(function))(function)
            command = typer.main.get_command(single)
            command.name = cmd_name
            built[cmd_name] = command
        return built[cmd_name]


def extract_app() -> typer.Typer:
    """The ``vidact extract`` command group."""
    return typer.Typer(
        cls=_KindGroup,
        help="Map a per-video extractor over many videos.\n\n"
        "vidact extract KIND INPUT --out DIR, then the common options and the kind's own (vidact extract KIND "
        "--help). INPUT is a video, a folder tree or a list file. Outputs are keyed by the video's content and "
        "the options: a re-run skips what is done.",
        no_args_is_help=True,
    )
