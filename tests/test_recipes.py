"""Every synthetic recipe in configs/ trains its model through the engine, as the README tells users to run it.

The recipes are run as shipped (model, input size, clip length, optimiser) on a tiny synthetic set of the same
resolution; only the amount of work is overridden (one epoch of two steps, batches of two, no workers). The
skeleton recipes (``task: skeleton``) train on a tiny synthetic skeleton set the same way, and their whole runs
(``slow``) must reach what their headers say they measured.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shlex
from pathlib import Path

import pytest
import torch

from vidact.cli import main
from vidact.data.synth import synthesize
from vidact.data.synth.skeleton import synthesize_skeletons
from vidact.engine.config import Config, load_config
from vidact.engine.load import load_model
from vidact.engine.tasks import get_task
from vidact.engine.train import train
from vidact.models import list_models, model_card

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SYNTHETIC = sorted(CONFIGS.glob("synthetic_*.yaml"))
if not SYNTHETIC:
    raise FileNotFoundError(f"no synthetic_*.yaml recipes in {CONFIGS}: the recipe tests would vanish unseen")
#: Recipes of skeleton models (``task: skeleton``), on the synthetic skeleton set; the others are video recipes.
SKELETON = [path for path in SYNTHETIC if load_config(path).task.name == "skeleton"]
#: Recipes of two-stream and flow models (``task: two_stream``), on flow folders extracted from the tour's videos.
TWO_STREAM = [path for path in SYNTHETIC if load_config(path).task.name == "two_stream"]
#: Recipes of pre-training tasks (``vidact pretrain``): no classifier; their runs seed the recipes in FINETUNE.
PRETRAIN = [path for path in SYNTHETIC if get_task(load_config(path).task.name).pretrains]
#: Recipes that fine-tune a pre-training recipe's run (``model.pretrained: runs/<its name>``) -> that name.
FINETUNE = {
    path: Path(str(load_config(path).model.pretrained)).name
    for path in SYNTHETIC
    if str(load_config(path).model.pretrained).startswith("runs/")
}
#: Recipes of temporal action detectors (``task: detection``), on feature folders of untrimmed videos.
DETECTION = [path for path in SYNTHETIC if load_config(path).task.name == "detection"]
VIDEO = [
    path
    for path in SYNTHETIC
    if path not in SKELETON + TWO_STREAM + PRETRAIN + DETECTION and path not in FINETUNE
]
if not SKELETON or not VIDEO:
    raise FileNotFoundError(
        f"{CONFIGS}: no video or no skeleton synthetic recipe: their tests would vanish unseen"
    )
#: Recipes whose headers state no test top-1: the pre-training recipe, whose result is a reconstruction error (its
#: header gives it); every other synthetic recipe states the test top-1 it reached.
NOT_YET_MEASURED: set[str] = {"synthetic_videomae_pretrain"}


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic-temporal")
    # the recipes' own frame size and length (vidact synth ... --size 32 --frames 16), two classes
    synthesize(
        root,
        "temporal",
        videos_per_class={"train": 2, "val": 1},
        size=32,
        frames=16,
        pairs=["lid"],
        workers=0,
        progress=False,
        overwrite=True,
    )
    return root


def test_every_synthetic_recipe_says_what_data_it_needs_and_what_it_reaches() -> None:
    """Each recipe's header gives the `vidact synth` command of its data (the README tour's, so one data set
    serves every recipe) and what it measured on it; a recipe whose data or promise is unstated cannot be checked."""
    readme = (CONFIGS.parent / "README.md").read_text()
    tour_synth = re.search(r"^(vidact synth data/synthetic-temporal .*?)$", readme.replace("\\\n", " "), re.M)
    assert tour_synth, "the README's tour has no `vidact synth data/synthetic-temporal` line"
    expected = " ".join(tour_synth.group(1).split("  #")[0].split())
    for path in VIDEO + TWO_STREAM + PRETRAIN + list(FINETUNE):
        header = "".join(
            line[1:] for line in path.read_text().splitlines(keepends=True) if line.startswith("#")
        )
        commands = " ".join(header.replace("\\\n", " ").split())
        assert expected in commands, f"{path.name}: its data is not the tour's ({expected})"
        measured = re.search(r"Measured on 2 CPU cores.*?\d+(\.\d+)? % test top-1", commands) is not None
        # A recipe is either measured or on the list of those still to measure, never silently neither; and one
        # that gets measured must leave the list.
        assert measured != (path.stem in NOT_YET_MEASURED), (
            f"{path.name}: states what it reaches: {measured}; listed in NOT_YET_MEASURED: {path.stem in NOT_YET_MEASURED}"
        )
        cfg = load_config(path)
        assert (cfg.data.short_side, cfg.data.crop_size) == (32, 32), (
            f"{path.name}: not the 32x32 synthetic frames"
        )


#: Families without a synthetic recipe, and why (README, "What each recipe learns").
NO_RECIPE = {
    "c3d": "from scratch on the tour's data it stays at chance in every setting tried",
    "efficientgcn": "B0, the smallest, takes four times synthetic_stgcn.yaml's time per step (3 times its MACs, "
    "in depthwise convolutions): no run of a few minutes on 2 CPU cores; tests/test_skeleton_training.py trains "
    "it through the skeleton task",
    "raft": "an optical-flow network, not a classifier: torchvision's weights, no training recipe",
}


def test_every_model_family_has_a_synthetic_recipe() -> None:
    families = {model_card(load_config(path).model.name).family for path in SYNTHETIC}
    every: set[str] = set()
    for name in list_models():
        try:
            every.add(model_card(name).family)
        except KeyError:  # a model another test registered without a card
            continue
    every -= set(NO_RECIPE)
    assert every <= families, f"families without a synthetic recipe: {sorted(every - families)}"
    assert not families & set(NO_RECIPE)


def _two_steps(
    recipe: Path, root: Path, run_dir: Path, *overrides: str, classifier: bool = True
) -> tuple[Config, torch.nn.Module | None, list[str]]:
    """Train ``recipe`` on the 4 training samples of ``root`` for one epoch of 2 steps; its config, model and
    classes (no model and no classes for a run that is not a classifier)."""
    cfg = load_config(
        recipe,
        [
            f"data.root={root}",
            "data.batch_size=2",
            "data.num_workers=0",
            "train.epochs=1",
            "train.warmup_epochs=0",
            "train.checkpoint_every_steps=0",
            *overrides,
        ],
    )
    result = train(cfg, run_dir, progress=False)
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2]  # 4 training samples, batches of 2
    assert math.isfinite(float(rows[0]["train_loss"])) and float(rows[0]["train_loss"]) > 0
    if not classifier:
        return cfg, None, []
    info = load_model(result.run_dir)
    model = info.module
    assert info.name == cfg.model.name
    return cfg, model, sorted(info.classes)


@pytest.mark.parametrize("recipe", VIDEO, ids=lambda p: p.stem)
def test_recipe_trains(recipe: Path, videos: Path, tmp_path: Path) -> None:
    cfg, model, classes = _two_steps(recipe, videos, tmp_path / "run")
    assert classes == ["closing_lid", "opening_lid"]
    # the trained model answers a clip of the recipe's shape with finite logits for the 2 classes
    clip = torch.randn(1, 3, cfg.data.clip_len, cfg.data.crop_size, cfg.data.crop_size)
    with torch.no_grad():
        logits = model.eval()(clip)
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()


@pytest.mark.parametrize("recipe", PRETRAIN, ids=lambda p: p.stem)
def test_pretraining_recipe_seeds_its_fine_tuning_recipes(recipe: Path, videos: Path, tmp_path: Path) -> None:
    """A pre-training recipe trains, and each recipe that fine-tunes its run trains from the two-step run."""
    _two_steps(recipe, videos, tmp_path / recipe.stem, classifier=False)
    tuned = [path for path, name in FINETUNE.items() if name == recipe.stem]
    assert tuned, f"{recipe.name}: no recipe fine-tunes its run"
    for path in tuned:
        with pytest.warns(UserWarning, match="loading its encoder only"):
            cfg, model, classes = _two_steps(
                path, videos, tmp_path / path.stem, f"model.pretrained={tmp_path / recipe.stem}"
            )
        assert classes == ["closing_lid", "opening_lid"] and model is not None
        clip = torch.randn(1, 3, cfg.data.clip_len, cfg.data.crop_size, cfg.data.crop_size)
        with torch.no_grad():
            logits = model.eval()(clip)
        assert logits.shape == (1, 2) and torch.isfinite(logits).all()


@pytest.fixture(scope="module")
def flow_folders(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny video set's flow (and RGB frames), as the two-stream recipes' headers make it."""
    from vidact.extract import build_extractor, extract

    out = tmp_path_factory.mktemp("synthetic-temporal-flow")
    report = extract(build_extractor("flow", rgb=True), videos, out, progress=False)
    assert report.ok and report.done == 6
    return out


