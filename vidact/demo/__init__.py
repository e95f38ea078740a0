"""``vidact demo``: the main job, end to end, and the pieces a report (and the web explorer) is made of.

* :mod:`~vidact.demo.run`: :func:`run_demo` synthesizes a temporal-pairs and a scene-biased set, trains a
  per-frame and a temporal model on each, evaluates them, and writes ``results.json`` and ``report.html``;
  :data:`PRESETS` (``default``, ``quick``), :func:`comparison_rows`.
* :mod:`~vidact.demo.flicker`: :func:`~vidact.demo.flicker.flicker`, frame by frame what a per-frame model
  believes next to a clip-level answer, from any prediction.
* :mod:`~vidact.demo.showcase`: the shared real clips through the pretrained skeleton models (the report's
  real-video section, the README's table).
* :mod:`~vidact.demo.report`: the self-contained HTML page and the flicker chart.
* :mod:`~vidact.demo.explore`: ``vidact explore``, the explorer web app (the optional extra ``explore``).

The names of :mod:`.run` are imported on first use, so that importing a part of this package (the explorer, at
``vidact explore``'s start) does not import torch.
"""

from typing import Any

from .flicker import Flicker, flicker

__all__ = ["DemoPreset", "PRESETS", "run_demo", "comparison_rows", "default_real_data", "Flicker", "flicker"]

_RUN = ("DemoPreset", "PRESETS", "run_demo", "comparison_rows", "default_real_data")


def __getattr__(name: str) -> Any:
    if name in _RUN:
        from . import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
