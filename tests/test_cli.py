"""The ``vidact`` command line as a user runs it, in its own process (``python -m vidact.cli``): the happy paths of
``models``, ``synth`` and ``train`` checked by what they print and write, and hostile weight files that get one
line on stderr, no library warning before it, and no code run."""

from __future__ import annotations

import csv
import json
import math
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from vidact.data.synth import TEMPORAL_PAIRS, clip_rng, render_clip
from vidact.engine.checkpoint import load_checkpoint
from vidact.engine.load import load_model
from vidact.errors import CheckpointError
from vidact.io import VideoReader, probe
from vidact.models import list_models, model_card
from vidact.models.weights import read_checkpoint

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "configs" / "synthetic_simple3d.yaml"
# The real data is ../shared/data from the project root, found from this file whatever the working directory.
ARM_WRESTLING = ROOT.parent / "shared" / "data" / "videos" / "kinetics" / "arm_wrestling.mp4"

# The synthetic set of these tests: two time-reversed pairs, 2 + 1 + 1 videos per class, 8 frames of 32x32.
PAIRS = ("raise", "slide")
CLASSES = [name for pair in PAIRS for name in TEMPORAL_PAIRS[pair]]
VIDEOS_PER_CLASS = {"train": 2, "val": 1, "test": 1}
SIZE, FRAMES, FPS, SEED = 32, 8, 8.0, 3


def _command(*args: object) -> list[str]:
    return [sys.executable, "-m", "vidact.cli", *map(str, args)]


def _environment() -> dict[str, str]:
    """This process's environment with Python's default warning filters, whatever the caller set."""
    return {**os.environ, "PYTHONWARNINGS": "default"}


def _vidact(*args: object) -> subprocess.CompletedProcess[str]:
    """Run ``vidact ARGS...`` in a new process with stdout and stderr captured (neither is a terminal)."""
    return subprocess.run(
        _command(*args), capture_output=True, text=True, timeout=300, cwd=ROOT, env=_environment()
    )


def _fresh_registry() -> list[str]:
    """``list_models()`` in a new interpreter: vidact's own models, none that a test module registered."""
    code = "import json; from vidact.models import list_models; print(json.dumps(list_models()))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


def _table_rows(text: str) -> list[list[str]]:
    """The body rows of a rich table as lists of stripped cells (one line per row: nothing wraps in a pipe)."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")
    ]


def _tiny_training(root: Path) -> list[str]:
    """Overrides that turn the recipe into a run of seconds: Simple3D with 4 and 8 channels, 2 epochs of 4 steps."""
    return [
        f"data.root={root}",
        "data.clip_len=8",
        "data.stride=1",
        "data.short_side=32",
        "data.crop_size=32",
        "data.batch_size=2",
        "data.num_workers=0",
        "model.kwargs={widths: [4, 8], dropout: 0.0}",
        "train.epochs=2",
        "train.num_threads=1",
    ]


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``vidact synth`` of the set above: (its root, the finished command)."""
    root = tmp_path_factory.mktemp("cli") / "synthetic"
    done = _vidact(
        "synth",
        root,
        "--kind",
        "temporal",
        "--size",
        SIZE,
        "--frames",
        FRAMES,
        "--fps",
        FPS,
        "--seed",
        SEED,
        *[option for split, count in VIDEOS_PER_CLASS.items() for option in (f"--{split}", count)],
        *[option for pair in PAIRS for option in ("--pair", pair)],
        "--workers",
        1,
    )
    return root, done


