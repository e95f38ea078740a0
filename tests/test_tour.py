"""The README's quick tour, run as written: synthesize the data set, train the Simple3D recipe, evaluate it.

The commands are read from the README's tour block, so the test and the page cannot drift apart, and the
accuracy the README promises (``reaches **NN % test top-1**``) is read from the same page and asserted, with a
margin for seeds and machines. The run takes several minutes on 2 CPU cores, hence ``slow``.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from vidact.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
#: Accuracy points the tour may fall short of its promise by (another seed, another CPU's arithmetic).
MARGIN = 0.08


def tour_commands() -> list[list[str]]:
    """The tour's ``vidact synth``, ``vidact train`` and ``vidact eval`` lines, as argument lists."""
    block = re.search(r"## A quick tour\n+```bash\n(.*?)```", README, re.S)
    assert block, "README.md has no '## A quick tour' bash block"
    text = block.group(1).replace("\\\n", " ")  # continuation lines
    lines = [line.split("  #")[0].strip() for line in text.splitlines()]
    commands = [
        shlex.split(line)
        for line in lines
        if line.split()[:2] in (["vidact", "synth"], ["vidact", "train"], ["vidact", "eval"])
    ]
    assert [c[1] for c in commands] == ["synth", "train", "eval"], commands
    return [c[1:] for c in commands]


def promised_top1() -> float:
    """The test top-1 the README promises for the tour's run."""
    match = re.search(r"reaches \*\*(\d+(?:\.\d+)?) % test top-1\*\*", README)
    assert match, "README.md does not state what the tour reaches ('reaches **NN % test top-1**')"
    return float(match.group(1)) / 100


def test_the_tour_commands_are_found() -> None:
    synth, train, evaluate = tour_commands()
    assert "configs/synthetic_simple3d.yaml" in train and "--json" in evaluate
    assert 0.0 < promised_top1() <= 1.0


@pytest.mark.slow
def test_the_tour_learns_what_the_readme_promises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The commands use paths relative to the project root (configs/) and write data/, runs/ and eval.json
    # beside it: run them in a fresh folder that sees the project's recipes.
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    for argv in tour_commands():
        try:
            main(argv)
        except SystemExit as e:  # typer ends a successful command with SystemExit(0)
            assert e.code in (0, None), f"vidact {' '.join(argv)} exited with {e.code}"

    metrics = json.loads((tmp_path / "eval.json").read_text())["metrics"]
    classes = json.loads((tmp_path / "data" / "synthetic-temporal" / "manifest.json").read_text())["classes"]
    chance = 1 / len(classes)
    top1 = metrics["top1"]
    assert top1 >= promised_top1() - MARGIN, (
        f"the tour reached {top1:.3f} test top-1, promised {promised_top1()}"
    )
    assert top1 >= 5 * chance  # far from chance whatever the promise says
