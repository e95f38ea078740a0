"""ST-GCN and ST-GCN++ (vidact.models.stgcn): PYSKL's published hand-gesture model by name with the logits PYSKL's
own code gives, both networks against PYSKL on formula weights, parameter counts against upstream, the input
streams against PYSKL's JointToBone / ToMotion, and the parts against loop oracles.

The reference numbers (tests/data/skeleton_reference/stgcnpp_hagrid.json) were made by running PYSKL's code beside
vidact (see the file's ``upstream`` and ``made_by``); that code is not part of vidact or its tests.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
import torch

from vidact.data.skeleton import SkeletonPreset, get_layout
from vidact.errors import CheckpointError, ConfigError
from vidact.models import build_model, hub, model_card
from vidact.models.labels import label_names
from vidact.models.profile import count_params
from vidact.models.stgcn import (
    STGCN_BLOCK,
    GraphConv,
    MultiScaleTemporalConv,
    SkeletonStream,
    bones,
    convert_pyskl_state_dict,
    motion,
    stage_plan,
)
from vidact.models.weights import load_weights, read_checkpoint

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
HAGRID_FILE = SHARED / "skeleton" / "pretrained" / "pyskl_stgcnpp_hagrid_hand.pth"
REFERENCE = json.loads((HERE / "data" / "skeleton_reference" / "stgcnpp_hagrid.json").read_text())

# The list of PYSKL's GestureDataset names, in index order.
HAGRID_CLASSES = (
    ["Doing other things", "Drumming Fingers", "No gesture", "Pulling Hand In", "Pulling Two Fingers In"]
    + ["Pushing Hand Away", "Pushing Two Fingers Away", "Rolling Hand Backward", "Rolling Hand Forward"]
    + ["Shaking Hand"]
    + [f"Sliding Two Fingers {d}" for d in ("Down", "Left", "Right", "Up")]
    + ["Stop Sign"]
    + [f"Swiping {d}" for d in ("Down", "Left", "Right", "Up")]
    + ["Dislike", "Like", "Turning Hand Clockwise", "Turning Hand Counterclockwise"]
    + ["Zooming In With Full Hand", "Zooming In With Two Fingers", "Zooming Out With Full Hand"]
    + ["Zooming Out With Two Fingers", "Call", "Fist", "Four", "Mute", "OK", "One", "Palm", "Peace", "Rock"]
    + ["Three-Middle", "Three-Left", "Two Up", "No Gesture"]
)


def formula_input(shape: tuple[int, ...], rate: float = 0.37) -> torch.Tensor:
    """Joints from a formula (no randomness): sin waves in 0.1..0.9, sample ``b`` with phase ``1.3 b``."""
    n = 1
    for size in shape[1:]:
        n *= size
    k = torch.arange(n, dtype=torch.float64)
    rows = [0.5 + 0.4 * torch.sin(rate * k + 1.3 * b) for b in range(shape[0])]
    return torch.stack(rows).reshape(shape).float()


def formula_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state with every float tensor but the adjacency ``A`` made from a formula of its key (no
    RNG): a hash-like u in [0, 1) per element, scaled like a trained network's weights and statistics."""
    out = {}
    for key, t in model.state_dict().items():
        if not t.is_floating_point() or key.endswith(".A"):
            out[key] = t.clone()
            continue
        j = torch.arange(t.numel(), dtype=torch.float64) + zlib.crc32(key.encode()) % 997
        u = torch.frac(torch.sin(12.9898 * j) * 43758.5453).abs().reshape(t.shape)
        c = 2 * u - 1
        if key.endswith("running_var"):
            value = 1 + 0.2 * u
        elif key.endswith(".PA") or (key.endswith("weight") and t.ndim == 1):
            value = 1 + 0.1 * c
        elif key.endswith("weight"):
            value = c * (3 / t[0].numel()) ** 0.5
        else:
            value = 0.05 * c
        out[key] = value.to(t.dtype)
    return out


@pytest.fixture
def hagrid_cached() -> None:
    """The shared copy of PYSKL's file in this test's private weights cache (checked as a download would be)."""
    hub.add("stgcnpp_hand.hagrid", [HAGRID_FILE])


def test_hagrid_model_by_name_matches_pyskl(hagrid_cached: None) -> None:
    loaded = hub.load_published("stgcnpp_hand.hagrid")
    model = loaded.module
    assert not model.training and loaded.classes == HAGRID_CLASSES == label_names("hagrid40")
    assert loaded.spec == SkeletonPreset(
        layout="hand21", frames=10, sampler="uniform", persons=1, coords="image01", channels=2
    )
    ref = REFERENCE["hagrid"]
    x = formula_input((2, 1, 10, 21, 2))
    with torch.no_grad():
        features = model.forward_features(x)
        logits = model.forward_head(features)
        pooled = model.forward_head(features, pre_logits=True)
    assert features.shape == (2, 1, 128, 5, 21)
    torch.testing.assert_close(logits, torch.tensor(ref["logits"]), rtol=0, atol=1e-4)
    torch.testing.assert_close(pooled[:, :8], torch.tensor(ref["pooled_first8"]), rtol=0, atol=1e-4)
    # The file's 24 untrained classes (the dynamic gesture names) score alike, as the card's notes say.
    untrained = [i for i, name in enumerate(HAGRID_CLASSES) if i not in (14, 19, 20) and i < 27]
    assert (logits[:, untrained] - logits[:, untrained[:1]]).abs().max() < 1e-5


