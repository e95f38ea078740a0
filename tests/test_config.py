"""Recipes: loading, overrides, one-line errors with suggestions, round trips, and every shipped recipe."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidact.engine.config import RECIPES_DIR, Config, list_recipes, load_config, parse_override, save_config
from vidact.engine.tasks import get_task
from vidact.errors import ConfigError
from vidact.models import build_model

# configs/ of the project, found from this file: a relative glob finds nothing from another working directory and
# the parametrised tests below would vanish without a word.
RECIPES = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
if not RECIPES:
    raise FileNotFoundError("no recipes in configs/: the recipe tests would vanish unseen")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_defaults_and_overrides() -> None:
    cfg = load_config(
        None,
        [
            "train.lr=1e-3",  # YAML 1.1 reads this as text; a number field takes it
            "train.epochs=3",
            "train.weight_decay=0",  # an integer where a number is expected
            "train.precision=32",  # an integer where text is expected
            "data.val_split=null",
            "model.kwargs={widths: [8, 16]}",
            "model.kwargs.dropout=0.1",  # one entry of a mapping
            "train.milestones=[2, 4]",
        ],
    )
    assert cfg.train.lr == 1e-3 and isinstance(cfg.train.lr, float)
    assert cfg.train.epochs == 3
    assert cfg.train.weight_decay == 0.0 and isinstance(cfg.train.weight_decay, float)
    assert cfg.train.precision == "32"
    assert cfg.data.val_split is None
    assert cfg.model.kwargs == {"widths": [8, 16], "dropout": 0.1}
    assert cfg.train.milestones == [2, 4]
    assert load_config(None) == Config()


def test_file_then_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, "data:\n  root: videos\n  clip_len: 8\ntrain:\n  epochs: 5\n  lr: 0.5\neval:\n")
    cfg = load_config(path, ["train.epochs=7"])
    assert (cfg.data.root, cfg.data.clip_len, cfg.train.epochs, cfg.train.lr) == ("videos", 8, 7, 0.5)
    assert cfg.data.stride == Config().data.stride  # untouched keys keep their defaults


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    cfg = load_config(
        None, ["model.kwargs={widths: [4, 8]}", "train.clip_grad_norm=1.5", "data.classes=x.txt"]
    )
    save_config(cfg, tmp_path / "out" / "config.yaml")
    assert load_config(tmp_path / "out" / "config.yaml") == cfg
    assert cfg.to_dict()["model"]["kwargs"] == {"widths": [4, 8]}


@pytest.mark.parametrize(
    "text, message",
    [
        ("train:\n  lrr: 0.1\n", "recipe.yaml: unknown key 'train.lrr' (did you mean 'train.lr'?)"),
        ("data:\n  lr: 0.1\n", "recipe.yaml: unknown key 'data.lr' (did you mean 'train.lr'?)"),
        ("trian:\n  lr: 0.1\n", "recipe.yaml: unknown section 'trian' (did you mean 'train'?)"),
        ("train:\n  epochs: ten\n", "recipe.yaml: train.epochs must be an integer, got 'ten'"),
        ("train:\n  epochs: 2.5\n", "recipe.yaml: train.epochs must be an integer, got 2.5"),
        ("train:\n  deterministic: 1\n", "recipe.yaml: train.deterministic must be true or false, got 1"),
        (
            "train:\n  optimizer: adam\n",
            "recipe.yaml: train.optimizer must be one of 'sgd', 'adamw', got 'adam'",
        ),
        ("train:\n  lr: -1\n", "recipe.yaml: train.lr must be positive, got -1.0"),
        ("model:\n  kwargs: [1]\n", "recipe.yaml: model.kwargs must be a mapping, got [1]"),
        ("train: 3\n", "recipe.yaml: section 'train' must be a mapping of keys, got int"),
        ("- 1\n", "recipe.yaml: expected a mapping of sections (data, model, train, eval, task), got a list"),
        ("train:\n  lr: [0.1\n", "recipe.yaml: not valid YAML at line"),
        (
            "data:\n  short_side: 64\n  crop_size: 96\n",
            "data.crop_size (96) is larger than data.short_side (64)",
        ),
    ],
)
def test_file_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    assert message in str(info.value)
    assert str(tmp_path / "recipe.yaml") in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.lrr=0.1", "override 'train.lrr=0.1': unknown key 'train.lrr' (did you mean 'train.lr'?)"),
        ("lr=0.1", "override 'lr=0.1': unknown key 'lr' (did you mean 'train.lr'?)"),
        ("data.num_worker=2", "unknown key 'data.num_worker' (did you mean 'data.num_workers'?)"),
        ("train.precision=16", "train.precision must be one of 'auto', '32', 'bf16', got 16"),
        ("eval.num_crops=2", "eval.num_crops must be one of 1, 3, got 2"),
        ("train.milestones=[3, 1]", "train.milestones must be increasing epochs >= 1, got [3, 1]"),
        ("train.clip_grad_norm=abc", "train.clip_grad_norm must be a number or null, got 'abc'"),
        ("model.name.x=1", "'model.name' has no entry 'x'"),
        ("train.lr", "override 'train.lr': expected section.key=value"),
        ("train.lr=[0.1", "override 'train.lr=[0.1': the value is not valid YAML"),
    ],
)
def test_override_errors_are_one_line(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: no such recipe file"):
        load_config("nowhere.yaml")


def test_parse_override() -> None:
    assert parse_override("model.kwargs={a: 1, b: [2, 3]}") == ("model.kwargs", {"a": 1, "b": [2, 3]})
    assert parse_override("data.root=/a=b") == ("data.root", "/a=b")  # only the first '=' splits
    assert parse_override("data.annotations=") == ("data.annotations", "")


def test_recipes_are_shipped() -> None:
    names = {p.name for p in RECIPES}
    assert {
        "synthetic_simple3d.yaml",
        "synthetic_per_frame.yaml",
        "ucf101_r2plus1d.yaml",
        "kinetics400_slowfast_r50.yaml",
    } <= names


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_loads_and_builds_its_model(recipe: Path) -> None:
    cfg = load_config(recipe)
    data = cfg.data
    # the input the recipe's task makes (its input spec): clips [B, 3, T, H, W], joints [N, M, T, V, C], flow
    # clips or a two-stream pair's dict of both, feature sequences [B, D, T] of a detector
    shape = get_task(cfg.task.name).input_spec(cfg).input_shape(2)
    device = "cpu" if cfg.task.name == "skeleton" else "meta"  # small models; meta: no memory, shapes only
    with torch.device(device):
        model = build_model(cfg.model.name, num_classes=10, **cfg.model.kwargs)
        x = {k: torch.zeros(v) for k, v in shape.items()} if isinstance(shape, dict) else torch.zeros(shape)
        logits = model(x)
    if isinstance(logits, dict):  # a detector: per-level class logits [B, T_l, K] over the features' steps
        assert logits["cls_logits"][0].shape == (2, shape[-1], 10)
        return
    assert logits.shape == (2, 10)
    assert data.crop_size <= data.short_side


def test_shipped_recipes_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``vidact train synthetic_simple3d`` from any folder: the name finds the recipe installed with vidact, the
    same file as the checkout's configs/; a file of that name in the working directory still comes first."""
    assert {p.resolve() for p in RECIPES} == set(
        RECIPES_DIR.glob("*.yaml")
    )  # configs/ is the package's folder
    monkeypatch.chdir(tmp_path)
    by_name = load_config("synthetic_simple3d", ["train.epochs=3"])
    assert by_name == load_config(RECIPES_DIR / "synthetic_simple3d.yaml", ["train.epochs=3"])
    assert load_config("synthetic_simple3d.yaml") == load_config("synthetic_simple3d")
    (tmp_path / "synthetic_simple3d.yaml").write_text("train:\n  epochs: 99\n")
    assert load_config("synthetic_simple3d.yaml").train.epochs == 99
    with pytest.raises(
        ConfigError, match="synthetic_simple: no such recipe file \\(shipped recipes: .*synthetic_simple3d"
    ):
        load_config("synthetic_simple")


def test_recipe_descriptions_are_their_first_sentence() -> None:
    recipes = list_recipes()
    assert set(recipes) == {p.stem for p in RECIPES}
    assert recipes["synthetic_r2plus1d"] == (
        "R(2+1)D-18 (Tran et al. 2018), torchvision-compatible weights, on the synthetic time-reversal set (the "
        "README tour's data set)."
    )
    assert all(text.endswith(".") and "\n" not in text and "#" not in text for text in recipes.values())


def test_vidact_recipes_lists_every_shipped_recipe(capsys: pytest.CaptureFixture[str]) -> None:
    from vidact.cli import main

    with pytest.raises(SystemExit) as done:  # typer's standalone mode exits, with 0
        main(["recipes"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    for name, description in list_recipes().items():
        (row,) = [line for line in lines if f" {name} " in line]  # one line each, whole in a pipe
        assert description in row
