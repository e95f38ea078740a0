"""The training engine: a recipe in, a run directory out, resumable at any optimizer step.

    >>> from vidact.engine.config import load_config
    >>> from vidact.engine.train import train
    >>> cfg = load_config("configs/synthetic_simple3d.yaml", ["data.root=data/synthetic-temporal"])
    >>> result = train(cfg, "runs/simple3d")    # RunResult: result.best["top1"], result.best_checkpoint, ...

or ``vidact train configs/synthetic_simple3d.yaml data.root=data/synthetic-temporal --out runs/simple3d``.

**The loop.** Lightning Fabric places the model, runs the precision (float32 or bfloat16 autocast) and, under
``torchrun``, the process group and DistributedDataParallel; the loop itself is written out here, because
resuming mid-epoch needs control of the batch order, the random state and the moment of each checkpoint. Each
process reads its own shard of a per-epoch shuffle (:class:`ShardedBatchSampler`, a function of (seed, epoch)
only); the dataset draws each clip from (seed, epoch, index); mixup draws from (seed, epoch, batch, rank);
dropout and everything else that uses the global generators continues from their saved states.

**The run directory.**

====================================  =====================================================================
``config.yaml``                       the resolved recipe (every key)
``metrics.csv``                       one row per epoch: train loss and accuracy (on the labels before mixup),
                                      validation top-1, top-5 and mean class accuracy, learning rate, seconds
``tensorboard/``                      the same per epoch, and the loss and learning rate per optimizer step
``checkpoints/last.ckpt``             model, optimizer, position in the epoch and random states, written at
                                      the end of every epoch and every ``train.checkpoint_every_steps`` steps
``checkpoints/best.ckpt``             the model of the epoch with the best validation top-1
``metrics.json``                      best and final metrics, per-class accuracy, unreadable videos
``confusion_matrix.png``              the best epoch's validation confusion matrix, rows normalised
``per_class_accuracy.csv``            the best epoch's validation accuracy per class
====================================  =====================================================================

Checkpoints use :mod:`vidact.engine.checkpoint`'s format, so ``vidact eval`` and ``vidact predict`` read them.

**Resuming** (``resume=True``, ``--resume``) continues from ``last.ckpt``: the weights, the optimizer, the
step (hence the learning rate), the position in the epoch (the batches already consumed are skipped, not
replayed), the running sums of the epoch's loss and accuracy and each process's random generators. Under
deterministic settings (``train.deterministic``, the same thread count and number of processes) the resumed
run ends with exactly the weights and metrics of a run never stopped. A checkpoint written mid-epoch needs the
same number of processes; one written at the end of an epoch resumes on any number.

**Several processes.** ``torchrun --nproc_per_node=N -m vidact.engine.train RECIPE [key=value ...] --out DIR``
(or ``torchrun ... $(which vidact) train ...``) runs N data-parallel processes, NCCL on GPUs and gloo on CPUs,
across nodes with ``--nnodes``, ``--node_rank`` and a rendezvous endpoint. ``data.batch_size`` is per process.
Only rank 0 writes the run directory, which must be on a file system every node sees to resume.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import math
import os
import random
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric import Fabric
from torch import nn
from torch.utils.data import DataLoader, Sampler
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from ..data.datasets import ClipSampler, VideoClipDataset, build_dataset, collate_clips
from ..data.transforms import eval_transform, train_transform
from ..errors import CheckpointError, ConfigError, DatasetError
from ..models import get_builder, model_card
from ..models.weights import StateDict, load_pretrained, load_weights
from .checkpoint import atomic_save, load_checkpoint, make_checkpoint
from .config import Config, DataConfig, ModelConfig, TrainConfig, save_config
from .metrics import classification_metrics
from .optim import LRSchedule, build_optimizer, mixup, set_lr, soft_cross_entropy, soft_targets
from .report import save_confusion_matrix, save_per_class_accuracy

__all__ = ["RunResult", "ShardedBatchSampler", "train"]

#: Columns of ``metrics.csv`` (and keys of ``RunResult.history`` rows).
HISTORY_COLUMNS = (
    "epoch",
    "step",
    "lr",
    "train_loss",
    "train_acc",
    "val_top1",
    "val_top5",
    "val_mean_class_acc",
    "time",
)


@dataclass
class RunResult:
    """What a training run produced.

    Attributes:
        run_dir: the run directory.
        classes: class names, index = label.
        history: one dict per epoch with the keys of :data:`HISTORY_COLUMNS` (``None`` where there was no
            validation).
        best: the validation metrics of the best epoch (:func:`~vidact.engine.metrics.classification_metrics`
            plus ``"epoch"``), or ``None`` without validation.
        last_checkpoint, best_checkpoint: ``checkpoints/last.ckpt`` and ``checkpoints/best.ckpt`` (``None``
            without validation).
        world_size: the number of processes that trained.
    """

    run_dir: Path
    classes: list[str]
    history: list[dict[str, Any]]
    best: dict[str, Any] | None
    last_checkpoint: Path
    best_checkpoint: Path | None
    world_size: int = 1


class ShardedBatchSampler(Sampler[list[int]]):
    """One process's batches of one epoch: a deterministic function of (seed, epoch, rank, world size).

    With ``shuffle`` the epoch's order is ``torch.randperm`` seeded with ``seed + epoch``; the first
    ``world_size * (N // world_size)`` samples of it are dealt round-robin (process ``rank`` takes positions
    ``rank, rank + world_size, ...``), so every process gets as many samples, hence as many batches. Without
    shuffle (validation) sample ``j`` goes to process ``j % world_size`` and no sample is dropped.

    :meth:`set_epoch` selects the epoch and how many of its batches to skip (resuming mid-epoch); iterating
    yields the remaining batches, lists of sample indices. ``len()`` counts the remaining batches;
    :attr:`batches_per_epoch` all of them.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
    ):
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Iterate epoch ``epoch`` from its batch ``start`` on."""
        self.epoch = epoch
        self.start = start

    def shard(self) -> list[int]:
        """This process's sample indices of the current epoch, in order."""
        if self.shuffle:
            order = torch.randperm(
                self.num_samples, generator=torch.Generator().manual_seed(self.seed + self.epoch)
            )
            order = order[: self.num_samples - self.num_samples % self.world_size].tolist()
        else:
            order = list(range(self.num_samples))
        return order[self.rank :: self.world_size]

    @property
    def batches_per_epoch(self) -> int:
        if self.shuffle:
            shard_size = self.num_samples // self.world_size
        else:
            shard_size = len(range(self.rank, self.num_samples, self.world_size))
        return shard_size // self.batch_size if self.drop_last else math.ceil(shard_size / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        shard = self.shard()
        for b in range(self.start, self.batches_per_epoch):
            yield shard[b * self.batch_size : (b + 1) * self.batch_size]

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start


