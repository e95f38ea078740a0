"""``vidact pretrain RECIPE``: ``vidact train`` for the tasks that pre-train (``Task.pretrains``), refusing any
other task with one line and exit status 2 before anything is written; its run seeds a classifier."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from vidact.cli import main
from vidact.data.synth import synthesize
from vidact.data.synth.scenes import SCENE_CLASSES
from vidact.engine.config import load_config
from vidact.engine.tasks import build_network, get_task, list_tasks

SCENES = list(SCENE_CLASSES[:2])


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny masked-reconstruction recipe (simple3d, 8 frames at 32x32) over 2 scene classes x 2 videos."""
    folder = tmp_path_factory.mktemp("pretrain")
    root = folder / "scenes"
    synthesize(
        root,
        "scene",
        videos_per_class={"train": 2, "val": 1},
        scenes=SCENES,
        size=32,
        frames=8,
        workers=0,
        progress=False,
    )
    path = folder / "masked.yaml"
    path.write_text(
        "task: {name: masked_reconstruction, kwargs: {mask_ratio: 0.75, masking: tube}}\n"
        "model: {name: simple3d, kwargs: {widths: [8, 16]}}\n"
        f"data: {{root: {root}, clip_len: 8, stride: 1, short_side: 32, crop_size: 32, batch_size: 2, "
        "num_workers: 0, flip_p: 0}\n"
        "train: {epochs: 1, optimizer: adamw, lr: 0.001, weight_decay: 0, num_threads: 1}\n"
    )
    return path


def _vidact(*args: str) -> int:
    with pytest.raises(SystemExit) as done:  # typer's standalone mode exits, with 0 on success
        main(list(args))
    return done.value.code


def test_pretrain_runs_a_pretraining_recipe_that_seeds_fine_tuning(recipe: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _vidact("pretrain", str(recipe), "train.seed=3", "--out", str(run), "--no-progress") == 0
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["task"] == "masked_reconstruction" and math.isfinite(summary["best"]["mse"])
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["config"]["train"]["seed"] == 3 and ckpt["config"]["task"]["kwargs"]["masking"] == "tube"
    assert ckpt["backbone"] == "encoder." and ckpt["classifier"] is False

    # its encoder seeds a classifier of the same model
    cfg = load_config(recipe, ["task=classification", "task.kwargs={}", f"model.pretrained={run}"])
    with pytest.warns(UserWarning, match="decoder left out"):
        state = build_network(cfg.model, 2).state_dict()
    for key, value in ckpt["state_dict"].items():
        if key.startswith("encoder."):
            torch.testing.assert_close(state[key.removeprefix("encoder.")], value, rtol=0, atol=0)


def test_pretrain_refuses_a_task_that_does_not_pretrain(
    recipe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    capsys.readouterr()
    assert _vidact("pretrain", str(recipe), "task=classification", "task.kwargs={}", "--out", str(run)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {recipe}: task classification does not pre-train")
    assert "(pre-training tasks: masked_reconstruction" in err and len(err.strip().splitlines()) == 1
    assert not run.exists()
    pretraining = {name for name in list_tasks() if get_task(name).pretrains}
    assert "masked_reconstruction" in pretraining and "classification" not in pretraining
    assert _vidact("pretrain", str(tmp_path / "missing.yaml")) == 2  # the recipe's own errors as in train
