"""Training recipes: flat YAML files checked against typed dataclasses.

A recipe has up to five sections, ``data``, ``model``, ``train``, ``eval`` and ``task``, each a mapping of keys
to values (one level of nesting; no includes, no inheritance). ``task`` names what the engine trains
(:mod:`vidact.engine.tasks`; default ``classification``) and may be written as its name alone,
``task: masked_reconstruction``, or overridden as ``task=NAME``. The dataclasses below are the schema: every key,
its type and its default. A recipe names only what differs from the defaults; command-line overrides
``section.key=value`` come last, their value parsed as YAML:

    train.lr=0.1    data.val_split=null    model.kwargs={widths: [8, 16]}    model.kwargs.dropout=0.2

(the last sets one entry of a mapping-valued key).

    >>> cfg = load_config("configs/synthetic_simple3d.yaml", ["data.root=data/reversed", "train.epochs=2"])
    >>> cfg.train.epochs, cfg.model.name
    (2, 'simple3d')
    >>> save_config(cfg, "runs/x/config.yaml")   # the resolved recipe, every key spelled out

Every mistake is a one-line :class:`~vidact.errors.ConfigError` naming the file (or the override) and the key:
an unknown key (with a "did you mean" suggestion), a value of the wrong type or out of range, a missing file.
Values are read as written, with three conveniences: an integer is accepted where a number is expected, a
string such as ``1e-3`` (which YAML 1.1 reads as text) where a number is expected, and an integer where text
is expected (``train.precision=32``).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from .._atomic import write_text
from .._plugins import import_modules
from ..errors import ConfigError

__all__ = [
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "EvalConfig",
    "TaskConfig",
    "Config",
    "load_config",
    "save_config",
    "RECIPES_DIR",
    "list_recipes",
    "find_recipe",
    "parse_override",
    "recipe_normalization",
]


@dataclass
class DataConfig:
    """Which videos, and how clips are drawn and preprocessed (:func:`vidact.data.datasets.build_dataset`)."""

    #: Dataset layout: ``folder``, ``ucf101``, ``hmdb51``, ``kinetics``, ``ssv2`` or ``list``.
    kind: str = "folder"
    #: Folder holding the videos.
    root: str = ""
    #: Folder of the validation videos when it is not ``root`` (Kinetics ships train and val apart).
    val_root: str | None = None
    #: Split files / CSV / JSON / list file of the layout (``null`` for ``folder``).
    annotations: str | None = None
    #: Annotations of the validation split when they are another file (SSv2 ``validation.json``).
    val_annotations: str | None = None
    #: Label map fixing the class order (text or JSON, see ``read_class_names``).
    classes: str | None = None
    #: Official split number of UCF-101 and HMDB-51.
    fold: int = 1
    #: Split names as the layout reads them (``folder``: a subfolder of root; ``null``: root itself).
    train_split: str | None = "train"
    val_split: str | None = "val"
    #: ``random``: ``clip_len`` frames every ``stride``-th from a random start (centred for validation);
    #: ``segments``: TSN, one frame from each of ``clip_len`` equal parts (the centres for validation).
    sampler: Literal["random", "segments"] = "random"
    clip_len: int = 16
    stride: int = 2
    #: Frames are decoded at this short side, then cropped to ``crop_size`` squares.
    short_side: int = 128
    crop_size: int = 112
    train_crop: Literal["random", "multi_scale"] = "random"
    flip_p: float = 0.5
    #: A preset of ``vidact.data.transforms.NORMALIZATIONS`` (``null``: pixels in [0, 1]), or ``pretrained``: the
    #: mean and std of the published weights that ``model.pretrained`` names (their preset, to the last decimal).
    normalize: str | None = "imagenet"
    #: Clips per process and step (the global batch is batch_size x processes x train.grad_accum).
    batch_size: int = 8
    num_workers: int = 4
    #: ``skip``: unreadable videos are left out and reported; ``raise``: the first one stops the run.
    on_error: Literal["skip", "raise"] = "skip"


@dataclass
class ModelConfig:
    """The network: a registered model name and its builder's keyword arguments."""

    name: str = "simple3d"
    #: Builder arguments besides ``num_classes`` (``{widths: [16, 32, 64, 128], dropout: 0.3}``).
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: Initial weights: published weights by name (``r2plus1d_18.kinetics400``, downloaded on first use), a vidact
    #: checkpoint, or a state_dict file (published layouts: see pretrained_layout). Weights trained on another
    #: number of classes load without their classifier (a notice says so).
    pretrained: str | None = None
    #: Key names of ``pretrained``: ``vidact``, or a published layout converted on load (``torchvision`` and
    #: ``pytorchvideo`` for the resnet3d family, ``pytorchvideo`` and ``pyslowfast`` for SlowFast; every
    #: registered layout: :data:`vidact.models.converters.WEIGHT_LAYOUTS`).
    pretrained_layout: str = "vidact"