@pytest.mark.parametrize("recipe", TWO_STREAM, ids=lambda p: p.stem)
def test_two_stream_recipe_trains(recipe: Path, flow_folders: Path, tmp_path: Path) -> None:
    cfg, model, classes = _two_steps(recipe, flow_folders, tmp_path / "run")
    assert classes == ["closing_lid", "opening_lid"]
    spec = load_model(tmp_path / "run").spec
    flow_spec = spec.flow if spec.modality == "rgb+flow" else spec
    flow = torch.randn(1, 2, flow_spec.segments * flow_spec.length, cfg.data.crop_size, cfg.data.crop_size)
    clip = torch.randn(1, 3, flow_spec.segments, cfg.data.crop_size, cfg.data.crop_size)
    with torch.no_grad():
        logits = model.eval()({"video": clip, "flow": flow} if spec.modality == "rgb+flow" else flow)
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()


# -- skeleton recipes ------------------------------------------------------------------------------------------
def _header(path: Path) -> str:
    """A recipe's leading comment, continuation lines joined, whitespace collapsed."""
    text = "".join(line[1:] for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
    return " ".join(text.replace("\\\n", " ").split())


def _skeleton_commands(path: Path) -> tuple[list[str], list[str], list[str]]:
    """The header's ``vidact synth``, ``vidact train`` and ``vidact eval`` commands (arguments after ``vidact``)."""
    lines = [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]
    found = {}
    for line in lines:
        words = shlex.split(line) if line.startswith("vidact ") else []
        if len(words) > 1 and words[1] in ("synth", "train", "eval"):
            found.setdefault(words[1], words[1:])
    assert sorted(found) == ["eval", "synth", "train"], (
        f"{path.name}: the header lacks a synth, train or eval line"
    )
    return found["synth"], found["train"], found["eval"]


def _measured_top1(path: Path) -> float | None:
    """The test top-1 a skeleton recipe's header says it measured, or None."""
    match = re.search(r"Measured on .*?(\d+(?:\.\d+)?) % test top-1", _header(path))
    return None if match is None else float(match.group(1)) / 100


def test_every_skeleton_recipe_says_what_data_it_needs_and_what_it_reaches() -> None:
    """One data set serves every skeleton recipe (the same `vidact synth --kind skeleton` line, the README's when
    it shows one); each header trains and evaluates its own recipe and states what it measured."""
    synth_lines = {" ".join(_skeleton_commands(path)[0]) for path in SKELETON}
    assert len(synth_lines) == 1, f"the skeleton recipes name different data sets: {synth_lines}"
    (synth_line,) = synth_lines
    assert "--kind skeleton" in synth_line
    readme = (CONFIGS.parent / "README.md").read_text().replace("\\\n", " ")
    shown = re.search(r"vidact synth data/synthetic-skeleton [^\n#`]*", readme)
    if shown:
        assert " ".join(shown.group(0).split()) == f"vidact {synth_line}"
    for path in SKELETON:
        _, train_cmd, eval_cmd = _skeleton_commands(path)
        assert f"configs/{path.name}" in train_cmd and train_cmd[train_cmd.index("--out") + 1] == eval_cmd[1]
        measured = _measured_top1(path) is not None
        assert measured != (path.stem in NOT_YET_MEASURED), (
            f"{path.name}: states what it reaches: {measured}; listed in NOT_YET_MEASURED: {path.stem in NOT_YET_MEASURED}"
        )


@pytest.fixture(scope="module")
def skeletons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic-skeleton")
    # the recipes' own layout and coordinates (vidact synth --kind skeleton: NTU-25, 3D), two classes
    synthesize_skeletons(
        root,
        samples_per_class={"train": 2, "val": 1},
        classes=("sit_down", "stand_up"),
        progress=False,
        overwrite=True,
    )
    return root


@pytest.mark.parametrize("recipe", SKELETON, ids=lambda p: p.stem)
def test_skeleton_recipe_trains(recipe: Path, skeletons: Path, tmp_path: Path) -> None:
    cfg, model, classes = _two_steps(recipe, skeletons, tmp_path / "run")
    assert classes == ["sit_down", "stand_up"]
    # the trained model answers joints of the recipe's shape [N, M, T, V, C] with finite logits for the 2 classes
    preset = json.loads((tmp_path / "run" / "metrics.json").read_text())["preset"]
    assert preset["frames"] == cfg.data.clip_len
    joints = torch.randn(1, preset["persons"], preset["frames"], 25, preset["channels"])
    with torch.no_grad():
        logits = model.eval()(joints)
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()


#: Accuracy points a whole run may fall short of its header's number by (another CPU's arithmetic).
MARGIN = 0.05


@pytest.mark.slow
def test_skeleton_recipes_reach_what_their_headers_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The headers' commands, run as written (a few minutes each on 2 CPU cores), reach the test top-1 they state."""
    (tmp_path / "configs").symlink_to(CONFIGS)
    monkeypatch.chdir(tmp_path)
    measured = [path for path in SKELETON if _measured_top1(path) is not None]
    synth = _skeleton_commands(SKELETON[0])[0]  # one data set for all (checked above)
    for path in measured:
        _, train_cmd, eval_cmd = _skeleton_commands(path)
        for argv in ([synth] if path == measured[0] else []) + [
            train_cmd,
            [*eval_cmd, "--json", f"{path.stem}.json"],
        ]:
            try:
                main(argv)
            except SystemExit as e:  # typer ends a successful command with SystemExit(0)
                assert e.code in (0, None), f"vidact {' '.join(argv)} exited with {e.code}"
        top1 = json.loads((tmp_path / f"{path.stem}.json").read_text())["metrics"]["top1"]
        promised = _measured_top1(path)
        assert top1 >= promised - MARGIN, (
            f"{path.name} reached {top1:.3f} test top-1, its header says {promised}"
        )


# -- detection recipes ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def untrimmed_features(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A feature folder as `vidact extract features` writes it (the recipes' 128-wide features, a step every
    0.5 s) with an action signal on the annotated steps, and its ground truth in ActivityNet's layout: 4 training
    and 2 validation videos of 20 s."""
    import numpy as np

    from vidact.detect.annotations import GroundTruth, VideoAnnotation, write_ground_truth

    root = tmp_path_factory.mktemp("untrimmed")
    features = root / "features"
    features.mkdir()
    rng = np.random.default_rng(0)
    videos = {}
    for i in range(6):
        name = f"video_{i}"
        starts = np.arange(0.0, 18.0, 0.5)
        windows = np.stack([starts, starts + 2.0], axis=1)
        sequence = rng.normal(size=(len(starts), 128)).astype(np.float32)
        segments = np.array([[2.0 + i % 3, 6.0 + i % 3], [11.0, 14.5]])
        labels = ["raising_hand" if i % 2 else "lowering_hand", "opening_lid"]
        for (start, end), label in zip(segments, labels, strict=True):
            centre = windows.mean(axis=1)
            sequence[
                (centre >= start) & (centre <= end), : 1 + ["raising_hand", "lowering_hand"].count(label)
            ] += 3.0
        np.save(features / f"{name}.features.npy", sequence)
        np.save(features / f"{name}.timestamps.npy", windows)
        videos[name] = VideoAnnotation(
            video=name,
            duration=20.0,
            fps=8.0,
            subset="training" if i < 4 else "validation",
            segments=segments,
            labels=labels,
        )
    gt = GroundTruth(videos=videos, classes=["lowering_hand", "opening_lid", "raising_hand"])
    write_ground_truth(root / "annotations.json", gt)
    return features, root / "annotations.json"


def test_detection_recipes_are_listed() -> None:
    assert DETECTION, f"{CONFIGS}: no detection recipe (task: detection): its test would vanish unseen"


@pytest.mark.parametrize("recipe", DETECTION, ids=lambda p: p.stem)
def test_detection_recipe_trains(recipe: Path, untrimmed_features: tuple[Path, Path], tmp_path: Path) -> None:
    """A detection recipe trains on a feature folder with its ground truth, and its run loads as a detector
    that finds segments in seconds on a validation video."""
    from vidact.detect.features import open_features
    from vidact.detect.inference import detect_features
    from vidact.engine.load import load_run

    features, annotations = untrimmed_features
    _two_steps(recipe, features, tmp_path / "run", f"data.annotations={annotations}", classifier=False)
    loaded = load_run(tmp_path / "run", classifier=False)
    assert loaded.task == "detection" and loaded.spec.modality == "features" and loaded.spec.dim == 128
    assert loaded.classes == ["lowering_hand", "opening_lid", "raising_hand"]
    source = open_features(features)
    length, grid = source.info("video_4")
    with torch.no_grad():
        found = detect_features(
            loaded.module.eval(), source.read("video_4").T, grid, loaded.classes, duration=20.0
        )
    assert found and all(0.0 <= d.start < d.end <= 20.0 and d.label in loaded.classes for d in found)
