"""What the benchmarks that run vidact as a user share: running a command and logging it, loading a sibling script.

Imported by the scripts of this folder (run as ``python benchmarks/NAME.py``, the folder is on ``sys.path``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def vidact(*args: str, log: Path) -> float:
    """Run ``vidact ARGS``; its wall time. Output goes to ``log``; a failure stops the benchmark."""
    start = time.perf_counter()
    with open(log, "a") as f:
        f.write(f"$ vidact {' '.join(args)}\n")
        f.flush()
        done = subprocess.run([sys.executable, "-m", "vidact", *args], stdout=f, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"vidact {' '.join(args)} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - start


def sibling(name: str) -> Any:
    """The module ``benchmarks/<name>.py`` (the benchmarks folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
