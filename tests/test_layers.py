"""The layers of docs/architecture.md, enforced: the import-linter contracts of pyproject.toml (each package imports
only those below it, nothing imports the CLI, no cycles between the modules of a package) and a cycle check over
every module of vidact (a module that imports, through any chain, a module that imports it back). Imports inside
functions count. Both are shown to fail: on a copy of the package with a climbing import added, and on a graph
with a known cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the contracts of ``cwd/pyproject.toml``, vidact imported from ``pythonpath``."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [sys.executable, "-c", code, "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every import cycle of ``graph``, one per strongly connected component of its modules (Tarjan's algorithm,
    iterative): a chain ``[a, b, ..., a]`` in which each module imports the next, the shortest through the
    component's first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    imports = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            module, position = work.pop()
            if position == 0:
                index[module] = low[module] = len(index)
                stack.append(module)
                on_stack.add(module)
            children = imports[module]
            if position < len(children):
                work.append((module, position + 1))
                child = children[position]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
    cycles = []
    for component in sorted(components):
        first = component[0]
        back = min(
            (graph.find_shortest_chain(child, first) for child in imports[first] if child in component),
            key=len,
        )
        cycles.append([first, *back])
    return cycles


def describe(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    """``a (l.3) -> b (l.12) -> a``: each import with the line it is on."""
    parts = []
    for importer, imported in zip(cycle, cycle[1:], strict=False):
        lines = sorted(
            {d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)}
        )
        parts.append(f"{importer} (l.{', '.join(map(str, lines))})" if lines else importer)
    return " -> ".join([*parts, cycle[-1]])


# -- vidact as it is ------------------------------------------------------------------------------------------------
def test_the_import_linter_contracts_are_kept() -> None:
    done = _lint_imports(ROOT, ROOT)
    assert done.returncode == 0, done.stdout[done.stdout.find("Broken contracts") :] or done.stderr


def test_no_module_of_vidact_is_part_of_an_import_cycle() -> None:
    graph = grimp.build_graph("vidact", include_external_packages=False, cache_dir=None)
    assert "vidact.models.registry" in graph.modules  # the graph is vidact's, not an empty one
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(describe(graph, c) for c in cycles)


# -- the checks can fail --------------------------------------------------------------------------------------------
def test_the_cycle_check_finds_every_cycle_and_names_its_chain() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),  # a 3-cycle
        ("p.c", "p.d"),  # leaving it
        ("p.d", "p.e"),
        ("p.x", "p.y"),
        ("p.y", "p.x"),  # a 2-cycle, as an import inside a function makes one
        ("p.pkg", "p.pkg.child"),
        ("p.pkg.child", "p.pkg"),  # a package's __init__ and a module of it
    ]:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="import")
    assert import_cycles(graph) == [
        ["p.a", "p.b", "p.c", "p.a"],
        ["p.pkg", "p.pkg.child", "p.pkg"],
        ["p.x", "p.y", "p.x"],
    ]
    assert describe(graph, ["p.x", "p.y", "p.x"]) == "p.x (l.1) -> p.y (l.1) -> p.x"


@pytest.fixture(scope="module")
def vidact_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's sources and pyproject.toml, copied: a sandbox to add forbidden imports to."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "vidact", root / "vidact", ignore=shutil.ignore_patterns("__pycache__", "configs"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(
    ("importer", "statement", "broken"),
    [
        ("io/__init__.py", "from ..engine import config", "vidact.io is not allowed to import vidact.engine"),
        (
            "models/layers.py",
            "from ..infer import predict",
            "vidact.models is not allowed to import vidact.infer",
        ),
        ("errors.py", "from . import _atomic", "vidact.errors is not allowed to import vidact._atomic"),
        ("engine/loop.py", "from .. import cli", "vidact.engine is not allowed to import vidact.cli"),
        (
            "models/weights.py",
            "from ..pose import estimate",
            "vidact.models is not allowed to import vidact.pose",
        ),
    ],
)
def test_a_climbing_import_inside_a_function_breaks_the_layers(
    vidact_copy: Path, importer: str, statement: str, broken: str
) -> None:
    path = vidact_copy / "vidact" / importer
    original = path.read_text()
    try:
        path.write_text(original + f"\n\ndef _climbs():\n    {statement}  # noqa: F401\n")
        done = _lint_imports(vidact_copy, vidact_copy)
    finally:
        path.write_text(original)
    assert done.returncode == 1 and broken in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]


def test_a_cycle_between_sibling_modules_breaks_the_acyclic_contract(vidact_copy: Path) -> None:
    path = vidact_copy / "vidact" / "extract" / "inputs.py"
    original = path.read_text()
    try:  # runner.py imports inputs.py; inputs.py importing runner.py back closes a cycle inside vidact.extract
        path.write_text(original + "\n\ndef _cycles():\n    from . import runner  # noqa: F401\n")
        done = _lint_imports(vidact_copy, vidact_copy)
    finally:
        path.write_text(original)
    assert done.returncode == 1 and "No cycles are allowed in vidact.extract" in done.stdout, done.stdout[
        -2000:
    ]
