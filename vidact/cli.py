"""The ``vidact`` command line: a thin layer over the Python API.

Bad input (a broken video, a wrong config key, a mismatched checkpoint) prints one line
``error: <path>: <reason>`` on stderr and exits with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import VidactError

app = typer.Typer(
    name="vidact",
    help="Watch a video and say what is happening in it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")] = False,
) -> None:
    _state["debug"] = debug


def _fmt_int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


@app.command()
def info(
    videos: Annotated[list[Path], typer.Argument(help="Video files, GIFs or folders of frames.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    fps: Annotated[float, typer.Option(help="Frame rate of a frame folder (folders do not store one).")] = 30.0,
) -> None:
    """What a video is: container, codec, size, fps, frame count (exact and estimated), duration, rotation,
    keyframe interval and audio streams."""
    from .io import probe

    out = []
    for video in videos:
        meta = probe(video, fps=fps)
        out.append(meta)
    if as_json:
        payload = [m.to_json(with_index=False) for m in out]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    for m in out:
        t = Table(title=str(m.path), show_header=False, title_justify="left")
        t.add_column("field", style="bold")
        t.add_column("value")
        audio = ", ".join(f"{a.codec} {a.sample_rate} Hz {a.channels} ch" for a in m.audio_streams) or "none"
        rows = [
            ("container", m.container),
            ("codec", f"{m.codec} ({m.pixel_format})" if m.pixel_format else m.codec),
            ("resolution", f"{m.width}x{m.height}"),
            ("fps", f"{m.fps:.3f}"),
            ("frames (exact)", _fmt_int(m.num_frames)),
            ("frames (estimated)", _fmt_int(m.num_frames_estimated)),
            ("duration", f"{m.duration:.3f} s"),
            ("rotation", f"{m.rotation} deg"),
            (
                "keyframe interval",
                f"{m.keyframe_interval:.1f} frames ({m.num_keyframes} keyframes)" if m.keyframe_interval else "-",
            ),
            ("bit rate", f"{m.bit_rate / 1000:.0f} kb/s" if m.bit_rate else "-"),
            ("audio", audio),
        ]
        for k, v in rows:
            t.add_row(k, v)
        console.print(t)


@app.command()
def synth(
    root: Annotated[Path, typer.Argument(help="Output folder (created; must be empty unless --overwrite).")],
    kind: Annotated[str, typer.Option(help="'temporal' (time-reversed pairs) or 'scene' (scene-biased).")] = "temporal",
    train: Annotated[int, typer.Option(help="Videos per class in the train split.")] = 50,
    val: Annotated[int, typer.Option(help="Videos per class in the val split.")] = 10,
    test: Annotated[int, typer.Option(help="Videos per class in the test split.")] = 20,
    size: Annotated[int, typer.Option(help="Frame height and width in pixels.")] = 112,
    frames: Annotated[int, typer.Option(help="Frames per video.")] = 16,
    fps: Annotated[float, typer.Option(help="Frame rate written in the files.")] = 8.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same videos.")] = 0,
    noise: Annotated[float, typer.Option(help="Pixel noise standard deviation (fraction of 255).")] = 0.02,
    distractors: Annotated[int, typer.Option(help="Moving distractor objects per video.")] = 2,
    pairs: Annotated[Optional[list[str]], typer.Option("--pair", help="Temporal pairs to include (repeatable).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Processes (default: one per core).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a folder written by an earlier `vidact synth`.")] = False,
) -> None:
    """Write a synthetic action dataset (root/<split>/<class>/*.mp4) that per-frame models cannot solve
    (kind=temporal) or that one frame solves (kind=scene)."""
    from .data.synth import synthesize

    info = synthesize(
        root,
        kind,  # type: ignore[arg-type]
        videos_per_class={"train": train, "val": val, "test": test},
        size=size,
        frames=frames,
        fps=fps,
        seed=seed,
        noise=noise,
        distractors=distractors,
        pairs=pairs,
        workers=workers,
        overwrite=overwrite,
    )
    console.print(f"wrote {info.num_videos} videos of {len(info.classes)} classes to {info.root}")


@app.command("models")
def models_cmd(
    pattern: Annotated[Optional[str], typer.Argument(help="Shell glob on the model name, e.g. '*slowfast*'.")] = None,
) -> None:
    """List the registered models with their model cards (input, parameters, GMACs, loadable weights)."""
    from .models import list_models, model_card

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
            ", ".join(w.name for w in c.weights) or "-",
        )
    console.print(t)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the ``vidact`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
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


if __name__ == "__main__":
    main()