def train(
    config: Config,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    name: str | None = None,
) -> RunResult:
    """Train a model from a recipe and write a run directory (see the module docstring).

    Args:
        config: the recipe (:func:`vidact.engine.config.load_config`).
        out_dir: the run directory; default ``runs/<name>-<YYYYmmdd-HHMMSS>``.
        resume: continue the run in ``out_dir`` from its ``checkpoints/last.ckpt``.
        progress: progress bars (on rank 0, when stderr is a terminal).
        name: the run's name in the default ``out_dir`` (default: the model's name).

    Returns:
        A :class:`RunResult` (on every process).

    Raises:
        ConfigError: a recipe that cannot run (no ``data.root``, more processes x batch than training videos),
            or a new run into a directory that already holds one.
        DatasetError: the dataset root or its annotations are missing or malformed.
        CheckpointError: resuming without ``last.ckpt``, or from a checkpoint of another model or class list.
    """
    if out_dir is None and resume:
        raise ConfigError("resume needs the run directory (--out) of the run to continue")
    with _torch_settings(config.train):
        fabric = _make_fabric(config.train)
        fabric.launch()
        if out_dir is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out_dir = fabric.broadcast(os.path.join("runs", f"{name or config.model.name}-{stamp}"), src=0)
        return _Run(fabric, config, Path(out_dir), resume=resume, progress=progress).fit()