@dataclass
class TrainConfig:
    """Optimisation, precision, reproducibility and checkpointing."""

    epochs: int = 30
    optimizer: Literal["sgd", "adamw"] = "sgd"
    #: Peak learning rate (after warm-up), for the global batch.
    lr: float = 0.01
    momentum: float = 0.9
    #: Weight decay of the weights; biases, normalisation parameters and those the model lists in its
    #: ``no_weight_decay()`` (positional embeddings, class tokens) get none.
    weight_decay: float = 1e-4
    #: Layer-wise learning-rate decay (BEiT, VideoMAE fine-tuning), in (0, 1]: layer ``l`` of a model that
    #: names its layers (``layer_id``, ``num_layers``; embeddings 0, block ``i`` ``i + 1``, head
    #: ``num_layers + 1``) learns at ``lr x layer_decay ** (num_layers + 1 - l)``; ``1.0``: every layer at ``lr``.
    layer_decay: float = 1.0
    #: ``cosine`` to ``min_lr``; ``step``: times ``gamma`` at each epoch of ``milestones``; ``constant``.
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    #: Linear warm-up, in epochs (fractions allowed), updated every optimizer step.
    warmup_epochs: float = 0.0
    min_lr: float = 0.0
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1
    label_smoothing: float = 0.0
    #: Mixup's Beta(alpha, alpha) parameter; 0 turns mixup off.
    mixup_alpha: float = 0.0
    #: Recompute activations in the backward pass instead of storing them (less memory, about a third more
    #: compute): the model's ``set_grad_checkpointing(True)``; a model without it is an error.
    grad_checkpointing: bool = False
    #: Micro-batches per optimizer step (the loss is averaged over all their clips).
    grad_accum: int = 1
    #: Clip the gradients' global L2 norm to this value (``null``: no clipping).
    clip_grad_norm: float | None = None
    #: ``32``: float32; ``bf16``: bfloat16 autocast, float32 weights; ``auto``: ``bf16`` where the hardware
    #: computes in bfloat16 natively (CPUs with AVX512-BF16 or AMX, CUDA GPUs with bf16), else ``32``.
    precision: Literal["auto", "32", "bf16"] = "auto"
    #: Layout of the weights and clips: ``channels_last_3d`` (channels innermost, the layout oneDNN and cuDNN
    #: convolve fastest), ``contiguous`` (torch's default), or ``auto``: ``channels_last_3d`` whenever the
    #: resolved precision is ``bf16``, else ``contiguous``.
    memory_format: Literal["auto", "channels_last_3d", "contiguous"] = "auto"
    #: ``auto`` (a GPU when there is one), ``cpu``, ``cuda`` or ``mps``.
    accelerator: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    seed: int = 0
    #: Deterministic kernels (``torch.use_deterministic_algorithms``; ops without one warn): bit-identical
    #: reruns and resumes, slower on GPU.
    deterministic: bool = False
    #: Threads of torch's CPU kernels per process (0: torch's default).
    num_threads: int = 0
    #: Also write ``last.ckpt`` every this many optimizer steps (0: only at the end of each epoch).
    checkpoint_every_steps: int = 0
    #: Validate every this many epochs, and after the last one (0: never).
    val_every: int = 1


@dataclass
class EvalConfig:
    """Multi-view testing (``vidact eval``): scores averaged over clips x crops per video."""

    num_clips: int = 10
    num_crops: Literal[1, 3] = 3
    #: The split ``vidact eval`` tests by default.
    split: str | None = "test"
    #: Videos per batch (each brings num_clips x num_crops views).
    batch_size: int = 1


