"""EfficientGCN against the official code: the B-scaling rule, the graph, the three input branches and the
logits of the published B0 NTU-60 weights, all compared with numbers recorded by running the official code
beside vidact (tests/data/skeleton_reference/efficientgcn_b0_ntu60.json says how); and the published file
loading safely, by name, offline — while a checkpoint carrying a malicious pickle is refused unexecuted."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from vidact.errors import CheckpointError
from vidact.models import build_model, hub
from vidact.models.efficientgcn import (
    NTU25_EFFICIENTGCN,
    EfficientGCN,
    convert_upstream_state_dict,
    distance_partition,
    efficientgcn,
    hop_distances,
    input_branches,
    scaled_stages,
)
from vidact.models.labels import label_names
from vidact.models.profile import count_params
from vidact.models.weights import load_weights, read_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data from the project root, found from this file so the tests see it from any working directory.
DATA = ROOT.parent / "shared" / "data"
WEIGHTS = DATA / "skeleton" / "pretrained" / "efficientgcn_b0_ntu60_xsub.pth.tar"
SAMPLE = DATA / "skeleton" / "ntu60_sample_C3_T300_V25_M2.npy"
REFERENCE = json.loads(
    (ROOT / "tests" / "data" / "skeleton_reference" / "efficientgcn_b0_ntu60.json").read_text()
)
CASES = REFERENCE["cases"]


def _joints(case: str) -> torch.Tensor:
    """The reference's input ``case`` as vidact takes it: [1, M=2, T, V=25, C=3] float32 (metres)."""
    if case == "ntu60_sample":
        sample = np.load(SAMPLE)  # [C, T, V, M], zero-padded to 300 frames
        return torch.from_numpy(sample).permute(3, 1, 2, 0)[None, :, :288]
    m, t, v, c = np.ogrid[:2, :64, :25, :3]  # the formula the reference file states
    x = 0.3 * np.sin(0.07 * (t + 1) * (c + 1) + 0.5 * v + 1.3 * m) + 0.05 * v * (c - 1) + 2.5 * (c == 2)
    return torch.from_numpy((x * (1.0 - 0.6 * m)).astype(np.float32))[None]


@pytest.fixture(scope="module")
def b0() -> EfficientGCN:
    """EfficientGCN-B0 with the published NTU-60 weights, loaded strictly from the official file."""
    model = efficientgcn(0, num_classes=60)
    load_weights(model, WEIGHTS, converter=convert_upstream_state_dict)
    return model.eval()


# --- architecture: the B-scaling rule and the graph -----------------------------------------------------------


@pytest.mark.parametrize("phi", range(5))
def test_scaling_rule_gives_the_official_stages_and_parameter_counts(phi: int) -> None:
    official = REFERENCE["scaling"][f"B{phi}"]
    assert [[s.width, s.stride, s.depth] for s in scaled_stages(phi)] == official["stages"]
    with torch.device("meta"):
        model = efficientgcn(phi, num_classes=60)
    assert count_params(model) == official["trainable_params"]
    assert model.num_features == official["stages"][-1][0]


def test_graph_is_the_official_tree_and_adjacency() -> None:
    hops = hop_distances(NTU25_EFFICIENTGCN)
    assert hops[3, 0] == 4  # head - neck - spine shoulder - spine mid - spine base
    # EfficientGCN's hand: tip - thumb - hand (vidact's ntu25, PYSKL's: tip - hand).
    assert hops[21, 22] == 1 and hops[21, 7] == 2
    assert NTU25_EFFICIENTGCN.center == 1  # spine mid: the joint branch subtracts it

    adjacency = distance_partition(NTU25_EFFICIENTGCN)
    assert adjacency.shape == (3, 25, 25)
    # Column w averages over the joints within 3 hops of w: 12 for the spine base, 6 for the head.
    assert adjacency[0, 0, 0].item() == pytest.approx(1 / 12)
    assert adjacency[0, 3, 3].item() == pytest.approx(1 / 6)
    assert adjacency[1, 1, 0].item() == pytest.approx(1 / 12)  # spine mid, 1 hop from the spine base
    assert adjacency[2, 20, 0].item() == pytest.approx(1 / 12)  # spine shoulder, 2 hops
    # The published file stores this matrix in each of its 11 graph convolutions.
    state = read_checkpoint(WEIGHTS)["model"]
    stored = [v for k, v in state.items() if k.endswith(".conv.A")]
    assert len(stored) == 11
    for a in stored:
        torch.testing.assert_close(a, adjacency, rtol=0, atol=1e-7)


# --- the three input branches -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_input_branches_match_the_official_feeder(case: str) -> None:
    x = _joints(case).double()
    branches = input_branches(x, center=NTU25_EFFICIENTGCN.center, parents=NTU25_EFFICIENTGCN.parents)
    assert branches.shape == (3, 1, 2, 6, x.shape[2], 25) and branches.dtype == torch.float64
    sums = branches.sum(dim=(1, 2, 4, 5)).numpy()  # per branch and channel
    np.testing.assert_allclose(sums, CASES[case]["branch_channel_sums"], rtol=1e-9, atol=2e-6)


def _full(shape: tuple[int, ...], value: float) -> torch.Tensor:
    return torch.full(shape, value, dtype=torch.float64)


