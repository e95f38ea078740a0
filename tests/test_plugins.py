"""Third-party extensions without a fork: a module outside the package registers a model (with its card), a task
and an extraction kind, and the commands use them — through a recipe's ``imports:`` (``vidact train``) and through
an installed distribution's ``vidact.plugins`` entry point (``vidact models``, ``vidact extract``). Every command
runs as a user would run it, in a fresh process (``python -m vidact``), so nothing registered here leaks into
the other tests and a registration that only works in-process does not pass."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vidact.data.synth import synthesize
from vidact.engine.config import Config, load_config
from vidact.engine.tasks import build_task
from vidact.errors import ConfigError
from vidact.io.writer import write_video

#: The plugin: a module vidact has never heard of. Its model keeps the model contract, its task adds a second
#: named loss to classification, its extraction kind gives each frame's mean brightness.
PLUGIN = '''
"""A vidact plugin written by tests/test_plugins.py."""

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from torch import Tensor, nn

from vidact.engine.tasks import StepOutput, register_task
from vidact.engine.tasks.classification import Classification
from vidact.extract import register_extractor
from vidact.io import VideoReader
from vidact.models import ModelCard, register_model


class TinyNet(nn.Module):
    """clips [B, 3, T, H, W] -> logits [B, K]: one 3x3x3 convolution, global average pooling, a linear head."""

    def __init__(self, num_classes: int = 4, width: int = 8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(3, width, 3, padding=1), nn.ReLU())
        self.num_features = width
        self.reset_classifier(num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        """clips [B, 3, T, H, W] -> features [B, D, T, H, W]."""
        return self.stem(x)

    def forward_head(self, f: Tensor, pre_logits: bool = False) -> Tensor:
        """features [B, D, T, H, W] -> logits [B, K] (pooled [B, D] with ``pre_logits``)."""
        pooled = f.mean(dim=(2, 3, 4))
        return pooled if pre_logits else self.fc(pooled)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()


@register_model(
    card=ModelCard(
        name="plugin_tinynet",
        family="plugin_tiny",
        input_size=(3, 4, 32, 32),
        frames=4,
        frame_stride=1,
        default_num_classes=4,
        notes="registered by a plugin",
    )
)
def plugin_tinynet(*, num_classes: int = 4, **kwargs: Any) -> TinyNet:
    return TinyNet(num_classes, **kwargs)


@register_task
class PluginTwoLosses(Classification):
    """Classification plus a named penalty on the logits' size."""

    name = "plugin_two_losses"
    loss_names = ("cross_entropy", "plugin_penalty")

    def training_step(self, model: nn.Module, batch: dict, rng: np.random.Generator) -> StepOutput:
        logits = model(batch["video"])
        losses = {
            "cross_entropy": nn.functional.cross_entropy(logits, batch["label"]),
            "plugin_penalty": 0.1 * logits.square().mean(),
        }
        return StepOutput(losses, len(logits), {"acc": int((logits.argmax(1) == batch["label"]).sum())})


@dataclass(frozen=True)
class FrameMeans:
    """Each frame's mean value: [T] float32."""

    name: ClassVar[str] = "plugin_frame_means"

    def params(self) -> dict[str, Any]:
        return {}

    def __call__(self, video: str) -> dict[str, np.ndarray]:
        means = [frame.float().mean().item() for _, _, frame in VideoReader(video).iter_frames()]
        return {"frame_mean": np.array(means, dtype=np.float32)}


@register_extractor("plugin_frame_means")
def frame_means() -> FrameMeans:
    return FrameMeans()