@dataclass
class TaskConfig:
    """What is trained: a registered task (:func:`vidact.engine.tasks.list_tasks`) and its keyword arguments."""

    #: ``classification`` (labels, cross-entropy, top-k) or ``masked_reconstruction`` (no labels: masked
    #: tubelets of each clip are reconstructed from the rest).
    name: str = "classification"
    #: Arguments of the task's constructor besides the recipe (``{mask_ratio: 0.75}``).
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    """A complete recipe: one dataclass per section, and the modules it needs imported."""

    #: Modules imported when the recipe is loaded, before its task and model are looked up: a project's own
    #: models, tasks or dataset layouts, registered from outside vidact (see :mod:`vidact._plugins`).
    imports: list[str] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    task: TaskConfig = field(default_factory=TaskConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The recipe as plain nested dicts and lists (safe for YAML, JSON and ``weights_only`` loading)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, recipe: dict[str, Any], source: str = "recipe") -> Config:
        """Check a nested dict against the schema; ``source`` names it in errors (a file name)."""
        cfg = cls()
        if not isinstance(recipe, dict):
            sections = ", ".join(_SECTIONS)
            raise ConfigError(f"{source}: expected a mapping of sections ({sections}), got {_kind(recipe)}")
        if "imports" in recipe:  # first: the modules register what the sections name
            _assign(cfg, "imports", recipe["imports"], source)
        for section, entries in recipe.items():
            if section == "imports":
                continue
            _section(cfg, str(section), source)
            if entries is None:
                continue
            if section == "task" and isinstance(entries, str):
                entries = {"name": entries}  # the shorthand `task: NAME`
            if not isinstance(entries, dict):
                raise ConfigError(
                    f"{source}: section '{section}' must be a mapping of keys, got {_kind(entries)}"
                )
            for key, value in entries.items():
                _assign(cfg, f"{section}.{key}", value, source)
        _check_consistency(cfg, source)
        return cfg


_SECTIONS = ("data", "model", "train", "eval", "task")


# -- shipped recipes -----------------------------------------------------------------------------------------------
#: The recipes installed with vidact (``vidact/configs/*.yaml``; ``configs/`` of a checkout links to it).
RECIPES_DIR = Path(__file__).resolve().parents[1] / "configs"


def list_recipes() -> dict[str, str]:
    """The shipped recipes: name -> the first sentence of the comment at the top of the file."""
    return {path.stem: _description(path) for path in sorted(RECIPES_DIR.glob("*.yaml"))}


def find_recipe(name_or_path: str | os.PathLike) -> Path:
    """A recipe file: ``name_or_path`` itself when it exists, else the shipped recipe of that name (with or
    without ``.yaml``), else ``name_or_path`` (whose reading then fails with the shipped names listed)."""
    path = Path(name_or_path)
    if path.exists() or path.parent != Path("."):
        return path
    shipped = RECIPES_DIR / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    return shipped if shipped.is_file() else path


def _description(path: Path) -> str:
    """The first sentence of the recipe's leading comment block."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if not text:
            break
        words.extend(text.split())
    text = " ".join(words)
    end = _SENTENCE_END.search(text)
    return text if end is None else text[: end.start() + 1]


#: A full stop that ends a sentence: followed by a space, not closing an abbreviation ("et al.", "e.g.").
_SENTENCE_END = re.compile(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)\.(?= )")


# -- loading and saving --------------------------------------------------------------------------------------------
def load_config(path: str | os.PathLike | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a recipe (``None``: the defaults) and apply ``overrides`` (``"section.key=value"``) in order.

    ``path`` is a YAML file, or the name of a shipped recipe (:func:`list_recipes`, ``vidact recipes``):
    ``load_config("synthetic_simple3d")``.

    Raises:
        ConfigError: a missing or unparsable file, an unknown key, a value of the wrong type or out of range.
    """
    if path is None:
        cfg = Config()
    else:
        source = os.fspath(path)
        path = find_recipe(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            shipped = ", ".join(list_recipes()) or "none"
            raise ConfigError(f"{source}: no such recipe file (shipped recipes: {shipped})") from None
        except OSError as e:
            raise ConfigError(f"{source}: cannot read the recipe ({e.strerror or e})") from None
        try:
            recipe = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or type(e).__name__
            raise ConfigError(f"{source}: not valid YAML{where} ({problem})") from None
        cfg = Config.from_dict(recipe or {}, source)
    for override in overrides:
        key, value = parse_override(override)
        _assign(cfg, key, value, f"override '{override}'")
    if overrides:
        _check_consistency(cfg, "overrides")
    return cfg


def parse_override(override: str) -> tuple[str, Any]:
    """``"train.lr=0.1"`` -> ``("train.lr", 0.1)``, the value parsed as YAML (``null``, lists, mappings)."""
    key, sep, text = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override '{override}': expected section.key=value")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or type(e).__name__
        raise ConfigError(f"override '{override}': the value is not valid YAML ({problem})") from None
    return key, value


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    """Write the resolved recipe (every key, defaults included) as YAML, atomically; :func:`load_config` reads
    it back."""
    write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None))