def test_input_branches_by_hand() -> None:
    """Joints on a line: every value predicted by hand."""
    x = torch.zeros(1, 1, 4, 25, 3, dtype=torch.float64)
    x[..., 0] = torch.arange(4.0)[:, None] * 0.1 + torch.arange(25.0) * 0.01  # x grows with t and with v
    joint, velocity, bone = input_branches(x, center=1, parents=NTU25_EFFICIENTGCN.parents)[:, 0, 0]
    assert torch.allclose(joint[3, :, 5], _full((4,), 0.04))  # x[5] - x[spine mid] = 0.05 - 0.01
    assert torch.allclose(velocity[0, :2], _full((2, 25), 0.1))  # x[t + 1] - x[t]
    assert torch.allclose(velocity[3, :2], _full((2, 25), 0.2))  # x[t + 2] - x[t]
    assert velocity[:, 2:].abs().sum() == 0  # both velocities are zero on the last two frames
    assert torch.allclose(bone[0, :, 0], _full((4,), -0.01))  # spine base - spine mid
    angle = math.acos(-0.01 / (0.01 + 1e-4))  # along -x: cosine -1 but for the 1e-4 added to the length
    assert torch.allclose(bone[3, :, 0], _full((4,), angle))
    assert torch.allclose(bone[4:, :, 0], _full((2, 4), math.pi / 2))  # no y, z component
    assert torch.allclose(bone[3:, :, 1], _full((3, 4), math.pi / 2))  # the centre's bone is zero


# --- the published weights: logits as the official code's -----------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_logits_match_the_official_code(b0: EfficientGCN, case: str) -> None:
    with torch.no_grad():
        logits = b0(_joints(case))[0].double()
    expected = torch.tensor(CASES[case]["logits"], dtype=torch.float64)
    torch.testing.assert_close(logits, expected, rtol=0, atol=REFERENCE["tolerance"])
    assert logits.topk(5).indices.tolist() == CASES[case]["top5"]


def test_published_weights_by_name_offline_say_what_the_official_code_says() -> None:
    hub.add("efficientgcn_b0.ntu60", [WEIGHTS])  # checked (size, SHA-256), loaded, cached; no network
    loaded = hub.load_published("efficientgcn_b0.ntu60")
    model, classes = loaded.module, loaded.classes
    assert not model.training and model.num_classes == 60
    assert classes[22] == "hand waving" and classes[30] == "pointing to something with finger"
    assert loaded.spec.frames == 288 and loaded.spec.pad_to == 300 and loaded.spec.persons == 2
    with torch.no_grad():
        probs = model(_joints("ntu60_sample")).softmax(-1)[0]
    top5 = probs.topk(5)
    ranked = [(classes[i], round(probs[i].item(), 4)) for i in top5.indices.tolist()]
    print("NTU-60 sample, top-5:", ranked)
    assert top5.indices.tolist() == CASES["ntu60_sample"]["top5"]
    assert classes[int(top5.indices[0])] == "drop"  # what the official code says of this sequence


@pytest.mark.parametrize("name", ["ntu60", "ntu120"])
def test_ntu_label_lists_are_the_official_ones(name: str) -> None:
    official = (DATA / "label_maps" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    assert label_names(name) == official
    names = label_names(name)
    assert names[0] == "drink water" and names[22] == "hand waving"  # A001, A023
    assert names[30] == "pointing to something with finger" and names[59] == "walking apart from each other"


def test_the_official_file_loads_as_a_file_too() -> None:
    model = build_model("efficientgcn_b0", weights=WEIGHTS)  # the layout found by trying: "efficientgcn"
    assert model.num_classes == 60 and not model.training
    with pytest.raises(CheckpointError, match="not a key of the official EfficientGCN: 'extra.weight'"):
        convert_upstream_state_dict({"extra.weight": torch.zeros(1)})


# --- safety: a checkpoint with a malicious pickle ---------------------------------------------------------


class _Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_a_checkpoint_with_a_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "payload_ran"
    path = tmp_path / "evil.pth.tar"
    state = {k: v.clone() for k, v in read_checkpoint(WEIGHTS)["model"].items()}
    torch.save({"model": state, "best_state": {"cm": np.eye(3)}, "hook": _Payload(marker)}, path)

    for load in (
        lambda: read_checkpoint(path),
        lambda: build_model("efficientgcn_b0", weights=path),
        lambda: load_weights(efficientgcn(0), path, converter=convert_upstream_state_dict),
    ):
        with pytest.raises(CheckpointError) as error:
            load()
        assert str(path) in str(error.value) and "\n" not in str(error.value)
        assert not marker.exists()

    # The payload is live: what an unrestricted unpickler would call runs it (weights-only loading never calls it).
    function, arguments = _Payload(marker).__reduce__()
    function(*arguments)
    assert marker.exists()


def test_numpy_object_arrays_are_refused(tmp_path: Path) -> None:
    """Numeric numpy arrays load (the official file holds some); object arrays, whose elements could be
    anything, do not."""
    path = tmp_path / "objects.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "extra": np.array([1, "a"], dtype=object)}, path)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        read_checkpoint(path)
    numeric = tmp_path / "numeric.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "cm": np.eye(2), "lr": np.float64(0.1)}, numeric)
    loaded = read_checkpoint(numeric)
    assert isinstance(loaded["cm"], np.ndarray) and loaded["lr"] == 0.1
    assert torch.serialization.get_safe_globals().count(np.ndarray) == 0  # allowed for the load only


def test_features_and_input_checks() -> None:
    torch.manual_seed(0)
    model = efficientgcn(0, num_classes=5).eval()
    x = torch.randn(2, 2, 30, 25, 3)
    with torch.no_grad():
        features = model.forward_features(x)
    assert features.shape == (2, 2, 128, 8, 25)  # T' = ceil(30 / 4)
    with pytest.raises(ValueError, match=r"expected joints \[N, M, T, 25, 3\], got \[2, 2, 30, 17, 3\]"):
        model(torch.randn(2, 2, 30, 17, 3))