def test_pyskl_layout_converts_and_loads_strictly() -> None:
    raw = read_checkpoint(HAGRID_FILE)
    state = convert_pyskl_state_dict(raw)
    assert len(state) == len(raw) == 418
    assert {k.split(".")[0] for k in state} == {"data_bn", "blocks", "fc"}
    assert (
        state["blocks.5.tcn.branches.0.3.conv.weight"] is raw["backbone.gcn.5.tcn.branches.0.3.conv.weight"]
    )
    model = build_model("stgcnpp_hand", num_classes=40)
    load_weights(model, raw, converter=convert_pyskl_state_dict)
    assert torch.equal(model.blocks[0].gcn.A, raw["backbone.gcn.0.gcn.A"])  # the learnt adjacency loads
    assert torch.equal(model.fc.weight, raw["cls_head.fc_cls.weight"])
    partial = {k: v for k, v in raw.items() if not k.endswith("gcn.3.gcn.A")}
    with pytest.raises(CheckpointError, match="1 missing keys .*blocks.3.gcn.A"):
        load_weights(build_model("stgcnpp_hand", num_classes=40), partial, converter=convert_pyskl_state_dict)


@pytest.mark.parametrize("name", ["stgcn", "stgcnpp"])
def test_ntu_networks_match_pyskl_on_formula_weights(name: str) -> None:
    """Formula weights in both, the adjacency left as each side builds it: equal logits need equal graphs
    ('stgcn_spatial' and 'inward_outward' against PYSKL's modes) as well as equal networks."""
    ref = REFERENCE[f"{name}_formula"]
    torch.manual_seed(0)
    model = build_model(name, num_classes=60).eval()
    model.load_state_dict(formula_state(model))
    with torch.no_grad():
        logits = model(formula_input((2, 2, 20, 25, 3)))
    expected = torch.tensor(ref["logits"])
    # PYSKL and vidact agree to 3e-7 of the largest logit; moving one joint by 0.1 moves them by 1e-3 of it.
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5 * expected.abs().max().item())


def test_parameter_counts_equal_upstream() -> None:
    upstream = list(REFERENCE["params"].values())
    counts = {}
    for name in ("stgcn", "stgcnpp", "stgcnpp_hand"):
        with torch.device("meta"):
            counts[name] = count_params(build_model(name))
        assert counts[name] == model_card(name).params
    # PYSKL's STGCN, its ST-GCN++ config, its hand model, and the ST-GCN authors' own network.
    assert upstream == [counts["stgcn"], counts["stgcnpp"], counts["stgcnpp_hand"], counts["stgcn"]]


@pytest.mark.parametrize("layout", ["hand21", "coco17", "ntu25"])
def test_streams_match_pyskl(layout: str) -> None:
    ref = REFERENCE["streams"][layout]
    v = get_layout(layout).num_joints
    channels, scores = (2, False) if layout == "hand21" else (3, layout == "coco17")  # COCO: x, y, score
    joints = formula_input((1, 2, 6, v, channels), rate=0.53)  # [N=1, M, T, V, C]
    assert (tuple(ref["pyskl_bone_parents"]) == get_layout(layout).parents) == ref["layout_parents_equal"]
    for stream in ("bone", "joint_motion", "bone_motion"):
        out = SkeletonStream(stream, ref["pyskl_bone_parents"], scores=scores)(joints)[0].double()
        weights = torch.arange(1, out.numel() + 1, dtype=torch.float64).reshape(out.shape)
        assert float((out * weights).sum()) == pytest.approx(ref[stream], abs=1e-4), stream


def test_bones_and_motion_against_loops() -> None:
    layout = get_layout("hand21")
    x = formula_input((1, 1, 4, 21, 3), rate=0.29)[0, 0]  # [T, V, C], last channel a score
    parents = torch.tensor(layout.parents)
    b, m = bones(x, parents), motion(x)
    bs, ms = bones(x, parents, scores=True), motion(x, scores=True)
    for t in range(4):
        for j in range(21):
            p = layout.parents[j]
            torch.testing.assert_close(b[t, j], x[t, j] - x[t, p])
            torch.testing.assert_close(bs[t, j, :2], x[t, j, :2] - x[t, p, :2])
            torch.testing.assert_close(bs[t, j, 2], (x[t, j, 2] + x[t, p, 2]) / 2)
            if t < 3:
                torch.testing.assert_close(m[t, j], x[t + 1, j] - x[t, j])
                torch.testing.assert_close(ms[t, j, 2], (x[t + 1, j, 2] + x[t, j, 2]) / 2)
    assert not b[:, layout.center].any() and not m[3].any() and not ms[3].any()