'''

MODULE = "vidact_plugin_for_tests"


def _vidact(*args: str, pythonpath: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m vidact ARGS`` in a fresh process with ``pythonpath`` first on its path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "vidact", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _plugin_folder(folder: Path, source: str = PLUGIN) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(source))
    return folder


def _distribution(folder: Path, name: str, entry_points: dict[str, str]) -> None:
    """What ``pip install`` leaves for a distribution that declares ``vidact.plugins`` entry points."""
    info = folder / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = [f"{key} = {value}" for key, value in entry_points.items()]
    (info / "entry_points.txt").write_text("[vidact.plugins]\n" + "\n".join(lines) + "\n")


def test_a_recipe_imports_trains_the_plugins_task_with_its_model(tmp_path: Path) -> None:
    plugins = _plugin_folder(tmp_path / "src")
    data = tmp_path / "scenes"
    synthesize(
        data, "scene", videos_per_class={"train": 1, "val": 1}, size=32, frames=4, workers=0, progress=False
    )
    recipe = tmp_path / "plugin.yaml"
    recipe.write_text(
        textwrap.dedent(
            f"""\
            imports: [{MODULE}]
            task: plugin_two_losses
            model: {{name: plugin_tinynet}}
            data: {{root: {data}, clip_len: 4, stride: 1, short_side: 32, crop_size: 32, batch_size: 4,
                    num_workers: 0, flip_p: 0}}
            train: {{epochs: 1, lr: 0.001, optimizer: adamw, weight_decay: 0, num_threads: 1}}
            """
        )
    )
    run = tmp_path / "run"
    done = _vidact("train", str(recipe), "--out", str(run), "--no-progress", pythonpath=plugins, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(run / "metrics.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["train_plugin_penalty"]) > 0  # the plugin's task made the losses
    saved = (run / "config.yaml").read_text()
    # The run's recipe names the module it needs to be loaded again.
    assert "plugin_tinynet" in saved and f"imports: [{MODULE}]" in saved

    # Without the import, the same recipe names a task and a model nobody registered (in this process, which
    # never imported the plugin): the one-line error of an unknown task.
    recipe.write_text(recipe.read_text().replace(f"imports: [{MODULE}]\n", ""))
    with pytest.raises(ConfigError, match="unknown task 'plugin_two_losses'"):
        build_task(load_config(recipe))
    # A module that cannot be imported is named in one line, when the recipe is loaded.
    recipe.write_text("imports: [no_such_plugin_module]\n" + recipe.read_text())
    with pytest.raises(
        ConfigError, match="imports: cannot import 'no_such_plugin_module' \\(ModuleNotFoundError"
    ):
        load_config(recipe)


def test_an_entry_point_plugin_is_listed_and_extracts(tmp_path: Path) -> None:
    site = _plugin_folder(tmp_path / "site")
    _distribution(site, "fake_dist", {"tiny": MODULE})

    listed = _vidact("models", "plugin_*", pythonpath=site, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert (
        "plugin_tinynet" in listed.stdout and "plugin_tiny" in listed.stdout
    )  # the name and its card's family

    values = np.array([20, 60, 100, 140, 180, 220], dtype=np.uint8)  # one flat grey frame each
    write_video(
        tmp_path / "grey.mp4", np.broadcast_to(values[:, None, None, None], (6, 32, 32, 3)).copy(), 8.0
    )
    out = tmp_path / "out"
    done = _vidact(
        "extract",
        "plugin_frame_means",
        str(tmp_path / "grey.mp4"),
        "--out",
        str(out),
        pythonpath=site,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    means = np.load(out / "grey.frame_mean.npy")
    np.testing.assert_allclose(means, values, atol=4)  # lossy coding moves a flat grey by a level or two


def test_a_broken_plugin_is_one_warning_not_a_crash(tmp_path: Path) -> None:
    site = _plugin_folder(tmp_path / "site")
    (site / "broken_vidact_plugin.py").write_text(
        "raise RuntimeError('this plugin is broken\\non two lines')\n"
    )
    _distribution(site, "broken_dist", {"broken": "broken_vidact_plugin", "tiny": MODULE})

    listed = _vidact("models", "plugin_*", pythonpath=site, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "plugin_tinynet" in listed.stdout  # the working plugin still loads
    warning = [line for line in listed.stderr.splitlines() if "broken_vidact_plugin" in line]
    assert (
        len(warning) == 1 and "'broken'" in warning[0] and "this plugin is broken on two lines" in warning[0]
    )
    assert "Traceback" not in listed.stderr


@pytest.mark.parametrize("value", [["os.path", 3], "os.path"])
def test_recipe_imports_must_be_a_list_of_module_names(value: object) -> None:
    with pytest.raises(ConfigError, match="imports must be a list of module names"):
        Config.from_dict({"imports": value})