# -- set-up helpers ----------------------------------------------------------------------------------------------
def _make_fabric(cfg: TrainConfig) -> Fabric:
    """A Fabric for this process: one device, or the process group torchrun describes in the environment."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    return Fabric(
        accelerator=cfg.accelerator,
        devices=local_world_size,
        num_nodes=max(world_size // local_world_size, 1),
        strategy="ddp" if world_size > 1 else "auto",
        precision="bf16-mixed" if cfg.precision == "bf16" else "32-true",
    )


@contextmanager
def _torch_settings(cfg: TrainConfig) -> Iterator[None]:
    """Thread count and deterministic kernels for the run, restored afterwards (the caller's process is ours
    only while training). Operations without a deterministic kernel (some CUDA backward passes) warn."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's condition, before CUDA starts
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def _seed_all(entropy: list[int]) -> None:
    """Seed torch, NumPy and Python's generators from a SeedSequence of ``entropy``."""
    torch_seed, numpy_seed, python_seed = np.random.SeedSequence(entropy).generate_state(3)
    torch.manual_seed(int(torch_seed))
    np.random.seed(int(numpy_seed))
    random.seed(int(python_seed))


def _rng_state() -> dict[str, Any]:
    """This process's global random generators, as tensors and plain values (``weights_only``-loadable)."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached_gaussian],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached_gaussian))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _samplers(data: DataConfig) -> tuple[ClipSampler, ClipSampler]:
    """(training, validation) clip samplers of the recipe."""
    if data.sampler == "segments":
        return ClipSampler.segments(data.clip_len), ClipSampler.segments(data.clip_len, random=False)
    return ClipSampler.random(data.clip_len, data.stride), ClipSampler.center(data.clip_len, data.stride)


def _datasets(
    data: DataConfig, seed: int, validate: bool, progress: bool = True
) -> tuple[VideoClipDataset, VideoClipDataset | None]:
    """The training dataset, and the validation one (same classes) when ``validate``."""
    if not data.root:
        raise ConfigError("data.root is not set: give the folder of the videos (data.root=PATH)")
    train_sampler, val_sampler = _samplers(data)
    options = {
        "short_side": data.short_side, "on_error": data.on_error, "seed": seed, "fold": data.fold,
        "progress": progress,
    }
    train_set = build_dataset(
        data.kind,
        data.root,
        data.train_split,
        sampler=train_sampler,
        annotations=data.annotations,
        classes=data.classes,
        transform=train_transform(
            data.crop_size,
            data.short_side,
            crop=data.train_crop,
            flip_p=data.flip_p,
            normalize=data.normalize,
        ),
        **options,
    )
    if not validate:
        return train_set, None
    # The validation split must use the training labels; layouts with official split files fix them anyway.
    classes = data.classes if data.classes or data.kind in ("ucf101", "hmdb51") else train_set.classes
    val_set = build_dataset(
        data.kind,
        data.val_root or data.root,
        data.val_split,
        sampler=val_sampler,
        annotations=data.val_annotations or data.annotations,
        classes=classes,
        transform=eval_transform(data.crop_size, data.short_side, normalize=data.normalize),
        **options,
    )
    if val_set.classes != train_set.classes:
        raise DatasetError(
            f"{data.val_root or data.root}: the validation split has {len(val_set.classes)} classes and the "
            f"training split {len(train_set.classes)}, or another order; give a label map (data.classes)"
        )
    return train_set, val_set


def _build_model(model: ModelConfig, num_classes: int) -> nn.Module:
    """The recipe's model, with ``model.kwargs`` checked against its builder's signature first.

    Raises:
        ConfigError: an unknown model, or ``model.kwargs`` that the builder does not take.
    """
    builder = get_builder(model.name)
    signature = inspect.signature(builder)
    try:
        signature.bind(num_classes=num_classes, **model.kwargs)
    except TypeError as e:
        takes = ", ".join(name for name in signature.parameters if name != "num_classes")
        raise ConfigError(f"model.kwargs: {e} ({model.name} takes {takes})") from None
    return builder(num_classes=num_classes, **model.kwargs)


def _pretrained_converter(model: ModelConfig) -> Callable[[StateDict], StateDict] | None:
    """The converter of ``model.pretrained_layout`` to the model family's key names (``None``: vidact's)."""
    from ..models.converters import get_converter

    try:
        return get_converter(model_card(model.name).family, model.pretrained_layout, model=model.name)
    except ConfigError as e:
        raise ConfigError(f"model.pretrained_layout: {e}") from None


def _state_checksum(model: nn.Module) -> str:
    """SHA-256 of the model's state_dict (keys, dtypes, shapes and bytes, in order)."""
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _config_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``section.key old -> new`` for every key whose value differs."""
    return [
        f"{section}.{key} {old.get(section, {}).get(key)!r} -> {value!r}"
        for section, entries in new.items()
        for key, value in entries.items()
        if old.get(section, {}).get(key) != value
    ]


# -- the run -----------------------------------------------------------------------------------------------------
@dataclass
class _EpochSums:
    """Running sums of one process over the current epoch's training batches."""

    loss: float = 0.0
    correct: int = 0
    samples: int = 0