# -- checking ------------------------------------------------------------------------------------------------------
def _all_keys() -> list[str]:
    return [f"{s}.{f.name}" for s in _SECTIONS for f in dataclasses.fields(_SECTION_TYPES[s])]


def _suggest(key: str, candidates: list[str]) -> str:
    """`` (did you mean 'x'?)``: the key of another section with the same name, else the closest spelling."""
    last = key.rsplit(".", 1)[-1]
    close = [c for c in candidates if c.rsplit(".", 1)[-1] == last][:1]
    close = close or difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _section(cfg: Config, name: str, source: str) -> Any:
    if name not in _SECTIONS:
        raise ConfigError(f"{source}: unknown section '{name}'{_suggest(name, list(_SECTIONS))}")
    return getattr(cfg, name)


def _assign(cfg: Config, key: str, value: Any, source: str) -> None:
    """Set ``section.key`` (or ``section.key.entry`` of a mapping-valued key) to a checked ``value``."""
    if key == "task":
        key = "task.name"  # the shorthand `task=NAME`
    if key == "imports":
        if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
            raise ConfigError(f"{source}: imports must be a list of module names, got {value!r}")
        import_modules(value, source=source)
        cfg.imports = list(value)
        return
    parts = key.split(".")
    if len(parts) < 2:
        raise ConfigError(f"{source}: unknown key '{key}'{_suggest(key, _all_keys())}; keys are section.key")
    section = _section(cfg, parts[0], source)
    hints = get_type_hints(type(section))
    name = parts[1]
    field_key = f"{parts[0]}.{name}"
    if name not in hints:
        raise ConfigError(f"{source}: unknown key '{field_key}'{_suggest(field_key, _all_keys())}")
    if len(parts) > 2:
        if get_origin(hints[name]) is not dict or len(parts) > 3:
            entry = ".".join(parts[2:])
            raise ConfigError(f"{source}: '{field_key}' has no entry '{entry}' (one level of nesting)")
        getattr(section, name)[parts[2]] = value
        return
    try:
        checked = _coerce(value, hints[name])
    except _Mismatch as e:
        raise ConfigError(f"{source}: {field_key} must be {e.expected}, got {value!r}") from None
    if field_key in _RANGES:
        ok, what = _RANGES[field_key]
        if not ok(checked):
            raise ConfigError(f"{source}: {field_key} must be {what}, got {checked!r}")
    setattr(section, name, checked)


class _Mismatch(Exception):
    def __init__(self, expected: str):
        self.expected = expected


