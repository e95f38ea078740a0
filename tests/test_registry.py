"""One registration mechanism: the :class:`~vidact._registry.Registry` type (register by call or decorator, lookups
with close matches, plugins loaded before the first read), and each of vidact's registries filled by the files of
its extensions — models and cards, tasks, extraction kinds, dataset layouts, weights converters and readers,
label lists — with the lookups that read them (``build_dataset``, ``get_converter``, ``model.pretrained_layout``,
``label_names``) following what is registered. Registrations made here are undone after each test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import vidact._registry as registry_module
from vidact._registry import Registry
from vidact.data import datasets
from vidact.data.datasets import (
    DATASET_KINDS,
    DatasetLayout,
    SampleList,
    build_dataset,
    register_dataset_layout,
)
from vidact.data.datasets import layouts as dataset_layouts
from vidact.data.sampling import ClipSampler
from vidact.engine.config import load_config
from vidact.engine.tasks import get_task, list_tasks
from vidact.engine.tasks import registry as task_registry
from vidact.errors import ConfigError
from vidact.extract import base as extract_base
from vidact.extract import build_extractor, list_extractors
from vidact.io.writer import write_video
from vidact.models import converters, get_builder, list_models, model_card, register_model
from vidact.models import labels as label_module
from vidact.models import registry as model_registry
from vidact.models.converters import (
    WEIGHT_LAYOUTS,
    converter_layouts,
    get_converter,
    read_layout,
    register_converter,
)
from vidact.models.labels import LABEL_LISTS, label_names, register_label_list


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch):
    """Registrations made by the test are forgotten when it ends (every registry gets a copy of its entries)."""

    def isolate(*registries: Registry) -> None:
        for r in registries:
            monkeypatch.setattr(r, "_entries", dict(r._entries))

    return isolate


# -- the type -------------------------------------------------------------------------------------------------------
def test_register_by_call_or_decorator_and_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "load_plugins", lambda: None)
    colours: Registry[int] = Registry("colour")
    assert colours.register("red", 1) == 1

    @colours.register("green")
    def green() -> int:
        return 2

    assert colours.get("green") is green and colours.get("red") == 1
    assert colours.names() == ["green", "red"] == list(colours)
    assert colours.items() == [("green", green), ("red", 1)]
    assert "red" in colours and "blue" not in colours and len(colours) == 2
    colours.register("red", 1)  # the same object again (a module imported twice): nothing happens
    with pytest.raises(ValueError, match="colour 'red' is already registered"):
        colours.register("red", 3)
    with pytest.raises(ValueError, match="non-empty string"):
        colours.register("", 3)
    view = colours.view(lambda value: f"#{value}")
    colours.register("blue", 3)  # the view follows later registrations
    assert view["blue"] == "#3" and view["red"] == "#1" and list(view) == ["blue", "green", "red"]
    with pytest.raises(KeyError):
        view["purple"]


def test_an_unknown_name_is_one_line_with_the_closest_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "load_plugins", lambda: None)
    kinds: Registry[int] = Registry("extraction kind")
    for i, name in enumerate(["features", "pose", "flow_tvl1"]):
        kinds.register(name, i)
    with pytest.raises(ConfigError) as e:
        kinds.get("featres")
    assert (
        str(e.value)
        == "unknown extraction kind 'featres'; did you mean features? known: features, flow_tvl1, pose"
    )
    assert kinds.close_matches("flow") == ["flow_tvl1"]  # a part of the name is enough
    with pytest.raises(
        ConfigError, match="^unknown extraction kind 'zzz'; known: features, flow_tvl1, pose$"
    ):
        kinds.get("zzz")


def test_plugins_are_loaded_before_the_first_read_not_by_registering(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(registry_module, "load_plugins", lambda: calls.append(1))
    things: Registry[int] = Registry("thing")
    things.register("a", 1)
    assert calls == []
    for read in (
        lambda: things.get("a"),
        things.names,
        lambda: "a" in things,
        lambda: list(things),
        things.items,
    ):
        calls.clear()
        read()
        assert calls, read  # (load_plugins imports once per process; later calls return at once)
    calls.clear()
    Registry("private", plugins=False).names()
    assert calls == []


# -- models ---------------------------------------------------------------------------------------------------------
def test_a_model_registers_with_its_card_from_any_module(isolated) -> None:
    isolated(model_registry._BUILDERS, model_registry._CARDS)
    card = model_registry.ModelCard(
        name="tiny_test_net", family="tiny", input_size=(3, 2, 8, 8), frames=2, frame_stride=1
    )

    @register_model(card=card)
    def tiny_test_net(*, num_classes: int = 3) -> torch.nn.Module:
        return torch.nn.Linear(4, num_classes)

    assert "tiny_test_net" in list_models("tiny_*") and model_card("tiny_test_net") is card
    assert get_builder("tiny_test_net") is tiny_test_net
    with pytest.raises(ValueError, match="model 'tiny_test_net' is already registered"):
        register_model(card=card)(lambda **kw: None)
    with pytest.raises(ConfigError, match=r"unknown model 'tiny_test'; did you mean tiny_test_net\?"):
        get_builder("tiny_test")
    with pytest.raises(ConfigError, match=r"unknown model 'r2plus1d'; did you mean r2plus1d_18"):
        get_builder("r2plus1d")  # a prefix names its models


def test_the_models_registry_imports_neither_the_families_nor_the_hub() -> None:
    """models/registry.py sits below the families (which import it to register) and the hub (which reads it)."""
    import grimp

    graph = grimp.build_graph("vidact", cache_dir=None)
    imported = graph.find_modules_directly_imported_by("vidact.models.registry")
    assert not {m for m in imported if m.startswith("vidact.models.")}, imported
    families = {
        "resnet3d",
        "slowfast",
        "i3d",
        "per_frame",
        "stgcn",
        "efficientgcn",
        "tf_checkpoint",
        "caffe2",
    }
    imported = graph.find_modules_directly_imported_by("vidact.models.converters")
    assert not {m for m in imported if m.rsplit(".", 1)[-1] in families}, imported


# -- weights converters and readers ---------------------------------------------------------------------------------
def test_each_family_registers_its_own_converters() -> None:
    from vidact.models import (
        actionformer,
        efficientgcn,
        i3d,
        per_frame,
        resnet3d,
        slowfast,
        stgcn,
        timesformer,
        videomae,
        vivit,
    )

    assert get_converter("resnet3d", "torchvision") is resnet3d.convert_torchvision_state_dict
    assert get_converter("resnet3d", "pytorchvideo") is resnet3d.convert_pytorchvideo_state_dict
    assert get_converter("slowfast", "pytorchvideo") is slowfast.convert_pytorchvideo_state_dict
    assert get_converter("slowfast", "pyslowfast") is slowfast.convert_pyslowfast_state_dict
    assert get_converter("slowfast", "pyslowfast-caffe2") is slowfast.convert_caffe2_state_dict
    assert get_converter("i3d", "kinetics-i3d-tf") is i3d.convert_kinetics_i3d_tf_variables
    assert (
        get_converter("per_frame", "efficientnet_pytorch")
        is per_frame.convert_efficientnet_pytorch_to_per_frame
    )
    assert get_converter("stgcn", "pyskl") is stgcn.convert_pyskl_state_dict
    assert get_converter("efficientgcn", "efficientgcn") is efficientgcn.convert_upstream_state_dict
    assert get_converter("simple3d", "vidact") is None
    assert get_converter("vivit", "hf") is vivit.convert_hf_state_dict
    assert get_converter("timesformer", "hf") is timesformer.convert_hf_state_dict
    assert get_converter("videomae", "hf") is videomae.convert_hf_state_dict
    assert get_converter("actionformer", "actionformer_release") is actionformer.convert_release_state_dict
    assert list(WEIGHT_LAYOUTS) == [
        "vidact", "actionformer_release", "efficientgcn", "efficientnet_pytorch", "hf", "kinetics-i3d-tf", "pyskl",
        "pyslowfast", "pyslowfast-caffe2", "pytorchvideo", "torchvision",
    ]  # fmt: skip
    assert not converters.is_pytorch_layout("kinetics-i3d-tf") and not converters.is_pytorch_layout(
        "pyslowfast-caffe2"
    )
    assert converters.is_pytorch_layout("torchvision")
    with pytest.raises(
        ConfigError,
        match="no converter for pyskl weights of resnet3d models; choose from "
        "pytorchvideo, torchvision, vidact",
    ):
        get_converter("resnet3d", "pyskl")
    with pytest.raises(
        ConfigError, match="unknown weights layout 'torchvison' \\(did you mean 'torchvision'\\?\\)"
    ):
        get_converter("resnet3d", "torchvison")


def test_a_new_layout_is_one_registration_everywhere(isolated, tmp_path: Path) -> None:
    """A converter and a reader registered from outside: the layout becomes known to WEIGHT_LAYOUTS, to the
    recipe's model.pretrained_layout and to read_layout, with nothing else edited."""
    isolated(converters._CONVERTERS, converters._READERS)
    with pytest.raises(
        ConfigError,
        match="model.pretrained_layout: unknown weights layout 'toy-format'; choose from vidact, ",
    ):
        load_config(None, ["model.pretrained_layout=toy-format"])

    def double(state: dict) -> dict:
        return {k: 2 * v for k, v in state.items()}

    register_converter("simple3d", "toy-format", double)
    converters.register_reader(
        "toy-format", lambda paths: {"w": torch.tensor([float(Path(paths[0]).stat().st_size)])}
    )
    assert "toy-format" in WEIGHT_LAYOUTS and converter_layouts("simple3d") == ["toy-format"]
    assert load_config(None, ["model.pretrained_layout=toy-format"]).model.pretrained_layout == "toy-format"
    assert get_converter("simple3d", "toy-format") is double
    (tmp_path / "w.toy").write_bytes(b"12345")
    assert read_layout("toy-format", [tmp_path / "w.toy"])["w"].item() == 5.0
    with pytest.raises(ValueError, match="already registered"):
        register_converter("simple3d", "toy-format", lambda s: s)
    with pytest.raises(ValueError, match="cannot register a converter"):
        register_converter("simple3d", "vidact", double)


