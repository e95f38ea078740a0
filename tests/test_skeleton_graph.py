"""Skeleton graphs (vidact.data.skeleton.graph): partitions, normalisation, hop distances, hand-computed examples,
and the adjacency PYSKL's and ST-GCN's own code build for the same layouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vidact.data.skeleton import LAYOUTS, Layout, get_layout
from vidact.data.skeleton.graph import STRATEGIES, Graph, hop_distance, normalize_digraph, normalize_symmetric
from vidact.errors import ConfigError

INF = math.inf

# A chain a - b - c - d rooted at a, and a three-joint star centred on its middle joint.
CHAIN4 = Layout("chain4", ("a", "b", "c", "d"), (0, 0, 1, 2), 0)
STAR3 = Layout("star3", ("left", "middle", "right"), (1, 1, 1), 1)

# What PYSKL's Graph (kennymckormick/pyskl@3f6795f, pyskl/utils/graph.py) and ST-GCN's released Graph
# (yysijie/st-gcn@221c0e1, net/utils/graph.py, given vidact's layouts' bones and centres) build, summarised as
# (non-zero entries per subset, sum(A * (1 + arange(K * V * V)).reshape(K, V, V))) in float64. vidact's
# adjacency equalled theirs exactly for every entry here; the weighted sum catches a transposed or permuted A.
UPSTREAM = {
    # PYSKL mode 'stgcn_spatial' and mode 'spatial' (vidact's 'inward_outward'), max_hop 1
    ("coco17", "stgcn_spatial", 1): ([17, 22, 10], 6476.716666667),
    ("coco17", "inward_outward", 1): ([17, 16, 16], 17029.5),
    ("ntu25", "stgcn_spatial", 1): ([25, 40, 8], 19281.25),
    ("ntu25", "inward_outward", 1): ([25, 24, 24], 57338.75),
    ("hand21", "stgcn_spatial", 1): ([21, 30, 10], 11816.0),
    ("hand21", "inward_outward", 1): ([21, 20, 20], 34773.0),
    # ST-GCN's strategies 'uniform', 'distance' and 'spatial' (vidact's 'stgcn_spatial')
    ("coco17", "uniform", 1): ([49], 2392.183333333),
    ("coco17", "uniform", 2): ([89], 2250.937373737),
    ("coco17", "distance", 1): ([17, 32], 5465.216666667),
    ("coco17", "distance", 2): ([17, 32, 40], 8053.123232323),
    ("coco17", "stgcn_spatial", 2): ([17, 18, 14, 28, 12], 11900.326262626),
    ("ntu25", "uniform", 1): ([73], 7635.416666667),
    ("ntu25", "uniform", 2): ([131], 7732.271825397),
    ("ntu25", "distance", 1): ([25, 48], 17562.5),
    ("ntu25", "distance", 2): ([25, 48, 58], 26759.057539683),
    ("ntu25", "stgcn_spatial", 2): ([25, 36, 12, 46, 12], 36199.037698413),
    ("hand21", "uniform", 1): ([61], 4466.0),
    ("hand21", "uniform", 2): ([111], 4418.113636364),
    ("hand21", "distance", 1): ([21, 40], 10346.0),
    ("hand21", "distance", 2): ([21, 40, 50], 15382.977272727),
    ("hand21", "stgcn_spatial", 2): ([21, 25, 15, 35, 15], 22124.931818182),
    ("mediapipe33", "uniform", 1): ([97], 17230.321428571),
    ("mediapipe33", "uniform", 2): ([199], 17255.124267399),
    ("mediapipe33", "distance", 1): ([33, 64], 39508.15),
    ("mediapipe33", "distance", 2): ([33, 64, 102], 63932.741849817),
    ("mediapipe33", "stgcn_spatial", 2): ([33, 46, 18, 80, 22], 89309.264377289),
}


@pytest.mark.parametrize(("layout", "strategy", "max_hop"), sorted(UPSTREAM))
def test_adjacency_equals_the_upstream_code(layout: str, strategy: str, max_hop: int) -> None:
    nonzero, weighted = UPSTREAM[(layout, strategy, max_hop)]
    A = Graph(layout, strategy, max_hop=max_hop)._adjacency
    assert [int((a > 0).sum()) for a in A] == nonzero
    assert float((A * np.arange(1, A.size + 1).reshape(A.shape)).sum()) == pytest.approx(weighted, abs=1e-6)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_subset_counts_and_normalisation(layout: str) -> None:
    v = get_layout(layout).num_joints
    expected_k = {
        ("uniform", 1, 1): 1,
        ("uniform", 3, 1): 1,
        ("distance", 1, 1): 2,
        ("distance", 3, 1): 4,
        ("distance", 4, 2): 3,  # hops 0, 2, 4
        ("spatial", 1, 1): 3,
        ("spatial", 2, 1): 5,
        ("spatial", 4, 2): 5,  # root, then two groups at hops 2 and 4
        ("stgcn_spatial", 1, 1): 3,
        ("stgcn_spatial", 3, 1): 7,
    }
    for (strategy, max_hop, dilation), k in expected_k.items():
        graph = Graph(layout, strategy, max_hop=max_hop, dilation=dilation)
        A = graph.A
        assert (
            A.shape == (k, v, v) and A.dtype == torch.float32 and graph.num_subsets == len(graph.subsets) == k
        )
        # The subsets split one digraph-normalised adjacency: every joint's column sums to 1 over all of them.
        torch.testing.assert_close(A.sum(dim=(0, 1)), torch.ones(v), rtol=0, atol=1e-6)
        # ... and the neighbourhood is symmetric (joint v reads w iff w reads v).
        pattern = A.sum(0) > 0
        assert torch.equal(pattern, pattern.T)
    io = Graph(layout, "inward_outward").A
    assert io.shape == (3, v, v) and torch.equal(io[0], torch.eye(v))
    parents = get_layout(layout).parents
    children = [sum(p == j and c != j for c, p in enumerate(parents)) for j in range(v)]
    # From the parent: every joint but the centre reads exactly one joint with weight 1.
    assert io[1].sum(0).tolist() == [0.0 if parents[j] == j else 1.0 for j in range(v)]
    # From the children: the mean of them, so a column sums to 1 unless the joint is a leaf.
    torch.testing.assert_close(io[2].sum(0), torch.tensor([1.0 if n else 0.0 for n in children]))
    assert torch.equal(io[1] > 0, (io[2] > 0).T)


def test_paper_spatial_splits_each_bone_into_both_directions() -> None:
    for layout in LAYOUTS.values():
        A = Graph(layout, "spatial").A
        depth = torch.tensor(layout.depth())
        farther, nearer = A[1] > 0, A[2] > 0
        assert torch.equal(farther, nearer.T) and int(farther.sum()) == layout.num_joints - 1
        senders, receivers = farther.nonzero(as_tuple=True)
        assert bool((depth[senders] > depth[receivers]).all())  # centrifugal group: the children


def test_hop_distance_on_a_chain() -> None:
    edges = CHAIN4.edges
    assert hop_distance(4, edges, 1).tolist() == [
        [0, 1, INF, INF],
        [1, 0, 1, INF],
        [INF, 1, 0, 1],
        [INF, INF, 1, 0],
    ]
    assert hop_distance(4, edges, 2).tolist() == [[0, 1, 2, INF], [1, 0, 1, 2], [2, 1, 0, 1], [INF, 2, 1, 0]]
    assert hop_distance(4, edges, 5).tolist() == [[0, 1, 2, 3], [1, 0, 1, 2], [2, 1, 0, 1], [3, 2, 1, 0]]
    assert hop_distance(4, edges, 0).tolist() == [[0 if i == j else INF for j in range(4)] for i in range(4)]


def test_hand_computed_star() -> None:
    third, half = 1 / 3, 1 / 2
    # A + I = [[1, 1, 0], [1, 1, 1], [0, 1, 1]]; column sums 2, 3, 2.
    uniform = Graph(STAR3, "uniform").A.double()
    expected = torch.tensor([[half, third, 0], [half, third, half], [0, third, half]], dtype=torch.float64)
    torch.testing.assert_close(uniform[0], expected, rtol=0, atol=1e-7)
    spatial = Graph(STAR3, "spatial").A.double()
    root = torch.diag(torch.tensor([half, third, half], dtype=torch.float64))
    centrifugal = torch.tensor(
        [[0, third, 0], [0, 0, 0], [0, third, 0]], dtype=torch.float64
    )  # ends -> middle
    centripetal = torch.tensor([[0, 0, 0], [half, 0, half], [0, 0, 0]], dtype=torch.float64)  # middle -> ends
    torch.testing.assert_close(spatial, torch.stack([root, centrifugal, centripetal]), rtol=0, atol=1e-7)
    distance = Graph(STAR3, "distance").A.double()
    torch.testing.assert_close(distance, torch.stack([root, centrifugal + centripetal]), rtol=0, atol=1e-7)
    s6 = 1 / math.sqrt(6)
    symmetric = Graph(STAR3, "uniform", normalization="symmetric").A.double()[0]
    expected = torch.tensor([[half, s6, 0], [s6, third, s6], [0, s6, half]], dtype=torch.float64)
    torch.testing.assert_close(symmetric, expected, rtol=0, atol=1e-7)
    inward_outward = Graph(STAR3, "inward_outward").A.double()
    from_parent = torch.tensor([[0, 0, 0], [1, 0, 1], [0, 0, 0]], dtype=torch.float64)
    from_children = torch.tensor([[0, half, 0], [0, 0, 0], [0, half, 0]], dtype=torch.float64)
    torch.testing.assert_close(
        inward_outward, torch.stack([torch.eye(3, dtype=torch.float64), from_parent, from_children])
    )


def test_stgcn_spatial_reproduces_the_released_codes_cut_distances() -> None:
    """On a chain rooted at a, with max_hop 1 the code sees c and d as infinitely far from a: c - d falls in
    the centrifugal group both ways, and only a -> b and b -> c are centripetal."""
    paper = Graph(CHAIN4, "spatial").A
    code = Graph(CHAIN4, "stgcn_spatial").A
    pairs = lambda m: sorted(map(tuple, (m > 0).nonzero().tolist()))  # noqa: E731
    assert pairs(paper[1]) == [(1, 0), (2, 1), (3, 2)] and pairs(paper[2]) == [(0, 1), (1, 2), (2, 3)]
    assert pairs(code[1]) == [(1, 0), (2, 1), (2, 3), (3, 2)] and pairs(code[2]) == [(0, 1), (1, 2)]
    assert torch.equal(paper[0], code[0]) and torch.equal(paper.sum(0), code.sum(0))
    # With max_hop 3 every distance to a is known: the two agree.
    torch.testing.assert_close(
        Graph(CHAIN4, "spatial", max_hop=3).A, Graph(CHAIN4, "stgcn_spatial", max_hop=3).A
    )


def test_normalisation_functions() -> None:
    a = np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    d = normalize_digraph(a)
    np.testing.assert_allclose(d, [[0.25, 2 / 3, 0], [0.75, 0, 0], [0, 1 / 3, 0]])  # columns / [4, 3, 0]
    sym = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    s = normalize_symmetric(sym)
    np.testing.assert_allclose(s, s.T)
    np.testing.assert_allclose(
        s, [[0, 1 / math.sqrt(2), 1 / math.sqrt(2)], [1 / math.sqrt(2), 0, 0], [1 / math.sqrt(2), 0, 0]]
    )
    # Symmetric normalisation of a symmetric adjacency: eigenvalues in [-1, 1], the largest exactly 1.
    g = Graph("ntu25", "uniform", normalization="symmetric").A[0].double()
    assert torch.equal(g, g.T)
    eig = torch.linalg.eigvalsh(g)
    assert eig.max().item() == pytest.approx(1.0, abs=1e-6) and eig.min().item() >= -1 - 1e-6


def test_graphs_are_real_on_the_meta_device_and_errors_are_one_line() -> None:
    with torch.device("meta"):  # models are counted on meta: their graph must still be computed
        A = Graph("hand21", "inward_outward").A
    assert A.device.type == "cpu" and A.sum().item() == pytest.approx(21 + 20 + 16)
    assert repr(Graph("ntu25", "spatial", max_hop=2)) == "Graph('ntu25', 'spatial', max_hop=2, K=5)"
    for kwargs, words in (
        ({"strategy": "bogus"}, ", ".join(STRATEGIES)),
        ({"strategy": "spatial", "normalization": "rows"}, "digraph, symmetric"),
        ({"strategy": "spatial", "max_hop": 0}, "max_hop"),
        ({"strategy": "inward_outward", "max_hop": 2}, "one-hop"),
    ):
        with pytest.raises(ConfigError, match=words) as info:
            Graph("coco17", **kwargs)
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="unknown skeleton layout"):
        Graph("kinect", "spatial")
