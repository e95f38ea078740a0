"""Adjacency graphs of a skeleton: a :class:`Graph` turns a :class:`~vidact.data.skeleton.layouts.Layout`
(joints, bones, centre) into the K adjacency matrices a graph convolution mixes joints with. The topology is
data, separate from the networks (PYSKL's ``Graph`` is the model): a network takes ``graph.A``.

Convention (ST-GCN's and PYSKL's): ``A[k, v, w]`` is the weight of joint ``v``'s features in joint ``w``'s output
for subset ``k``, i.e. a graph convolution computes ``y[w] = sum_k sum_v W_k x[v] A[k, v, w]`` (the einsum
``nkctv,kvw->nctw``). A column of ``A[k]`` lists what one output joint reads.

Strategies (``K`` is the number of subsets):

``"uniform"``  (K = 1) the joints within ``max_hop`` bones, the joint itself included, averaged: ``A + I``
    normalised (Yan et al. 2018, "uniform labelling").
``"distance"``  (K = number of hops) one subset per hop distance 0, ``dilation``, 2 ``dilation``, ...,
    ``max_hop``, each holding its share of the normalised adjacency (Yan et al. 2018, "distance partitioning").
``"spatial"``  (K = 1 + 2 x hops > 0) Yan et al. 2018's "spatial configuration partitioning" as the paper
    defines it, in the order of their code: the root subset (the joint itself, hop 0), then per hop distance
    ``h > 0`` the *centrifugal* group (the neighbours at least as far from the layout's centre as the receiving
    joint: in a tree, its children) and the *centripetal* group (the neighbours nearer the centre: its parent),
    all cut from one normalised adjacency. Distances to the centre are counted over the whole skeleton.
``"stgcn_spatial"``  the same partition as ST-GCN's released code (and PYSKL's ``mode='stgcn_spatial'``,
    which its ST-GCN configs use) computes it: distances to the centre are cut at ``max_hop`` like every other
    hop distance, so with ``max_hop=1`` every joint more than one bone from the centre counts as infinitely far,
    and a bone between two such joints falls in the centrifugal group in both directions. The centripetal
    group then holds only the bones leaving the centre and its neighbours (hand21: 10 of the 40 directed bones
    instead of 20). Published ST-GCN results and checkpoints were trained with this graph; vidact's ``stgcn``
    uses it by default.
``"inward_outward"``  (K = 3) the identity, the bone graph normalised, and its transpose normalised: 2s-AGCN's
    partition (Shi et al. 2019), which PYSKL calls ``mode='spatial'`` and builds its ST-GCN++, AAGCN, CTR-GCN
    and hand-gesture models with. Subset 1 is PYSKL's ``In`` (the inward edge list as a matrix: each joint
    reads its parent, ``A[1, parent, child] = 1``), subset 2 its ``Out`` (each joint reads the mean of its
    children). Fixed normalisation (digraph), no ``max_hop``.

Normalisation (``normalization=``): ``"digraph"`` (ST-GCN's and PYSKL's: each column divided by its sum, so
each output joint takes the mean of what it reads; ``D^-1 A`` in the row convention ``y = A x``) or
``"symmetric"`` (``D^-1/2 A D^-1/2``, Kipf and Welling's GCN).

The helper functions work on NumPy float64 arrays, as the reference implementations do, so that a graph is
computed exactly once in double precision and a model built on PyTorch's meta device still gets real values.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from ...errors import ConfigError
from .layouts import Layout, get_layout

__all__ = [
    "STRATEGIES",
    "NORMALIZATIONS",
    "Graph",
    "edge_matrix",
    "hop_distance",
    "normalize_digraph",
    "normalize_symmetric",
]

STRATEGIES = ("uniform", "distance", "spatial", "stgcn_spatial", "inward_outward")
NORMALIZATIONS = ("digraph", "symmetric")


def edge_matrix(edges: Iterable[tuple[int, int]], num_joints: int) -> np.ndarray:
    """The 0/1 matrix of directed edges: ``M[j, i] = 1`` for every pair ``(i, j)``; [V, V] float64.

    With the inward ``(child, parent)`` bones that is ``M[parent, child] = 1``: in the convention above, each
    child reads its parent (PYSKL's ``edge2mat``).
    """
    matrix = np.zeros((num_joints, num_joints))
    for i, j in edges:
        matrix[j, i] = 1.0
    return matrix


def hop_distance(num_joints: int, edges: Iterable[tuple[int, int]], max_hop: int) -> np.ndarray:
    """The number of bones between every two joints, up to ``max_hop``; ``inf`` beyond it. [V, V] float64.

    Args:
        edges: undirected ``(i, j)`` pairs (the layout's bones).
        max_hop: the largest distance computed (>= 0).
    """
    if max_hop < 0:
        raise ConfigError(f"max_hop must be >= 0, got {max_hop}")
    step = np.eye(num_joints, dtype=bool)
    for i, j in edges:
        step[i, j] = step[j, i] = True
    distance = np.full((num_joints, num_joints), np.inf)
    reached = np.eye(num_joints, dtype=bool)
    np.fill_diagonal(distance, 0.0)
    for hop in range(
        1, max_hop + 1
    ):  # the joints within `hop` bones: one more step from those within hop - 1
        wider = (reached.astype(np.int64) @ step.astype(np.int64)) > 0
        distance[wider & ~reached] = hop
        reached = wider
    return distance


def normalize_digraph(adjacency: np.ndarray) -> np.ndarray:
    """Each column divided by its sum (all-zero columns stay zero): ``A D^-1`` with ``D`` the column sums.

    Args:
        adjacency: [V, V], ``adjacency[v, w]`` the weight of joint v in joint w's output.

    Returns:
        [V, V] whose non-zero columns sum to 1: each output joint averages its inputs.
    """
    degree = adjacency.sum(axis=0)
    scale = np.divide(1.0, degree, out=np.zeros_like(degree, dtype=np.float64), where=degree > 0)
    return adjacency * scale[None, :]


def normalize_symmetric(adjacency: np.ndarray) -> np.ndarray:
    """``D^-1/2 A D^-1/2`` with ``D`` the column sums (the degrees, for a symmetric ``A``); zero-degree joints
    stay zero. Symmetric when ``adjacency`` is.

    Args:
        adjacency: [V, V].

    Returns:
        [V, V].
    """
    degree = adjacency.sum(axis=0)
    scale = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree, dtype=np.float64), where=degree > 0)
    return scale[:, None] * adjacency * scale[None, :]


_NORMALIZE = {"digraph": normalize_digraph, "symmetric": normalize_symmetric}


class Graph:
    """The adjacency matrices of a skeleton layout under a partition strategy (see the module's docstring).

        >>> graph = Graph("hand21", "inward_outward")
        >>> graph.A.shape, graph.subsets
        (torch.Size([3, 21, 21]), ('self', 'from_parent', 'from_children'))

    Args:
        layout: a :class:`~vidact.data.skeleton.layouts.Layout` or its name (``"ntu25"``).
        strategy: one of :data:`STRATEGIES`.
        max_hop: the farthest neighbours a subset reaches, in bones (``uniform``, ``distance``, ``spatial``).
        dilation: the step between the hop distances used (ST-GCN's ``dilation``: 2 keeps hops 0, 2, 4...).
        normalization: one of :data:`NORMALIZATIONS` (``uniform``, ``distance``, ``spatial``).

    Attributes:
        layout: the :class:`~vidact.data.skeleton.layouts.Layout`.
        hop_distance: [V, V] float64, bones between two joints up to ``max_hop``, ``inf`` beyond.
        subsets: the name of each of the K subsets, in order.

    Raises:
        ConfigError: an unknown layout, strategy or normalisation, or ``max_hop``/``dilation`` out of range.
    """

    def __init__(
        self,
        layout: str | Layout,
        strategy: str = "spatial",
        *,
        max_hop: int = 1,
        dilation: int = 1,
        normalization: str = "digraph",
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"graph strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        if normalization not in NORMALIZATIONS:
            raise ConfigError(
                f"graph normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}"
            )
        if max_hop < 1 or dilation < 1:
            raise ConfigError(f"graph: max_hop and dilation must be >= 1, got {max_hop} and {dilation}")
        if strategy == "inward_outward" and (max_hop, dilation, normalization) != (1, 1, "digraph"):
            raise ConfigError(
                "graph strategy 'inward_outward' is one-hop and digraph-normalised; it takes no max_hop, "
                "dilation or normalization"
            )
        self.layout = get_layout(layout)
        self.strategy = strategy
        self.max_hop = max_hop
        self.dilation = dilation
        self.normalization = normalization
        self.hop_distance = hop_distance(self.layout.num_joints, self.layout.edges, max_hop)
        build = {
            "uniform": self._uniform,
            "distance": self._distance,
            "spatial": self._spatial,
            "stgcn_spatial": self._stgcn_spatial,
            "inward_outward": self._inward_outward,
        }[strategy]
        subsets, matrices = build()
        self.subsets: tuple[str, ...] = tuple(subsets)
        self._adjacency = np.stack(matrices)

    @property
    def num_joints(self) -> int:
        """V."""
        return self.layout.num_joints

    @property
    def num_subsets(self) -> int:
        """K."""
        return len(self.subsets)

    @property
    def A(self) -> torch.Tensor:  # noqa: N802  (the papers' and PYSKL's name)
        """The adjacency matrices [K, V, V] float32 (a new CPU tensor on every call)."""
        return torch.from_numpy(self._adjacency.astype(np.float32))

    def __repr__(self) -> str:
        options = "" if self.strategy == "inward_outward" else f", max_hop={self.max_hop}"
        options += f", dilation={self.dilation}" if self.dilation != 1 else ""
        options += f", normalization={self.normalization!r}" if self.normalization != "digraph" else ""
        return f"Graph({self.layout.name!r}, {self.strategy!r}{options}, K={self.num_subsets})"

    # -- strategies ------------------------------------------------------------------------------------------
    def _hops(self) -> range:
        return range(0, self.max_hop + 1, self.dilation)

    def _normalized(self) -> np.ndarray:
        """The normalised adjacency of every joint pair at one of the strategy's hop distances: [V, V]."""
        within = np.isin(self.hop_distance, list(self._hops())).astype(np.float64)
        return _NORMALIZE[self.normalization](within)

    def _uniform(self) -> tuple[list[str], list[np.ndarray]]:
        return ["neighbours"], [self._normalized()]

    def _distance(self) -> tuple[list[str], list[np.ndarray]]:
        normalized = self._normalized()
        return [f"hop{h}" for h in self._hops()], [
            np.where(self.hop_distance == h, normalized, 0.0) for h in self._hops()
        ]

    def _spatial(self, *, cut_at_max_hop: bool = False) -> tuple[list[str], list[np.ndarray]]:
        normalized = self._normalized()
        if cut_at_max_hop:  # the released code's distances: joints beyond max_hop are "infinitely" far
            to_center = self.hop_distance[:, self.layout.center]
        else:
            to_center = np.asarray(self.layout.depth(), dtype=np.float64)
        # [v, w]: the sender v is at least as far from the centre as the receiver w (inf >= inf holds).
        farther = to_center[:, None] >= to_center[None, :]
        names, matrices = ["root"], [np.where(self.hop_distance == 0, normalized, 0.0)]
        for h in self._hops()[1:]:
            at_h = self.hop_distance == h
            suffix = str(h) if self.max_hop > 1 else ""
            names += [f"centrifugal{suffix}", f"centripetal{suffix}"]
            matrices.append(np.where(at_h & farther, normalized, 0.0))
            matrices.append(np.where(at_h & ~farther, normalized, 0.0))
        return names, matrices

    def _stgcn_spatial(self) -> tuple[list[str], list[np.ndarray]]:
        return self._spatial(cut_at_max_hop=True)

    def _inward_outward(self) -> tuple[list[str], list[np.ndarray]]:
        v = self.num_joints
        inward = self.layout.edges
        outward = [(parent, child) for child, parent in inward]
        return (
            ["self", "from_parent", "from_children"],
            [
                np.eye(v),
                normalize_digraph(edge_matrix(inward, v)),
                normalize_digraph(edge_matrix(outward, v)),
            ],
        )