def _describe(tp: Any) -> str:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        names = [_describe(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` checked against the type hint ``tp`` (see the module docstring for the conversions)."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option)
            except _Mismatch:
                pass
        raise _Mismatch(_describe(tp))
    if origin is Literal:
        for choice in args:
            text_match = isinstance(choice, str) and isinstance(value, int) and not isinstance(value, bool)
            if (type(value) is type(choice) and value == choice) or (text_match and str(value) == choice):
                return choice
        raise _Mismatch(_describe(tp))
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch(_describe(tp))
        return [_coerce(v, args[0]) for v in value]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _Mismatch(_describe(tp))
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    raise _Mismatch(_describe(tp))


def _kind(value: Any) -> str:
    return {list: "a list", dict: "a mapping", str: "a string"}.get(type(value), type(value).__name__)


#: key -> (predicate, what the value must be), checked as each key is set.
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "data.fold": (lambda v: v >= 1, "at least 1"),
    "data.clip_len": (lambda v: v >= 1, "at least 1"),
    "data.stride": (lambda v: v >= 1, "at least 1"),
    "data.short_side": (lambda v: v >= 1, "at least 1"),
    "data.crop_size": (lambda v: v >= 1, "at least 1"),
    "data.flip_p": (lambda v: 0.0 <= v <= 1.0, "in [0, 1]"),
    "data.batch_size": (lambda v: v >= 1, "at least 1"),
    "data.num_workers": (lambda v: v >= 0, "0 or more"),
    "train.epochs": (lambda v: v >= 1, "at least 1"),
    "train.lr": (lambda v: v > 0, "positive"),
    "train.momentum": (lambda v: 0.0 <= v < 1.0, "in [0, 1)"),
    "train.weight_decay": (lambda v: v >= 0, "0 or more"),
    "train.layer_decay": (lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
    "train.warmup_epochs": (lambda v: v >= 0, "0 or more"),
    "train.min_lr": (lambda v: v >= 0, "0 or more"),
    "train.milestones": (lambda v: all(m >= 1 for m in v) and v == sorted(set(v)), "increasing epochs >= 1"),
    "train.gamma": (lambda v: v > 0, "positive"),
    "train.label_smoothing": (lambda v: 0.0 <= v < 1.0, "in [0, 1)"),
    "train.mixup_alpha": (lambda v: v >= 0, "0 or more"),
    "train.grad_accum": (lambda v: v >= 1, "at least 1"),
    "train.clip_grad_norm": (lambda v: v is None or v > 0, "positive or null"),
    "train.num_threads": (lambda v: v >= 0, "0 or more"),
    "train.checkpoint_every_steps": (lambda v: v >= 0, "0 or more"),
    "train.val_every": (lambda v: v >= 0, "0 or more"),
    "eval.num_clips": (lambda v: v >= 1, "at least 1"),
    "eval.batch_size": (lambda v: v >= 1, "at least 1"),
}


def _check_consistency(cfg: Config, source: str) -> None:
    """Checks that involve two keys."""
    if cfg.data.crop_size > cfg.data.short_side:
        raise ConfigError(
            f"{source}: data.crop_size ({cfg.data.crop_size}) is larger than data.short_side "
            f"({cfg.data.short_side})"
        )
    try:
        recipe_normalization(dataclasses.asdict(cfg.data), dataclasses.asdict(cfg.model))
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    if (
        cfg.model.pretrained_layout != "vidact"
    ):  # vidact's own needs no converter (nor vidact.models imported)
        from ..models.converters import check_layout

        try:
            check_layout(cfg.model.pretrained_layout)
        except ConfigError as e:
            raise ConfigError(f"{source}: model.pretrained_layout: {e}") from None


def recipe_normalization(
    data: Mapping[str, Any], model: Mapping[str, Any]
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The ``(mean, std)`` on [0, 1] pixel values that a recipe's ``data.normalize`` means (``None``: no
    normalisation): a :data:`~vidact.data.transforms.NORMALIZATIONS` preset, or for ``pretrained`` that of the
    published weights named by ``model.pretrained`` (their :class:`~vidact.data.presets.Preset`'s mean, std and
    value range in one step; read from the catalogue, nothing is downloaded).
    ``data`` and ``model`` are the recipe's sections as plain dicts (a checkpoint's ``config`` holds them so);
    a missing ``normalize`` is the :class:`DataConfig` default.

    Raises:
        ConfigError: an unknown preset, or ``pretrained`` without published RGB video weights in
            ``model.pretrained``.
    """
    from ..data.transforms import NORMALIZATIONS

    name = data.get("normalize", DataConfig.normalize)
    if name is None:
        return None
    if name in NORMALIZATIONS:
        mean, std = NORMALIZATIONS[name]
        return tuple(mean), tuple(std)
    if name != "pretrained":
        choices = ", ".join([*NORMALIZATIONS, "pretrained", "null"])
        raise ConfigError(f"data.normalize: unknown normalization {name!r}; choose from {choices}")
    from ..models.hub import get_weights, is_weights_name

    weights = model.get("pretrained")
    if not weights or not is_weights_name(str(weights)):
        raise ConfigError(
            "data.normalize: 'pretrained' takes the mean and std of published weights, but model.pretrained is "
            f"{weights!r}, not a catalogue name (see `vidact weights list`)"
        )
    preset = get_weights(str(weights)).entry.preset
    if getattr(preset, "channel_order", "RGB") != "RGB" or not hasattr(preset, "normalization"):
        raise ConfigError(
            f"data.normalize: the input of {weights} is not an RGB mean and std; set data.normalize yourself"
        )
    return preset.normalization()


_SECTION_TYPES = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
    "task": TaskConfig,
}