@dataclass
class _Position:
    """Where training stands: the epoch in progress, batches of it consumed, optimizer steps taken."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    sums: _EpochSums = field(default_factory=_EpochSums)


class _Run:
    """One training run: set-up, the epoch loop, checkpoints and reports. Used through :func:`train`."""

    def __init__(self, fabric: Fabric, cfg: Config, run_dir: Path, *, resume: bool, progress: bool):
        self.fabric = fabric
        self.cfg = cfg
        self.run_dir = run_dir
        self.rank, self.world_size = fabric.global_rank, fabric.world_size
        self.is_main = fabric.is_global_zero
        self.show_bars = progress and self.is_main and sys.stderr.isatty()
        self.last_path = run_dir / "checkpoints" / "last.ckpt"
        self.best_path = run_dir / "checkpoints" / "best.ckpt"
        self.tensorboard: SummaryWriter | None = None
        resume_from = self._checkpoint_to_resume() if resume else None
        if not resume and self.last_path.exists():
            raise ConfigError(
                f"{run_dir}: already holds a run (checkpoints/last.ckpt); continue it with --resume "
                "or choose another --out"
            )

        train_cfg = cfg.train
        validate = train_cfg.val_every > 0
        # Rank 0 probes the videos and writes the metadata cache first; the other processes then read it.
        with fabric.rank_zero_first():
            self.train_set, self.val_set = _datasets(cfg.data, train_cfg.seed, validate, self.show_bars)
        self.classes = list(self.train_set.classes)
        self.num_classes = len(self.classes)

        self.train_batches = ShardedBatchSampler(
            len(self.train_set),
            cfg.data.batch_size,
            rank=self.rank,
            world_size=self.world_size,
            shuffle=True,
            seed=train_cfg.seed,
            drop_last=True,
        )
        if self.train_batches.batches_per_epoch == 0:
            raise ConfigError(
                f"data.batch_size {cfg.data.batch_size} x {self.world_size} process(es) is more than the "
                f"{len(self.train_set)} training videos"
            )
        self.train_loader = self._loader(self.train_set, self.train_batches)
        self.val_loader = None
        if self.val_set is not None:
            val_batches = ShardedBatchSampler(
                len(self.val_set),
                cfg.data.batch_size,
                rank=self.rank,
                world_size=self.world_size,
                shuffle=False,
                drop_last=False,
            )
            self.val_loader = self._loader(self.val_set, val_batches)

        _seed_all([train_cfg.seed])  # the same initial weights in every process
        model = _build_model(cfg.model, self.num_classes)
        if cfg.model.pretrained:
            # Weights of another class count (fine-tuning on new classes) leave their classifier out.
            notice = load_pretrained(
                model,
                cfg.model.pretrained,
                classifier=model_card(cfg.model.name).classifier,
                converter=_pretrained_converter(cfg.model),
            )
            if notice is not None and self.is_main:
                warnings.warn(notice, stacklevel=2)
        optimizer = build_optimizer(
            model,
            train_cfg.optimizer,
            lr=train_cfg.lr,
            momentum=train_cfg.momentum,
            weight_decay=train_cfg.weight_decay,
        )
        self.model, self.optimizer = fabric.setup(model, optimizer)

        steps_per_epoch = math.ceil(self.train_batches.batches_per_epoch / train_cfg.grad_accum)
        self.schedule = LRSchedule(
            train_cfg.lr,
            total_steps=train_cfg.epochs * steps_per_epoch,
            warmup_steps=round(train_cfg.warmup_epochs * steps_per_epoch),
            kind=train_cfg.schedule,
            min_lr=train_cfg.min_lr,
            milestones=tuple(m * steps_per_epoch for m in train_cfg.milestones),
            gamma=train_cfg.gamma,
        )

        self.position = _Position()
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.failures: Counter[tuple[str, str, str]] = Counter()  # (split, path, reason) -> items replaced
        if resume_from is not None:
            self._restore(resume_from)
        else:
            _seed_all([train_cfg.seed, self.rank])  # dropout and the like differ between processes

    # -- data ---------------------------------------------------------------------------------------------------
    def _loader(self, dataset: VideoClipDataset, batches: ShardedBatchSampler) -> DataLoader:
        workers = self.cfg.data.num_workers
        return DataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=workers,
            collate_fn=collate_clips,
            pin_memory=self.fabric.device.type == "cuda",
            persistent_workers=workers > 0,
            # A generator of its own: creating an iterator must not draw from torch's global generator, whose
            # state a resumed run restores at a point where the uninterrupted run had no iterator to create.
            generator=torch.Generator().manual_seed(self.cfg.train.seed),
        )

    def _note_failures(self, metas: list[dict[str, Any]], split: str) -> None:
        """Count the items that replaced an unreadable video (``meta["skipped"]``, see VideoClipDataset)."""
        for meta in metas:
            for failure in meta["skipped"]:
                self.failures[(split, failure.path, failure.reason)] += 1

    # -- resuming -----------------------------------------------------------------------------------------------
    def _checkpoint_to_resume(self) -> dict[str, Any]:
        if not self.last_path.is_file():
            raise CheckpointError(f"{self.last_path}: no checkpoint to resume from")
        ckpt, path = load_checkpoint(self.last_path)
        model = self.cfg.model
        if ckpt["model_name"] != model.name or ckpt["model_kwargs"] != model.kwargs:
            raise CheckpointError(
                f"{path}: made for model {ckpt['model_name']} {ckpt['model_kwargs']}, but the recipe trains "
                f"{model.name} {model.kwargs}"
            )
        if "train_state" not in ckpt:
            raise CheckpointError(f"{path}: holds no training state to resume from")
        return ckpt

    def _restore(self, ckpt: dict[str, Any]) -> None:
        path = self.last_path
        if ckpt["classes"] != self.classes:
            raise CheckpointError(
                f"{path}: trained on {ckpt['num_classes']} classes that differ from the dataset's "
                f"{self.num_classes} (first: {ckpt['classes'][:3]} vs {self.classes[:3]})"
            )
        changes = _config_changes(ckpt["config"], self.cfg.to_dict())
        if changes and self.is_main:
            warnings.warn(
                f"resuming {self.run_dir} with a changed recipe: {'; '.join(changes)}", stacklevel=3
            )
        state = ckpt["train_state"]
        load_weights(self.model.module, ckpt["state_dict"], source=str(path))
        self.optimizer.load_state_dict(state["optimizer"])
        self.history = list(state["history"])
        self.best = state["best"]
        self.position = _Position(epoch=state["epoch"], batch=state["batch"], step=state["step"])
        same_layout = (
            state["world_size"] == self.world_size
            and state["batches_per_epoch"] == self.train_batches.batches_per_epoch
        )
        if self.position.batch and not same_layout:
            raise CheckpointError(
                f"{path}: written mid-epoch by {state['world_size']} process(es) with "
                f"{state['batches_per_epoch']} batches per epoch; resume it with as many processes and the "
                "same batch size"
            )
        processes = state["processes"]
        if same_layout:
            own = processes[self.rank]
            self.position.sums = _EpochSums(**own["sums"])
            _set_rng_state(own["rng"])
            restored = [own]
        else:  # at an epoch's end, on another number of processes: fresh generators, rank 0 keeps the counts
            _seed_all([self.cfg.train.seed, self.rank, self.position.epoch])
            restored = processes if self.rank == 0 else []
        for own in restored:
            self.failures.update({tuple(key): count for key, count in own["failures"]})

    def _gather(self, obj: Any) -> list[Any]:
        """``obj`` of every process, in rank order."""
        if self.world_size == 1:
            return [obj]
        gathered: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(gathered, obj)
        return gathered

    def _gather_tensor(self, tensor: torch.Tensor) -> torch.Tensor:
        """Equal-shape tensors of every process stacked in rank order: [world_size, ...]."""
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, tensor.contiguous())
        return torch.stack(parts)

    def _average_buffers(self) -> None:
        """Average the floating-point buffers (batch-norm statistics) over the processes.

        DDP copies rank 0's buffers to every process before each forward pass, so after the last one of an
        epoch each process holds statistics updated by its own batch; averaging makes the replicas identical
        again before validation and checkpoints.
        """
        for buffer in self.model.module.buffers():
            if buffer.is_floating_point():
                torch.distributed.all_reduce(buffer, op=torch.distributed.ReduceOp.SUM)
                buffer.div_(self.world_size)

    # -- checkpoints --------------------------------------------------------------------------------------------
    def _save_last(self) -> None:
        """Write ``last.ckpt`` at the current position (a collective: every process calls it)."""
        own = {
            "rng": _rng_state(),
            "sums": asdict(self.position.sums),
            "failures": [[list(key), count] for key, count in self.failures.items()],
        }
        processes = self._gather(own)
        if not self.is_main:
            return
        train_state = {
            "epoch": self.position.epoch,
            "batch": self.position.batch,
            "step": self.position.step,
            "optimizer": self.optimizer.state_dict(),
            "world_size": self.world_size,
            "batches_per_epoch": self.train_batches.batches_per_epoch,
            "processes": processes,
            "history": self.history,
            "best": self.best,
        }
        atomic_save(self._checkpoint(train_state=train_state, metrics=self.best), self.last_path)

    def _checkpoint(self, **extra: Any) -> dict[str, Any]:
        return make_checkpoint(
            self.model,
            model_name=self.cfg.model.name,
            model_kwargs=self.cfg.model.kwargs,
            classes=self.classes,
            config=self.cfg.to_dict(),
            **extra,
        )

    # -- training -----------------------------------------------------------------------------------------------
    def fit(self) -> RunResult:
        cfg = self.cfg.train
        if self.is_main:
            save_config(self.cfg, self.run_dir / "config.yaml")
            self.tensorboard = SummaryWriter(
                self.run_dir / "tensorboard", purge_step=self.position.step or None
            )
        try:
            epochs = tqdm(
                range(self.position.epoch, cfg.epochs),
                initial=self.position.epoch,
                total=cfg.epochs,
                desc="epochs",
                unit="epoch",
                disable=not self.show_bars,
            )
            for epoch in epochs:
                started = time.perf_counter()
                self._train_epoch(epoch)
                row = self._end_epoch(epoch, time.perf_counter() - started)
                self._log(row)
            return self._finish()
        finally:
            if self.tensorboard is not None:
                self.tensorboard.close()

    def _train_epoch(self, epoch: int) -> None:
        cfg, fabric, position = self.cfg.train, self.fabric, self.position
        batches = self.train_batches
        batches.set_epoch(epoch, position.batch)
        self.train_set.set_epoch(epoch)
        self.model.train()
        num_batches = batches.batches_per_epoch
        bar = tqdm(
            total=num_batches,
            initial=position.batch,
            desc=f"epoch {epoch + 1}",
            unit="batch",
            leave=False,
            disable=not self.show_bars,
        )
        group_loss = 0.0
        for index, batch in enumerate(self.train_loader, start=position.batch):
            self._note_failures(batch["meta"], "train")
            clips = fabric.to_device(batch["video"])
            labels = fabric.to_device(batch["label"])
            # Micro-batches form groups of grad_accum (the last group of an epoch may be shorter); each loss
            # is divided by its group's size, so a step's gradient is that of the mean loss over the group.
            group_start = index - index % cfg.grad_accum
            group_size = min(cfg.grad_accum, num_batches - group_start)
            steps_now = index + 1 == group_start + group_size
            targets = soft_targets(labels, self.num_classes, cfg.label_smoothing)
            if cfg.mixup_alpha > 0:
                rng = np.random.default_rng([cfg.seed, epoch, index, self.rank])
                clips, targets = mixup(clips, targets, cfg.mixup_alpha, rng)
            with fabric.no_backward_sync(self.model, enabled=self.world_size > 1 and not steps_now):
                logits = self.model(clips)
                loss = soft_cross_entropy(logits, targets)
                fabric.backward(loss / group_size)
            batch_loss = float(loss.detach())
            group_loss += batch_loss / group_size
            position.sums.loss += batch_loss * len(labels)
            position.sums.correct += int((logits.detach().argmax(dim=1) == labels).sum())
            position.sums.samples += len(labels)
            position.batch = index + 1
            if steps_now:
                lr = self.schedule(position.step)
                set_lr(self.optimizer, lr)
                if cfg.clip_grad_norm is not None:
                    fabric.clip_gradients(self.model, self.optimizer, max_norm=cfg.clip_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                position.step += 1
                if self.tensorboard is not None:
                    self.tensorboard.add_scalar("step/train_loss", group_loss, position.step)
                    self.tensorboard.add_scalar("step/lr", lr, position.step)
                group_loss = 0.0
                every = cfg.checkpoint_every_steps
                if every and position.step % every == 0 and position.batch < num_batches:
                    self._save_last()
            bar.update(1)
            bar.set_postfix(loss=f"{batch_loss:.3f}", lr=f"{self._current_lr():.2e}")
        bar.close()

    def _current_lr(self) -> float:
        """The learning rate of the last optimizer step (of the first one before any)."""
        return self.schedule(max(self.position.step - 1, 0))

    @torch.no_grad()
    def _validate(self) -> dict[str, Any]:
        """Metrics of the whole validation set: each process scores its shard, the scores are gathered."""
        assert self.val_loader is not None and self.val_set is not None
        # The plain module, not the DDP wrapper: shards differ in length, so no collective may run per batch.
        module = self.model.module
        module.eval()
        scores, labels = [], []
        for batch in self.val_loader:
            self._note_failures(batch["meta"], "val")
            with self.fabric.autocast():
                logits = module(self.fabric.to_device(batch["video"]))
            scores.append(logits.float())
            labels.append(self.fabric.to_device(batch["label"]))
        module.train()
        num_samples = len(self.val_set)
        scores_t = (
            torch.cat(scores) if scores else torch.zeros(0, self.num_classes, device=self.fabric.device)
        )
        labels_t = (
            torch.cat(labels) if labels else torch.zeros(0, dtype=torch.int64, device=self.fabric.device)
        )
        if self.world_size > 1:
            # Shard r holds samples r, r + W, ...: pad shards to the longest, gather [W, L, ...], interleave.
            longest = math.ceil(num_samples / self.world_size)
            pad = longest - len(labels_t)
            scores_t = torch.cat([scores_t, scores_t.new_zeros(pad, self.num_classes)])
            labels_t = torch.cat([labels_t, labels_t.new_zeros(pad)])
            scores_t = self._gather_tensor(scores_t).transpose(0, 1).reshape(-1, self.num_classes)
            labels_t = self._gather_tensor(labels_t).transpose(0, 1).reshape(-1)
        return classification_metrics(
            scores_t[:num_samples].cpu(), labels_t[:num_samples].cpu(), self.num_classes
        )

    def _end_epoch(self, epoch: int, seconds: float) -> dict[str, Any]:
        """Reduce the epoch's sums, validate when due, write the checkpoints; returns the history row."""
        cfg, position = self.cfg.train, self.position
        sums = torch.tensor(
            [position.sums.loss, position.sums.correct, position.sums.samples],
            dtype=torch.float64,
            device=self.fabric.device,
        )
        loss_sum, correct, samples = self.fabric.all_reduce(sums, reduce_op="sum").tolist()
        if self.world_size > 1:
            self._average_buffers()
        row: dict[str, Any] = dict.fromkeys(HISTORY_COLUMNS)
        row.update(
            epoch=epoch + 1,
            step=position.step,
            lr=self._current_lr(),
            train_loss=loss_sum / samples,
            train_acc=correct / samples,
        )
        last_epoch = epoch + 1 == cfg.epochs
        if self.val_loader is not None and ((epoch + 1) % cfg.val_every == 0 or last_epoch):
            metrics = self._validate()
            row.update(
                val_top1=metrics["top1"],
                val_top5=metrics["top5"],
                val_mean_class_acc=metrics["mean_class_acc"],
            )
            if self.best is None or metrics["top1"] > self.best["top1"]:
                self.best = {"epoch": epoch + 1, **metrics}
                if self.is_main:
                    atomic_save(self._checkpoint(metrics=self.best), self.best_path)
        row["time"] = seconds
        self.history.append(row)
        self.position = _Position(epoch=epoch + 1, batch=0, step=position.step)
        self._save_last()
        return row

    def _log(self, row: dict[str, Any]) -> None:
        """Rewrite ``metrics.csv``, log the row to TensorBoard and print a summary line (rank 0)."""
        if not self.is_main:
            return
        self._write_history()
        for key in HISTORY_COLUMNS[2:]:
            if row[key] is not None:
                self.tensorboard.add_scalar(f"epoch/{key}", row[key], row["epoch"])
        line = (
            f"epoch {row['epoch']}/{self.cfg.train.epochs}: train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.4f}"
        )
        if row["val_top1"] is not None:
            line += (
                f", val top-1 {row['val_top1']:.4f} top-5 {row['val_top5']:.4f} "
                f"mean class {row['val_mean_class_acc']:.4f}"
            )
        tqdm.write(f"{line}, lr {row['lr']:.3g}, {row['time']:.1f} s")  # above the progress bars, if any

    def _write_history(self) -> None:
        """``metrics.csv``: the history, one row per epoch (written whole, so a resumed run repeats none)."""
        with open(self.run_dir / "metrics.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS)
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in self.history)

    def _finish(self) -> RunResult:
        """Check that the processes agree, write ``metrics.json`` and the best epoch's reports."""
        checksums = self._gather(_state_checksum(self.model.module))
        failures = Counter()
        for counts in self._gather(list(self.failures.items())):
            failures.update(dict(counts))
        if self.is_main:
            if len(set(checksums)) > 1:
                warnings.warn(f"the processes ended with different weights: {checksums}", stacklevel=3)
            self._write_history()
            self._write_reports(checksums, failures)
        self.fabric.barrier()
        return RunResult(
            run_dir=self.run_dir,
            classes=self.classes,
            history=self.history,
            best=self.best,
            last_checkpoint=self.last_path,
            best_checkpoint=self.best_path if self.best is not None else None,
            world_size=self.world_size,
        )

    def _write_reports(self, checksums: list[str], failures: Counter[tuple[str, str, str]]) -> None:
        best = self.best
        summary: dict[str, Any] = {
            "model": self.cfg.model.name,
            "classes": self.classes,
            "world_size": self.world_size,
            "epochs": self.cfg.train.epochs,
            "steps": self.position.step,
            "final": self.history[-1] if self.history else None,
            "best": None,
            "per_class_accuracy": None,
            "bad_videos": {
                "train": [{"path": p, "reason": r} for p, r in self.train_set.bad_videos],
                "val": [{"path": p, "reason": r} for p, r in self.val_set.bad_videos] if self.val_set else [],
            },
            "decode_failures": [
                {"split": split, "path": path, "reason": reason, "items_replaced": count}
                for (split, path, reason), count in sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "replica_checksums": checksums,
        }
        if best is not None:
            summary["best"] = best
            summary["per_class_accuracy"] = dict(zip(self.classes, best["per_class_acc"], strict=True))
            save_confusion_matrix(
                best["confusion_matrix"],
                self.classes,
                self.run_dir / "confusion_matrix.png",
                title=f"Validation, epoch {best['epoch']}: top-1 {best['top1']:.3f} (rows normalised)",
            )
            save_per_class_accuracy(
                best["confusion_matrix"], self.classes, self.run_dir / "per_class_accuracy.csv"
            )
        with open(self.run_dir / "metrics.json", "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")


# `python -m vidact.engine.train ...` and `torchrun ... -m vidact.engine.train ...` are `vidact train ...`.
if __name__ == "__main__":
    from vidact.cli import main

    main(["train", *sys.argv[1:]])
