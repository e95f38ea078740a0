"""Every synthetic recipe in configs/ trains its model through the engine, as the README tells users to run it.

The recipes are run as shipped (model, input size, clip length, optimiser) on a tiny synthetic set of the same
resolution; only the amount of work is overridden (one epoch of two steps, batches of two, no workers).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from vidact.data.synth import synthesize
from vidact.engine.checkpoint import load_model
from vidact.engine.config import load_config
from vidact.engine.train import train
from vidact.models import model_card

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SYNTHETIC = sorted(CONFIGS.glob("synthetic_*.yaml"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic-temporal")
    # the recipes' own frame size and length (vidact synth ... --size 64 --frames 16), two classes
    synthesize(root, "temporal", videos_per_class={"train": 2, "val": 1}, size=64, frames=16, pairs=["lid"],
               workers=0, progress=False, overwrite=True)
    return root


def test_every_model_family_has_a_synthetic_recipe() -> None:
    families = {model_card(load_config(path).model.name).family for path in SYNTHETIC}
    assert {"simple3d", "per_frame", "c3d", "resnet3d", "i3d", "slowfast"} <= families


@pytest.mark.parametrize("recipe", SYNTHETIC, ids=lambda p: p.stem)
def test_recipe_trains(recipe: Path, videos: Path, tmp_path: Path) -> None:
    cfg = load_config(recipe, [
        f"data.root={videos}",
        "data.batch_size=2",
        "data.num_workers=0",
        "train.epochs=1",
        "train.warmup_epochs=0",
        "train.checkpoint_every_steps=0",
    ])
    result = train(cfg, tmp_path / "run", progress=False)

    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2]  # 4 training videos, batches of 2
    assert math.isfinite(float(rows[0]["train_loss"])) and float(rows[0]["train_loss"]) > 0
    model, info = load_model(result.run_dir)
    assert info.model_name == cfg.model.name and sorted(info.classes) == ["closing_lid", "opening_lid"]
    # the trained model answers a clip of the recipe's shape with finite logits for the 2 classes
    clip = torch.randn(1, 3, cfg.data.clip_len, cfg.data.crop_size, cfg.data.crop_size)
    with torch.no_grad():
        logits = model.eval()(clip)
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()