# -- tasks, extraction kinds ----------------------------------------------------------------------------------------
def test_tasks_and_extraction_kinds_register_from_their_files(isolated) -> None:
    from vidact.engine.tasks.classification import Classification

    assert {"classification", "masked_reconstruction", "skeleton"} <= set(list_tasks())
    assert get_task("classification") is Classification
    isolated(task_registry._TASKS, extract_base._REGISTRY)

    class Other(Classification):
        name = "classification"

    with pytest.raises(ValueError, match="task 'classification' is already registered"):
        task_registry.register_task(Other)
    assert {"features", "pose"} <= set(list_extractors())
    with pytest.raises(ConfigError, match="unknown extraction kind 'featurs'; did you mean features\\?"):
        build_extractor("featurs")

    @extract_base.register_extractor("toy_kind")
    def toy(scale: int = 1) -> object:
        return ("toy", scale)

    assert build_extractor("toy_kind", scale=3) == ("toy", 3) and "toy_kind" in list_extractors()
    with pytest.raises(ConfigError, match="extraction kind 'toy_kind' does not take size"):
        build_extractor("toy_kind", size=3)


# -- dataset layouts ------------------------------------------------------------------------------------------------
def test_a_dataset_layout_registers_and_build_dataset_reads_it(isolated, tmp_path: Path) -> None:
    assert set(DATASET_KINDS) == {"folder", "ucf101", "hmdb51", "kinetics", "ssv2", "list"}
    assert "annotations: the CSV" in DATASET_KINDS["kinetics"]
    isolated(dataset_layouts._LAYOUTS)
    video = tmp_path / "a.mp4"
    write_video(video, np.zeros((4, 16, 16, 3), dtype=np.uint8), 8.0)
    seen = []

    def read(root, split, *, annotations, classes, fold) -> SampleList:  # noqa: ANN001
        seen.append((split, annotations, classes, fold))
        return SampleList(samples=[(str(video), 0)], classes=["only"], missing=[])

    register_dataset_layout(DatasetLayout("toy", "split: anything; annotations: ignored", read))
    assert DATASET_KINDS["toy"] == "split: anything; annotations: ignored"  # the view follows the registry
    ds = build_dataset("toy", tmp_path, "s", sampler=ClipSampler.random(2), annotations="x", fold=2)
    assert seen == [("s", "x", None, 2)] and ds.classes == ["only"] and len(ds) == 1
    with pytest.raises(
        ConfigError, match="unknown dataset kind 'imagenet'; choose from folder, hmdb51, kinetics"
    ):
        datasets.build_dataset("imagenet", tmp_path, sampler=ClipSampler.random(2))
    with pytest.raises(ConfigError, match="dataset kind 'ssv2' does not use split= \\(split: None;"):
        build_dataset("ssv2", tmp_path, "train", sampler=ClipSampler.random(2), annotations="x.json")
    with pytest.raises(ConfigError, match="dataset kind 'kinetics' needs annotations="):
        build_dataset("kinetics", tmp_path, sampler=ClipSampler.random(2))


# -- label lists ----------------------------------------------------------------------------------------------------
def test_label_lists_are_registered_and_plugins_add_theirs(isolated) -> None:
    assert {"kinetics400", "kinetics600", "imagenet1k", "hagrid40", "ntu60", "ntu120"} <= set(LABEL_LISTS)
    assert len(label_names("kinetics400", 400)) == 400 and label_names("ntu60")[0] == "drink water"
    isolated(label_module._LISTS)
    register_label_list("toy3", ["a", "b", "c"])
    register_label_list("lazy2", lambda: ("x", "y"))
    assert label_names("toy3", 3) == ["a", "b", "c"] and label_names("lazy2") == ["x", "y"]
    with pytest.raises(ConfigError, match="label list 'toy3' has 3 names, the weights 4 classes"):
        label_names("toy3", 4)
    with pytest.raises(ConfigError, match="unknown label list 'kinetics40'; did you mean kinetics400"):
        label_names("kinetics40")
