"""Optical-flow methods by name: one call from two RGB frames to the flow between them.

    >>> method = get_flow_method("dis_fine")                 # DEFAULT_METHOD
    >>> flow = method(prev, next)                            # uint8 [H, W, 3] x 2 -> float32 [H, W, 2]
    >>> method.name, method.params()                         # ("dis_fine", {"preset": "medium", ...})

A :class:`FlowMethod` takes two RGB uint8 frames [H, W, 3] of one size and returns the flow from ``prev`` to
``next``, float32 [H, W, 2]: channel 0 the horizontal (x, to the right) and channel 1 the vertical (y, down)
displacement in pixels, such that ``prev[p] ≈ next[p + flow[p]]``. Its ``params()`` (JSON) are everything that
determines the result, library versions included: they key the outputs of ``vidact extract flow``.

Methods (``list_flow_methods()``), with what ``python benchmarks/flow.py`` measured on 340 x 256 pairs, one
thread of a 2-core AMD EPYC (``benchmarks/results/flow.json``): ms per pair, and the mean end-point error on known
warps (:mod:`vidact.flow.warps`) at a largest displacement of 2 / 6 px:

* ``tvl1``: OpenCV's Dual TV-L1 (Zach, Pock & Bischof 2007) with OpenCV's defaults, the flow of the two-stream
  papers (Simonyan & Zisserman 2014, TSN, I3D): ~1,600-3,100 ms; 0.16 / 0.50 px.
* ``farneback``: Farnebäck's polynomial expansion with OpenCV's usual parameters: ~15 ms; 0.28 / 0.95 px.
* ``dis_ultrafast``, ``dis_fast``, ``dis_medium``: DIS (Kroeger et al. 2016) with OpenCV's presets: 1, 2 and
  10 ms; 0.45 / 1.25, 0.42 / 1.13 and 0.20 / 0.45 px.
* ``dis_fine`` (:data:`DEFAULT_METHOD`): DIS down to the finest scale, 8-px patches every 3 px, 25 descent steps,
  5 variational refinements: ~40-60 ms; 0.06 / 0.14 px, below TV-L1's error at every displacement, clean or
  noisy.
* ``dis``: DIS from any preset with any of its five numbers (:data:`DIS_PRESETS` are such settings).
* ``raft_small``, ``raft_large``: torchvision's RAFT with published weights from vidact's catalogue
  (``raft_small.c_t_v2``, ``raft_large.c_t_skht_v2`` by default; :mod:`vidact.models.raft`): ~440 / ~1,600 ms
  at 12 updates.

Every method object pickles cheaply (it travels to worker processes): OpenCV's solvers and RAFT's network are made
on the first call, in the process that calls, and left out of the pickled state.

**Threads.** OpenCV's own thread pool (``cv2.setNumThreads``) and torch's (``torch.set_num_threads``) are left to
the caller: a process that computes flow in several workers at once should give each a share of the cores
(``cv2.setNumThreads(1)`` in each of N workers on N cores), as the extraction runner does for torch.

A new method is a factory registered with :func:`register_flow_method` returning an object of this protocol.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import cv2
import numpy as np

from .._registry import Registry
from ..errors import ConfigError

__all__ = [
    "FlowMethod",
    "DEFAULT_METHOD",
    "register_flow_method",
    "get_flow_method",
    "list_flow_methods",
    "check_frame_pair",
    "TVL1Flow",
    "FarnebackFlow",
    "DISFlow",
    "DIS_PRESETS",
    "RAFTFlow",
    "RAFT_DEFAULT_WEIGHTS",
]

#: The method ``vidact extract flow`` and the flow input specs use unless told otherwise. The issue's goal was
#: an end-point error within 5 % of OpenCV's TV-L1 at <= 100 ms per 340 x 256 pair on 2 CPU cores; ``dis_fine``
#: measured ~39 ms with an error below TV-L1's on known warps, so it replaced ``tvl1`` as the default.
DEFAULT_METHOD = "dis_fine"


@runtime_checkable
class FlowMethod(Protocol):
    """Two RGB frames -> the optical flow from the first to the second (see the module docstring).

    Attributes:
        name: the registered name (``"dis_fine"``).
    """

    name: str

    def params(self) -> dict[str, Any]:
        """Everything that determines the flow (JSON values): options, weights, library versions."""
        ...

    def __call__(self, prev: np.ndarray, next: np.ndarray) -> np.ndarray:
        """The flow from ``prev`` to ``next``.

        Args:
            prev: uint8 [H, W, 3] RGB.
            next: uint8 [H, W, 3] RGB, the same size.

        Returns:
            float32 [H, W, 2]: x then y displacement in pixels, ``prev[p] ≈ next[p + flow[p]]``.
        """
        ...


#: Flow methods by name: ``factory(**options) -> FlowMethod``.
_METHODS: Registry[Callable[..., FlowMethod]] = Registry("flow method")


def register_flow_method(name: str, factory: Callable[..., FlowMethod] | None = None) -> Any:
    """Register ``factory(**options) -> FlowMethod`` as ``name``: a decorator, or a call with ``factory``. The
    factory's keyword parameters are the method's options; it checks them, raising a one-line
    :class:`~vidact.errors.ConfigError`.

    Raises:
        ValueError: ``name`` is taken by another factory.
    """
    return _METHODS.register(name) if factory is None else _METHODS.register(name, factory)


def list_flow_methods() -> list[str]:
    """The registered flow methods, sorted."""
    return _METHODS.names()


def get_flow_method(name: str, /, **options: Any) -> FlowMethod:
    """The flow method ``name`` with ``options`` (its factory's keyword parameters).

    Raises:
        ConfigError: an unknown method (naming the close ones), an option it does not take, or a bad value.
    """
    factory = _METHODS.get(name)
    parameters = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        accepted = [n for n in parameters if n != "name"]  # a method's name is its registered one
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            takes = ", ".join(accepted) or "no options"
            raise ConfigError(f"flow method {name!r} does not take {', '.join(unknown)} (it takes {takes})")
    return factory(**options)


def check_frame_pair(prev: Any, next: Any) -> tuple[np.ndarray, np.ndarray]:
    """``prev`` and ``next`` as uint8 RGB arrays [H, W, 3] of one size (H, W >= 2).

    Raises:
        ValueError: another dtype, rank, channel count, or two sizes.
    """
    a, b = np.asarray(prev), np.asarray(next)
    for frame in (a, b):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or min(frame.shape[:2]) < 2:
            raise ValueError(
                f"optical flow takes uint8 RGB frames [H, W, 3], got {frame.dtype} {list(frame.shape)}"
            )
    if a.shape != b.shape:
        raise ValueError(
            f"optical flow takes two frames of one size, got {list(a.shape)} and {list(b.shape)}"
        )
    return a, b


def _positive(method: str, **values: float | None) -> None:
    for key, value in values.items():
        if value is not None and not value > 0:
            raise ConfigError(f"flow method {method}: {key} must be positive, got {value}")


# -- OpenCV --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _OpenCVFlow:
    """The shared part of OpenCV's methods: frames to grayscale, the solver made once per process on first use."""

    _solver: Any = field(default=None, init=False, repr=False, compare=False)

    def _create(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """The solver: ``(prev, next) -> flow`` on uint8 grayscale frames [H, W]."""
        raise NotImplementedError

    def options(self) -> dict[str, Any]:
        """The method's options (its dataclass fields)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init and f.name != "name"}

    def params(self) -> dict[str, Any]:
        """The options and OpenCV's version."""
        return {**self.options(), "opencv": cv2.__version__}

    def __call__(self, prev: np.ndarray, next: np.ndarray) -> np.ndarray:
        """uint8 [H, W, 3] RGB x 2 -> float32 [H, W, 2] (see :class:`FlowMethod`)."""
        a, b = check_frame_pair(prev, next)
        if self._solver is None:
            object.__setattr__(self, "_solver", self._create())  # frozen: the cache is not an option
        gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (a, b)]
        return np.ascontiguousarray(self._solver(*gray), dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        # OpenCV's solvers do not pickle: each process makes its own
        return {**self.__dict__, "_solver": None}


@dataclass(frozen=True)
class TVL1Flow(_OpenCVFlow):
    """OpenCV's Dual TV-L1 (``cv2.optflow.DualTVL1OpticalFlow``; Zach, Pock & Bischof 2007, Wedel et al. 2009),
    the flow of the two-stream papers. The defaults are OpenCV's.

    Attributes:
        tau: time step of the numerical scheme.
        lambda_: weight of the data term (smaller: smoother flow).
        theta: coupling between the two sub-problems.
        scales: pyramid levels.
        warps: warpings per level.
        epsilon: stopping threshold.
        inner_iterations, outer_iterations: iterations of the inner and outer loops.
        scale_step: size ratio between pyramid levels.
        gamma: weight of the illumination term (0: none).
        median_filtering: median filter size applied to the flow after each warp (1: none).
    """

    name: str = field(default="tvl1", repr=False)
    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    scales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def __post_init__(self) -> None:
        _positive(
            self.name,
            tau=self.tau,
            lambda_=self.lambda_,
            theta=self.theta,
            scales=self.scales,
            warps=self.warps,
            epsilon=self.epsilon,
            inner_iterations=self.inner_iterations,
            outer_iterations=self.outer_iterations,
            median_filtering=self.median_filtering,
        )
        if not 0 < self.scale_step < 1 or self.gamma < 0:
            raise ConfigError(
                f"flow method {self.name}: scale_step must be in (0, 1) and gamma >= 0, got {self.scale_step}, "
                f"{self.gamma}"
            )

    def _create(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        solver = cv2.optflow.DualTVL1OpticalFlow_create(
            tau=self.tau,
            lambda_=self.lambda_,
            theta=self.theta,
            nscales=self.scales,
            warps=self.warps,
            epsilon=self.epsilon,
            innnerIterations=self.inner_iterations,  # sic: OpenCV's keyword
            outerIterations=self.outer_iterations,
            scaleStep=self.scale_step,
            gamma=self.gamma,
            medianFiltering=self.median_filtering,
            useInitialFlow=False,
        )
        return lambda prev, next: solver.calc(prev, next, None)


@dataclass(frozen=True)
class FarnebackFlow(_OpenCVFlow):
    """Farnebäck's polynomial-expansion flow (``cv2.calcOpticalFlowFarneback``, Farnebäck 2003) with the
    parameters of OpenCV's tutorial and of most action-recognition code.

    Attributes:
        pyr_scale: size ratio between pyramid levels.
        levels: pyramid levels.
        winsize: averaging window (larger: smoother, more robust to noise, blurrier motion boundaries).
        iterations: iterations per level.
        poly_n: neighbourhood of the polynomial expansion (5 or 7).
        poly_sigma: Gaussian sigma of the expansion (1.1 for poly_n 5, 1.5 for 7).
        gaussian_window: a Gaussian window instead of a box (OpenCV's ``OPTFLOW_FARNEBACK_GAUSSIAN``).
    """

    name: str = field(default="farneback", repr=False)
    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2
    gaussian_window: bool = False

    def __post_init__(self) -> None:
        _positive(
            self.name,
            levels=self.levels,
            winsize=self.winsize,
            iterations=self.iterations,
            poly_n=self.poly_n,
            poly_sigma=self.poly_sigma,
        )
        if not 0 < self.pyr_scale < 1:
            raise ConfigError(f"flow method {self.name}: pyr_scale must be in (0, 1), got {self.pyr_scale}")

    def _create(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN if self.gaussian_window else 0
        options = (
            self.pyr_scale,
            self.levels,
            self.winsize,
            self.iterations,
            self.poly_n,
            self.poly_sigma,
            flags,
        )
        return lambda prev, next: cv2.calcOpticalFlowFarneback(prev, next, None, *options)


_DIS_PRESET_IDS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
#: DIS's five numbers: the option and OpenCV's getter/setter suffix.
_DIS_NUMBERS = {
    "finest_scale": "FinestScale",
    "patch_size": "PatchSize",
    "patch_stride": "PatchStride",
    "gradient_descent_iterations": "GradientDescentIterations",
    "variational_refinement_iterations": "VariationalRefinementIterations",
}


@dataclass(frozen=True)
class DISFlow(_OpenCVFlow):
    """Dense Inverse Search (``cv2.DISOpticalFlow``; Kroeger et al., ECCV 2016): patches matched by inverse
    compositional descent from coarse to fine, densified, then (optionally) a variational refinement. OpenCV's
    preset, with any of its five numbers replaced; ``params()`` gives all five as used.

    Attributes:
        preset: OpenCV's preset the numbers start from: ultrafast, fast or medium.
        finest_scale: the finest pyramid level the patches reach (0: full resolution; the presets stop at 1 or
            2, a half or a quarter).
        patch_size: patch side in pixels.
        patch_stride: pixels between patches (smaller: more patches, more overlap).
        gradient_descent_iterations: descent steps per patch and level.
        variational_refinement_iterations: refinement iterations per level (0: none).
    """

    name: str = field(default="dis", repr=False)
    preset: Literal["ultrafast", "fast", "medium"] = "medium"
    finest_scale: int | None = None
    patch_size: int | None = None
    patch_stride: int | None = None
    gradient_descent_iterations: int | None = None
    variational_refinement_iterations: int | None = None

    def __post_init__(self) -> None:
        if self.preset not in _DIS_PRESET_IDS:
            raise ConfigError(
                f"flow method {self.name}: unknown DIS preset {self.preset!r}; choose from "
                f"{', '.join(_DIS_PRESET_IDS)}"
            )
        for key in _DIS_NUMBERS:
            value = getattr(self, key)
            low = 1 if key in ("patch_size", "patch_stride", "gradient_descent_iterations") else 0
            if value is not None and (int(value) != value or value < low):
                raise ConfigError(f"flow method {self.name}: {key} must be an integer >= {low}, got {value}")
        if (
            self.patch_size is not None
            and self.patch_stride is not None
            and self.patch_stride > self.patch_size
        ):
            raise ConfigError(
                f"flow method {self.name}: patch_stride {self.patch_stride} exceeds patch_size {self.patch_size}"
            )

    def solver(self) -> Any:
        """A new ``cv2.DISOpticalFlow``: the preset, then the numbers given."""
        solver = cv2.DISOpticalFlow_create(_DIS_PRESET_IDS[self.preset])
        for key, suffix in _DIS_NUMBERS.items():
            value = getattr(self, key)
            if value is not None:
                getattr(solver, f"set{suffix}")(int(value))
        return solver

    def _create(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        solver = self.solver()
        return lambda prev, next: solver.calc(prev, next, None)

    def numbers(self) -> dict[str, int]:
        """The five numbers as the solver uses them: the preset's, with the options given."""
        solver = self.solver()
        return {key: int(getattr(solver, f"get{suffix}")()) for key, suffix in _DIS_NUMBERS.items()}

    def params(self) -> dict[str, Any]:
        """The preset, the five numbers as used, and OpenCV's version."""
        return {"preset": self.preset, **self.numbers(), "opencv": cv2.__version__}


#: The DIS methods registered by name: :class:`DISFlow` options. ``dis_fine`` is the default method (340 x 256
#: pairs, one CPU thread: ~40-60 ms, an end-point error on known warps below OpenCV's TV-L1's; benchmarks/flow.py).
DIS_PRESETS: dict[str, dict[str, Any]] = {
    "dis_ultrafast": {"preset": "ultrafast"},
    "dis_fast": {"preset": "fast"},
    "dis_medium": {"preset": "medium"},
    "dis_fine": {
        "preset": "medium",
        "finest_scale": 0,
        "patch_size": 8,
        "patch_stride": 3,
        "gradient_descent_iterations": 25,
        "variational_refinement_iterations": 5,
    },
}

register_flow_method("tvl1", TVL1Flow)
register_flow_method("farneback", FarnebackFlow)
register_flow_method("dis", DISFlow)
for _name, _options in DIS_PRESETS.items():
    register_flow_method(_name, functools.partial(DISFlow, name=_name, **_options))


# -- RAFT ----------------------------------------------------------------------------------------------------------
#: The published weights a RAFT method loads unless told otherwise: torchvision's defaults.
RAFT_DEFAULT_WEIGHTS = {"raft_small": "raft_small.c_t_v2", "raft_large": "raft_large.c_t_skht_v2"}


@dataclass(frozen=True)
class RAFTFlow:
    """torchvision's RAFT (``vidact.models.raft``) as a flow method: frames scaled as its input spec says
    (:class:`~vidact.models.raft.FramePairSpec`: [-1, 1]), both sides padded by replicating the border to a
    multiple of 8 (and to at least 128 px), the last update's flow cropped back to the frame.

    Attributes:
        model: ``raft_small`` or ``raft_large``.
        weights: published weights of that model by name (``raft_small.c_t_v2``; ``vidact weights list``), a
            file of its weights, or ``None`` for random weights (seeded, the same in every process: for tests
            only, never a default).
        num_flow_updates: refinement iterations (None: the input spec's, 12).
        device: where the network runs (``cpu``, ``cuda``...).
    """

    model: str
    weights: str | None
    num_flow_updates: int | None = None
    device: str = "cpu"
    _net: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from ..models import hub, model_card

        if self.model not in RAFT_DEFAULT_WEIGHTS:
            raise ConfigError(f"RAFT flow: unknown model {self.model!r}; choose from raft_small, raft_large")
        if self.num_flow_updates is not None and (
            int(self.num_flow_updates) != self.num_flow_updates or self.num_flow_updates < 1
        ):
            raise ConfigError(
                f"{self.model}: num_flow_updates must be an integer >= 1, got {self.num_flow_updates}"
            )
        if self.weights is None:
            return
        if hub.is_weights_name(str(self.weights)):
            published = hub.get_weights(str(self.weights))  # ConfigError: an unknown tag, listing the model's
            if published.card.name != self.model:
                raise ConfigError(f"{self.model}: weights {self.weights} are {published.card.name}'s")
        elif not Path(self.weights).is_file():
            tags = ", ".join(f"{self.model}.{w.tag}" for w in model_card(self.model).weights)
            raise ConfigError(
                f"{self.model}: weights {self.weights!r} are neither published weights ({tags}) nor a file"
            )

    @property
    def name(self) -> str:
        """The registered name: the model's."""
        return self.model

    def params(self) -> dict[str, Any]:
        """The model, its weights (a published name, or a file's SHA-256), the updates, torch's and
        torchvision's versions. Published weights are fetched into the cache here (once, in the calling process,
        before any worker needs them)."""
        import torch
        import torchvision

        from ..models import hub

        if self.weights is None:
            weights: dict[str, Any] = {"weights": None, "weights_seed": 0}
        elif hub.is_weights_name(self.weights):
            hub.fetch(self.weights)
            weights = {"weights": self.weights}
        else:
            weights = {"weights_sha256": _sha256(self.weights)}
        return {
            "model": self.model,
            **weights,
            "num_flow_updates": self._updates(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
        }

    def _updates(self) -> int:
        return int(
            self.num_flow_updates if self.num_flow_updates is not None else self._spec().num_flow_updates
        )

    def _spec(self) -> Any:
        from ..models import model_card

        return model_card(self.model).default_preset()

    def network(self) -> tuple[Any, Any]:
        """``(module, spec)``: the network in eval mode on :attr:`device` and its input spec, loaded on the first
        call in this process."""
        if self._net is None:
            import torch

            from ..models import build_model, hub

            if self.weights is None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)
                    module, spec = build_model(self.model), self._spec()
            elif hub.is_weights_name(self.weights):
                loaded = hub.load_published(self.weights, progress=False)
                module, spec = loaded.module, loaded.spec
            else:
                loaded = hub.load_file(self.model, self.weights, num_classes=0)
                module, spec = loaded.module, loaded.spec
            object.__setattr__(self, "_net", (module.eval().to(self.device), spec))
        return self._net

    def __call__(self, prev: np.ndarray, next: np.ndarray) -> np.ndarray:
        """uint8 [H, W, 3] RGB x 2 -> float32 [H, W, 2] (see :class:`FlowMethod`)."""
        import torch
        import torch.nn.functional as F

        a, b = check_frame_pair(prev, next)
        module, spec = self.network()
        height, width = a.shape[:2]
        low, high = spec.value_range
        frames = torch.from_numpy(np.stack([a, b])).to(self.device).permute(0, 3, 1, 2).float()
        frames = frames * ((high - low) / 255.0) + low  # [2, 3, H, W] on the spec's scale
        pad_h = _padded(height, spec.size_multiple, spec.min_size) - height
        pad_w = _padded(width, spec.size_multiple, spec.min_size) - width
        top, left = pad_h // 2, pad_w // 2
        frames = F.pad(frames, (left, pad_w - left, top, pad_h - top), mode="replicate")
        with torch.inference_mode():
            flow = module(frames[:1], frames[1:], num_flow_updates=self._updates())[-1][0]  # [2, H', W']
        flow = flow[:, top : top + height, left : left + width]
        return np.ascontiguousarray(flow.permute(1, 2, 0).float().cpu().numpy())

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_net": None}  # each process loads its own


def _padded(size: int, multiple: int, minimum: int) -> int:
    return max(math.ceil(size / multiple) * multiple, math.ceil(minimum / multiple) * multiple)


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _raft_factory(model: str) -> Callable[..., RAFTFlow]:
    def factory(
        *,
        weights: str | None = RAFT_DEFAULT_WEIGHTS[model],
        num_flow_updates: int | None = None,
        device: str = "cpu",
    ) -> RAFTFlow:
        return RAFTFlow(model, weights, num_flow_updates, device)

    factory.__name__ = factory.__qualname__ = model
    factory.__doc__ = f"torchvision's {model} as a flow method (:class:`RAFTFlow`); ``weights=None``: random."
    return factory


for _model in RAFT_DEFAULT_WEIGHTS:
    register_flow_method(_model, _raft_factory(_model))

del _name, _options, _model