@pytest.fixture(scope="module")
def dataset(synth_run: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    """The synthetic set's root, once ``vidact synth`` has written it."""
    root, done = synth_run
    assert done.returncode == 0, done.stderr
    return root


# -- vidact models ------------------------------------------------------------------------------------------------


def test_models_lists_every_registered_model_with_its_card() -> None:
    """Claim: ``vidact models`` prints one row per registered model, each with its card's family, input size,
    parameters, GMACs and loadable weights, whole even into a pipe; a glob selects the matching models only."""
    done = _vidact("models")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = _table_rows(done.stdout)
    # every model, once, in the registry's order: the registry of a fresh interpreter, as the command sees it
    # (this process may hold models that other test modules register, e.g. test_train.py's probe)
    assert [row[0] for row in rows] == _fresh_registry()
    for name, family, input_size, params, gmacs, weights in rows:
        card = model_card(name)
        assert family == card.family
        assert tuple(int(n) for n in input_size.split("x")) == card.input_size
        assert float(params.removesuffix("M")) * 1e6 == pytest.approx(card.params, abs=5e3)
        assert float(gmacs) == pytest.approx(card.gmacs, abs=5e-3)
        assert weights.split(", ") == ([f"{name}.{w.tag}" for w in card.weights] or ["-"])
    assert any(row[5] != "-" for row in rows)  # some published weights are listed (the column is not empty)

    done = _vidact("models", "*slowfast*")
    assert done.returncode == 0, done.stderr
    assert [row[0] for row in _table_rows(done.stdout)] == list_models("*slowfast*") != []


# -- vidact synth -------------------------------------------------------------------------------------------------


def test_synth_writes_the_classes_the_manifest_and_the_videos_asked_for(
    synth_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """Claim: ``vidact synth`` writes classes.txt, manifest.json and root/<split>/<class>/*.mp4 with the pairs,
    counts, size, frame count, frame rate and seed given on the command line."""
    root, done = synth_run
    assert done.returncode == 0, done.stderr
    total = len(CLASSES) * sum(VIDEOS_PER_CLASS.values())
    assert f"wrote {total} videos of {len(CLASSES)} classes to {root}" in done.stdout

    assert (root / "classes.txt").read_text().splitlines() == CLASSES
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["kind"] == "temporal" and manifest["classes"] == CLASSES
    assert manifest["pairs"] == {pair: list(TEMPORAL_PAIRS[pair]) for pair in PAIRS}
    assert manifest["partners"] == {
        a: b for pair in PAIRS for a, b in (TEMPORAL_PAIRS[pair], TEMPORAL_PAIRS[pair][::-1])
    }
    assert manifest["videos_per_class"] == VIDEOS_PER_CLASS and manifest["chance"] == 1 / len(CLASSES)
    params = manifest["params"]
    assert (params["size"], params["frames"], params["fps"], params["seed"]) == (
        [SIZE, SIZE],
        FRAMES,
        FPS,
        SEED,
    )

    for split, count in VIDEOS_PER_CLASS.items():
        assert sorted(p.name for p in (root / split).iterdir()) == sorted(CLASSES)
        for name in CLASSES:
            assert sorted(p.name for p in (root / split / name).iterdir()) == [
                f"{name}_{index:04d}.mp4" for index in range(count)
            ]
    # Each file is the clip of its (seed, split, class, index), encoded: 8 frames of 32x32 at 8 fps. x264 moves
    # these tiny noisy frames' pixels by 6-8 levels on average; a clip drawn from another seed differs by 50-80.
    for split, name in (("train", "lowering_hand"), ("test", "moving_left_to_right")):
        path = root / split / name / f"{name}_0000.mp4"
        meta = probe(path)
        assert (meta.width, meta.height, meta.num_frames, meta.fps) == (SIZE, SIZE, FRAMES, FPS)
        with VideoReader(path) as reader:
            decoded = np.asarray(reader.get_frames(np.arange(FRAMES)), dtype=np.float32)

        def drawn(seed: int, split: str = split, name: str = name) -> np.ndarray:
            return render_clip("temporal", name, clip_rng(seed, split, name, 0), size=SIZE, frames=FRAMES)

        error = np.abs(decoded - drawn(SEED)).mean()
        assert error < 12 and np.abs(decoded - drawn(SEED + 1)).mean() > 4 * error


# -- vidact train -------------------------------------------------------------------------------------------------


def test_train_from_a_recipe_with_overrides_writes_the_run_directory(dataset: Path, tmp_path: Path) -> None:
    """Claim: ``vidact train RECIPE key=value --out DIR`` applies the overrides, trains, reports each epoch and
    writes the run directory: the resolved recipe, per-epoch metrics, loadable last and best checkpoints."""
    run = tmp_path / "run"
    done = _vidact("train", RECIPE, *_tiny_training(dataset), "--out", run, "--no-progress")
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines() if line.startswith("epoch")] == [
        "epoch 1/2",
        "epoch 2/2",
    ]
    assert {"config.yaml", "metrics.csv", "metrics.json", "checkpoints"} <= {p.name for p in run.iterdir()}

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["data"]["root"] == str(dataset) and config["train"]["epochs"] == 2
    assert config["model"]["name"] == "simple3d" and config["model"]["kwargs"]["widths"] == [4, 8]
    assert config["train"]["optimizer"] == "adamw"  # what the overrides leave alone comes from the recipe

    with open(run / "metrics.csv", newline="") as f:
        epochs = list(csv.DictReader(f))
    steps_per_epoch = len(CLASSES) * VIDEOS_PER_CLASS["train"] // 2  # batch size 2
    assert [(int(e["epoch"]), int(e["step"])) for e in epochs] == [
        (1, steps_per_epoch),
        (2, 2 * steps_per_epoch),
    ]
    assert all(math.isfinite(float(e["train_loss"])) and float(e["train_loss"]) > 0 for e in epochs)
    val_videos = len(CLASSES) * VIDEOS_PER_CLASS["val"]
    top1 = [float(e["val_top1"]) for e in epochs]
    assert all(round(t * val_videos) == pytest.approx(t * val_videos) for t in top1)  # a share of 4 videos

    summary = json.loads((run / "metrics.json").read_text())
    assert summary["epochs"] == 2 and summary["steps"] == 2 * steps_per_epoch
    assert sorted(summary["classes"]) == sorted(CLASSES)
    assert summary["best"]["top1"] == max(top1) and summary["best"]["epoch"] == top1.index(max(top1)) + 1

    last, _ = load_checkpoint(run, "last")
    best, _ = load_checkpoint(run, "best")
    for checkpoint in (last, best):
        assert checkpoint["model_name"] == "simple3d" and checkpoint["classes"] == summary["classes"]
        assert checkpoint["config"]["data"]["root"] == str(dataset)
    assert best["metrics"]["top1"] == summary["best"]["top1"]
    info = load_model(run)  # the best checkpoint rebuilds a working model
    model = info.module
    with torch.inference_mode():
        logits = model(torch.zeros(1, 3, 8, 32, 32))
    assert logits.shape == (1, len(CLASSES)) and info.classes == summary["classes"]


# -- hostile weight files -----------------------------------------------------------------------------------------


class _Payload:
    """Unpickling this calls ``open(path, "w")``, creating ``path``: it stands for any code a pickle can run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.path), "w")


def _hostile_pickle(path: Path, marker: Path) -> Path:
    """Write a weights-looking pickle (protocol 4, as pickle.dump writes) whose loading creates ``marker``."""
    with open(path, "wb") as f:
        pickle.dump({"state_dict": _Payload(marker)}, f, protocol=4)
    return path


def test_hostile_weights_get_one_error_line_and_run_nothing(dataset: Path, tmp_path: Path) -> None:
    """Claim: a pickle that runs code, given as ``--weights`` to predict, as the checkpoint to eval, or as
    ``model.pretrained`` to train, gets exactly ``error: <path>: <reason>`` on stderr (no torch warning before
    it) and exit status 2, and its code does not run."""
    marker = tmp_path / "payload_ran"
    evil = _hostile_pickle(tmp_path / "evil.pkl", marker)
    live = _hostile_pickle(tmp_path / "live.pkl", tmp_path / "live_payload_ran")
    with open(live, "rb") as f:  # the payload is live: plain pickle runs it
        pickle.load(f)
    assert (tmp_path / "live_payload_ran").exists()

    # The loader itself warns nothing (the fix is where torch.load is called, not a filter in the CLI).
    with (
        warnings.catch_warnings(record=True) as caught,
        pytest.raises(CheckpointError, match="not a readable"),
    ):
        warnings.simplefilter("always")
        read_checkpoint(evil)
    assert [str(w.message) for w in caught] == []

    commands = {
        "predict": ["predict", ARM_WRESTLING, "--model", "simple3d", "--weights", evil],
        "eval": ["eval", evil, dataset, "--split", "test"],
        "train": [
            "train",
            RECIPE,
            *_tiny_training(dataset),
            f"model.pretrained={evil}",
            "--out",
            tmp_path / "run",
        ],
    }
    processes = {  # one process per command, all at once
        name: subprocess.Popen(
            _command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=_environment(),
        )
        for name, args in commands.items()
    }
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, (name, stderr)
        assert stderr.splitlines() == [
            f"error: {evil}: not a readable checkpoint (it stores Python objects beyond tensors, which vidact "
            "will not unpickle (weights_only=True))"
        ], (name, stderr)
        assert stdout == "", (name, stdout)
    assert not marker.exists()


# -- help ---------------------------------------------------------------------------------------------------------
def _help(*args: object, columns: int) -> str:
    done = subprocess.run(
        _command(*args, "--help"),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**_environment(), "COLUMNS": str(columns)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _listed(text: str) -> dict[str, list[str]]:
    """The rows of a help page's Commands panel: name -> the lines of text beside it."""
    rows: dict[str, list[str]] = {}
    panel = text.split("Commands", 1)[1]
    last = None
    for line in panel.splitlines():
        if not line.startswith("│"):
            continue
        name, _, rest = line.strip("│ ").partition(" ")
        if name and line[2] != " ":
            rows[name] = [rest.strip()]
            last = name
        elif last is not None:
            rows[last].append(line.strip("│ "))
    return rows


def test_help_lists_each_command_with_one_whole_sentence() -> None:
    """The command lists show each docstring's first sentence, whole and on one line at 80 columns; the details
    follow on the command's own page, rewrapped to the terminal (no line broken where the source was wrapped)."""
    import typer

    from vidact.cli import app

    group = typer.main.get_command(app)
    pages = {  # the kinds' summaries are their factories' (a plugin's may be long): 120 columns there
        (): (group, 80),
        ("weights",): (group.commands["weights"], 80),
        ("extract",): (group.commands["extract"], 120),
    }
    for args, (command_group, columns) in pages.items():
        listed = _listed(_help(*args, columns=columns))
        names = command_group.list_commands(None)  # type: ignore[arg-type]
        assert sorted(listed) == sorted(names), args
        for name, lines in listed.items():  # one line each: a summary, not a paragraph cut where it wraps
            assert len(lines) == 1 and lines[0].endswith(".") and ". " not in lines[0], (args, name, lines)
    for command in ("predict", "synth", "eval"):
        page = _help(command, columns=80)
        paragraphs, current = [], []
        for line in page.split("╭", 1)[0].splitlines():
            if line.strip():
                current.append(line)
            elif current:
                paragraphs.append(current)
                current = []
        paragraphs = ["\n".join(p) for p in [*paragraphs, current] if p][1:]  # after "Usage: ..."
        assert len(paragraphs) >= 2, (command, page)
        for paragraph in paragraphs[1:]:  # the details: rewrapped, so every line but the last is nearly full
            lines = [line.rstrip() for line in paragraph.splitlines() if line.strip()]
            assert all(len(line) > 55 for line in lines[:-1]), (command, lines)


# -- vidact extract: one command per registered kind, options from the factory's signature ---------------------------
ECHO_KIND = '''
import json
from pathlib import Path
from typing import Literal

from vidact.errors import ConfigError
from vidact.extract import register_extractor


@register_extractor("cli_echo")
def echo(
    size: int,
    scale: float = 1.0,
    mode: Literal["fast", "exact"] = "fast",
    mask: Path | None = None,
    flip: bool = False,
    label: str | None = None,
    table: dict | None = None,
):
    """Echo the options it was given.

    Args:
        size: the side in pixels.
        scale, label: a factor and a name.
        mode: how to compute it.
        mask: a mask file.
        flip: mirror the frames.
    """
    got = {k: [type(v).__name__, str(v)] for k, v in sorted(locals().items())}
    raise ConfigError("got " + json.dumps(got, sort_keys=True))
'''


#: Runs ``vidact`` once per argument list given as JSON, in one process with the kind above registered; prints
#: ``[[exit status, stdout, stderr], ...]`` as JSON.
DRIVER = """
import contextlib, io, json, sys
import echo_kind
from vidact.cli import main
results = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""


def test_extract_kind_options_come_from_its_factory(tmp_path: Path) -> None:
    (tmp_path / "echo_kind.py").write_text(ECHO_KIND)
    out = tmp_path / "out"
    calls = {
        "listed": ["extract", "--help"],
        "page": ["extract", "cli_echo", "--help"],
        "given": ["extract", "cli_echo", tmp_path, "--out", out, "--size", 3, "--mode", "exact", "--mask", "m.png",
                  "--flip"],
        "missing": ["extract", "cli_echo", tmp_path, "--out", out],
        "wrong": ["extract", "cli_echo", tmp_path, "--out", out, "--size", 3, "--mode", "slow"],
        "unknown": ["extract", "cli_ecko", tmp_path, "--out", out],
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps([[str(a) for a in args] for args in calls.values()])],
        capture_output=True,
        text=True,
        timeout=300,
        env={**_environment(), "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "COLUMNS": "150"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout)  # [[status, stdout, stderr], ...] in the order of calls
    results = {
        name: subprocess.CompletedProcess(args, *outcome)
        for (name, args), outcome in zip(calls.items(), outcomes, strict=True)
    }

    def vidact(name: str) -> subprocess.CompletedProcess[str]:
        return results[name]

    listed = vidact("listed")
    assert listed.returncode == 0, listed.stderr
    assert _listed(listed.stdout)["cli_echo"] == ["Echo the options it was given."]
    assert {"features", "pose"} <= set(_listed(listed.stdout))

    page = vidact("page").stdout
    rows = {
        next(word for word in line.split() if word.startswith("--")): line
        for line in page.splitlines()
        if line.startswith("│") and "--" in line[:8]
    }
    assert {"--size", "--scale", "--mode", "--mask", "--flip", "--label", "--out", "--workers"} <= set(rows)
    assert "--table" not in page  # a dict cannot be given on a command line; it keeps its default
    assert "the side in pixels. [required]" in rows["--size"]
    assert (
        "a factor and a name. [default: 1.0]" in rows["--scale"] and "a factor and a name." in rows["--label"]
    )
    assert "--no-flip" in rows["--flip"] and "fast|exact" in rows["--mode"]

    # Only the options given reach the factory, converted to the annotated types; the rest keep its defaults.
    done = vidact("given")
    assert done.returncode == 2 and done.stderr.startswith("error: got "), done.stderr
    got = json.loads(done.stderr.removeprefix("error: got "))
    assert got == {
        "size": ["int", "3"],
        "scale": ["float", "1.0"],
        "mode": ["str", "exact"],
        "mask": ["PosixPath", "m.png"],
        "flip": ["bool", "True"],
        "label": ["NoneType", "None"],
        "table": ["NoneType", "None"],
    }

    missing = vidact("missing")
    assert (
        missing.returncode == 2 and missing.stderr.strip() == "error: extraction kind 'cli_echo' needs size"
    )
    wrong = vidact("wrong")
    assert wrong.returncode == 2 and "'slow' is not one of 'fast', 'exact'" in " ".join(wrong.stderr.split())
    unknown = vidact("unknown")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().startswith(
        "error: unknown extraction kind 'cli_ecko'; did you mean cli_echo?"
    )