def test_the_stream_is_computed_inside_the_model() -> None:
    torch.manual_seed(0)
    joint = build_model("stgcnpp_hand", num_classes=5).eval()
    x = formula_input((2, 1, 10, 21, 2))
    parents = torch.tensor(get_layout("hand21").parents)
    for stream, derive in (
        ("bone", lambda j: bones(j, parents)),
        ("joint_motion", motion),
        ("bone_motion", lambda j: motion(bones(j, parents))),
    ):
        other = build_model("stgcnpp_hand", num_classes=5, stream=stream).eval()
        other.load_state_dict(joint.state_dict())
        with torch.no_grad():
            assert torch.equal(other(x), joint(derive(x))), stream
            assert not torch.allclose(other(x), joint(x)), stream


def test_graph_conv_against_a_loop() -> None:
    """y[n, c, t, w] = sum_k sum_v (W_k x)[n, c, t, v] A[k, v, w], with a directed A (a transposed one fails)."""
    torch.manual_seed(0)
    A = torch.rand(3, 5, 5) * (torch.rand(3, 5, 5) > 0.5)
    for adaptive in ("fixed", "importance", "offset", "init"):
        gcn = GraphConv(4, 6, A, adaptive=adaptive).eval()
        with torch.no_grad():
            if adaptive in ("importance", "offset"):
                gcn.PA.uniform_(0.5, 1.5)
            gcn.bn.running_mean.uniform_(-0.5, 0.5)
            gcn.bn.running_var.uniform_(0.5, 2)
            x = torch.randn(2, 4, 3, 5)
            effective = A * gcn.PA if adaptive == "importance" else A + gcn.PA if adaptive == "offset" else A
            z = gcn.conv(x).view(2, 3, 6, 3, 5)
            mixed = torch.zeros(2, 6, 3, 5)
            for k in range(3):
                for v in range(5):
                    for w in range(5):
                        mixed[..., w] += z[:, k, :, :, v] * effective[k, v, w]
            torch.testing.assert_close(gcn(x), torch.relu(gcn.bn(mixed)), rtol=1e-5, atol=1e-5)
    assert isinstance(GraphConv(4, 6, A, adaptive="init").A, torch.nn.Parameter)
    assert "A" in dict(GraphConv(4, 6, A).named_buffers())


def test_shapes_strides_and_one_line_errors() -> None:
    assert stage_plan(6, (6,), (6,)) == ((64, 1), (64, 1), (64, 1), (64, 1), (64, 1), (128, 2))
    assert [w for w, _ in stage_plan()] == [64] * 4 + [128] * 3 + [256] * 3
    mstcn = MultiScaleTemporalConv(64, 64, stride=2)
    assert [
        b[0].out_channels if isinstance(b, torch.nn.Sequential) else b.out_channels for b in mstcn.branches
    ] == [
        14,
        10,
        10,
        10,
        10,
        10,
    ]
    assert mstcn(torch.randn(1, 64, 11, 3)).shape == (1, 64, 6, 3)  # ceil(11 / 2)
    model = build_model("stgcn", num_classes=3, num_stages=4, down_stages=(3,), inflate_stages=(4,)).eval()
    with torch.no_grad():
        assert model.forward_features(torch.randn(1, 2, 11, 25, 3)).shape == (1, 2, 128, 6, 25)
    with pytest.raises(ValueError, match=r"expected joints \[N, M, T, 25, 3\], got \[1, 2, 11, 21, 3\]"):
        model(torch.randn(1, 2, 11, 21, 3))
    mvc = build_model("stgcn", num_classes=3, num_stages=2, down_stages=(), inflate_stages=(), data_bn="MVC")
    assert mvc.data_bn.num_features == 2 * 25 * 3
    with pytest.raises(ValueError, match="2 person slots"):
        mvc(torch.randn(1, 1, 8, 25, 3))
    for kwargs, words in (
        ({"stream": "velocity"}, "joint, bone, joint_motion, bone_motion"),
        ({"down_stages": (1,)}, "down_stages must lie in 2..10"),
        ({"data_bn": "C"}, "data_bn must be"),
        ({"bone_parents": (0,) * 24}, "bone_parents"),
        ({"strategy": "radial"}, "graph strategy must be one of"),
    ):
        with pytest.raises(ConfigError, match=words) as info:
            build_model("stgcn", **kwargs)
        assert "\n" not in str(info.value)
    assert STGCN_BLOCK.tcn == "unit" and model_card("stgcnpp_hand").modality == "skeleton"
    dropped = build_model("stgcnpp_hand", tcn_dropout=0.3)  # every block but the first, as PYSKL
    assert [block.tcn.drop.p for block in dropped.blocks] == [0.0] + [0.3] * 5
    assert [block.tcn.drop.p for block in build_model("stgcn").blocks] == [0.0] + [0.5] * 9  # the paper's
