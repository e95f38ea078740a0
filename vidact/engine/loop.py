"""The generic training loop: a recipe and a task in, a run directory out, resumable at any optimizer step.

    >>> from vidact.engine.config import load_config
    >>> from vidact.engine.loop import train
    >>> cfg = load_config("configs/synthetic_simple3d.yaml", ["data.root=data/synthetic-temporal"])
    >>> result = train(cfg, "runs/simple3d")    # RunResult: result.best["top1"], result.best_checkpoint, ...

or ``vidact train configs/synthetic_simple3d.yaml data.root=data/synthetic-temporal --out runs/simple3d``.

**What the loop owns, and what a task owns.** The recipe's ``task`` (:mod:`vidact.engine.tasks`; default
``classification``) builds the datasets and the network, computes a batch's named losses, and turns validation
outputs into metrics and reports. The loop knows none of that: it runs the process group, the batch order, the
random state, the optimizer and schedule, gradient accumulation and clipping, precision and memory layout,
checkpoints, ``metrics.csv``, TensorBoard, the console line, progress bars and ``metrics.json``'s common part.

**The loop.** Lightning Fabric places the model, runs the precision (float32 or bfloat16 autocast) and, under
``torchrun``, the process group and DistributedDataParallel; the loop itself is written out here, because
resuming mid-epoch needs control of the batch order, the random state and the moment of each checkpoint. Each
process reads its own shard of a per-epoch shuffle (:class:`~vidact.engine.sampler.ShardedBatchSampler`, a
function of (seed, epoch) only); the dataset draws each clip from (seed, epoch, index); a step's own draws
(mixup, masks) come from a generator seeded with (seed, epoch, batch, rank); dropout and everything else that
uses the global generators continues from their saved states.

**Precision and layout.** ``train.precision: auto`` (the default) is bfloat16 autocast on CPUs with native
bfloat16 (AVX512-BF16, AMX) and on GPUs that have it, float32 elsewhere; ``train.memory_format: auto`` stores
the weights and clips channels-last under bfloat16 (:mod:`vidact.engine.precision`). Weights, gradients and
optimizer state are float32 either way, and runs stay bit-exact on resume.

**The run directory.**

====================================  =====================================================================
``config.yaml``                       the resolved recipe (every key)
``metrics.csv``                       one row per epoch: step, learning rate, the training means (total loss,
                                      each named loss when there are several, the task's statistics), the
                                      task's validation metrics, seconds (:meth:`Task.history_columns`),
                                      then ``data_wait``: the share of the training pass spent waiting
                                      for batches (0: the model is the limit; 1: decoding is)
``tensorboard/``                      the same per epoch, and the loss and learning rate per optimizer step
``checkpoints/last.ckpt``             model, optimizer, position in the epoch and random states, written at
                                      the end of every epoch and every ``train.checkpoint_every_steps`` steps
``checkpoints/best.ckpt``             the model of the epoch with the best validation ``task.monitor``
``metrics.json``                      best and final metrics, the history, steps, processes, unreadable
                                      videos, the task's entries (classification: classes, per-class
                                      accuracy)
the task's reports                    classification: ``confusion_matrix.png``, ``per_class_accuracy.csv``
====================================  =====================================================================

Checkpoints use :mod:`vidact.engine.checkpoint`'s format, so ``vidact eval`` and ``vidact predict`` read them.
Every file is written atomically (:mod:`vidact._atomic`).

**Resuming** (``resume=True``, ``--resume``) continues from ``last.ckpt``: the weights, the optimizer, the
step (hence the learning rate), the position in the epoch (the batches already consumed are skipped, not
replayed), the running sums of the epoch's losses and statistics and each process's random generators. Under
deterministic settings (``train.deterministic``, the same thread count and number of processes) the resumed
run ends with exactly the weights and metrics of a run never stopped. A checkpoint written mid-epoch needs the
same number of processes; one written at the end of an epoch resumes on any number.

**Several processes.** ``torchrun --nproc_per_node=N -m vidact train RECIPE [key=value ...] --out DIR``
runs N data-parallel processes, NCCL on GPUs and gloo on CPUs, across nodes with ``--nnodes``, ``--node_rank``
and a rendezvous endpoint. ``data.batch_size`` is per process. Only rank 0 writes the run directory, which must
be on a file system every node sees to resume.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import os
import random
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric import Fabric
from lightning_utilities.core import rank_zero as lightning_rank_zero
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from .._atomic import write_json, write_text
from ..errors import CheckpointError, ConfigError
from ..models.weights import load_weights
from .checkpoint import atomic_save, load_checkpoint, make_checkpoint
from .config import Config, TrainConfig, save_config
from .optim import LRSchedule, build_optimizer, enable_grad_checkpointing, set_lr
from .precision import NumericSettings, batch_to_memory_format, resolve_settings, to_memory_format
from .sampler import ShardedBatchSampler
from .tasks import StepOutput, Task, build_task

__all__ = ["RunResult", "train", "state_checksum", "history_columns"]

#: Columns the loop adds to a task's ``metrics.csv`` (:func:`history_columns`).
LOOP_COLUMNS = ("data_wait",)


def history_columns(task: Task | type[Task]) -> tuple[str, ...]:
    """The columns of a run's ``metrics.csv`` (and keys of its history rows): the task's
    (:meth:`Task.history_columns`, ending with ``time``), then ``data_wait``: the fraction of the epoch's
    training pass spent waiting for the DataLoader (see :class:`_DataWait`)."""
    return (*task.history_columns(), *LOOP_COLUMNS)


@dataclass
class RunResult:
    """What a training run produced.

    Attributes:
        run_dir: the run directory.
        classes: the names of the model's outputs (class names for classification; index = label).
        history: one dict per epoch with the keys of the task's ``history_columns()`` (``None`` where there was
            no validation).
        best: the validation metrics of the best epoch (the task's ``validation_metrics`` plus ``"epoch"``), or
            ``None`` without validation.
        last_checkpoint, best_checkpoint: ``checkpoints/last.ckpt`` and ``checkpoints/best.ckpt`` (``None``
            without validation).
        world_size: the number of processes that trained.
        precision, memory_format: the resolved ``train.precision`` and ``train.memory_format``.
    """

    run_dir: Path
    classes: list[str]
    history: list[dict[str, Any]]
    best: dict[str, Any] | None
    last_checkpoint: Path
    best_checkpoint: Path | None
    world_size: int = 1
    precision: str = "32"
    memory_format: str = "contiguous"


def train(
    config: Config,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    name: str | None = None,
) -> RunResult:
    """Train the recipe's task and write a run directory (see the module docstring).

    Args:
        config: the recipe (:func:`vidact.engine.config.load_config`).
        out_dir: the run directory; default ``runs/<name>-<YYYYmmdd-HHMMSS>``.
        resume: continue the run in ``out_dir`` from its ``checkpoints/last.ckpt``.
        progress: progress bars (on rank 0, when stderr is a terminal).
        name: the run's name in the default ``out_dir`` (default: the model's name).

    Returns:
        A :class:`RunResult` (on every process).

    Raises:
        ConfigError: a recipe that cannot run (an unknown task, no ``data.root``, more processes x batch than
            training samples), or a new run into a directory that already holds one.
        DatasetError: the dataset root or its annotations are missing or malformed.
        CheckpointError: resuming without ``last.ckpt``, or from a checkpoint of another task, model or class
            list.
    """
    if out_dir is None and resume:
        raise ConfigError("resume needs the run directory (--out) of the run to continue")
    task = build_task(config)  # an unknown task or bad task.kwargs fail before any process starts
    with _torch_settings(config.train):
        fabric, settings = _make_fabric(config.train)
        fabric.launch()
        if out_dir is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out_dir = fabric.broadcast(os.path.join("runs", f"{name or config.model.name}-{stamp}"), src=0)
        run = _Run(fabric, settings, config, task, Path(out_dir), resume=resume, progress=progress)
        return run.fit()


def state_checksum(model: nn.Module) -> str:
    """SHA-256 of the model's state_dict (keys, dtypes, shapes and bytes in logical order, whatever the layout)."""
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# -- set-up helpers ----------------------------------------------------------------------------------------------
def _make_fabric(cfg: TrainConfig) -> tuple[Fabric, NumericSettings]:
    """A Fabric for this process (one device, or the process group torchrun describes in the environment) and
    the precision and memory layout resolved for its device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    options = {
        "accelerator": cfg.accelerator,
        "devices": local_world_size,
        "num_nodes": max(world_size // local_world_size, 1),
        "strategy": "ddp" if world_size > 1 else "auto",
    }
    device = Fabric(**options, precision="32-true").device  # where this process would run: nothing starts yet
    settings = resolve_settings(cfg.precision, cfg.memory_format, device=device)
    # Fabric announces mixed precision on every construction; metrics.json and RunResult record it instead.
    announcer = lightning_rank_zero.log  # the logger Lightning's rank_zero_info writes to
    level = announcer.level
    announcer.setLevel(logging.WARNING)
    try:
        return Fabric(**options, precision=settings.fabric_precision), settings
    finally:
        announcer.setLevel(level)


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


def _config_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``section.key old -> new`` for every key whose value differs."""
    return [
        f"{section}.{key} {old.get(section, {}).get(key)!r} -> {value!r}"
        for section, entries in new.items()
        if isinstance(entries, dict)  # not the top-level `imports` list
        for key, value in entries.items()
        if old.get(section, {}).get(key) != value
    ]


def _interleave(parts: list[Tensor], num_samples: int) -> Tensor:
    """Validation shards back in dataset order: shard ``r`` holds samples ``r, r + W, ...`` ([N_r, ...] each)."""
    first = next(part for part in parts if len(part))
    out = first.new_empty(num_samples, *first.shape[1:])
    for rank, part in enumerate(parts):
        out[rank :: len(parts)] = part
    return out


class _DataWait:
    """How long a training pass waits for its batches: the seconds spent creating the DataLoader's iterator
    (starting its workers) and blocked in its ``next()``, out of the pass's wall time.

    Near 0, the model is the limit (the workers keep ahead of the steps); near 1, the input pipeline is (decoding
    and transforms: more ``data.num_workers``, smaller decoded frames).
    """

    def __init__(self) -> None:
        self.waited = 0.0
        self.started = time.perf_counter()

    def batches(self, loader: DataLoader) -> Iterator[Any]:
        """The loader's batches (:func:`_fetch`), timing how long each takes to arrive (the first: with the
        iterator's creation)."""
        batches = _fetch(loader)
        while True:
            begin = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                return
            finally:
                self.waited += time.perf_counter() - begin
            yield batch

    @property
    def elapsed(self) -> float:
        """Wall seconds since the pass started."""
        return time.perf_counter() - self.started

    @property
    def share(self) -> float:
        """The fraction of the wall time so far spent waiting, in [0, 1]."""
        return min(self.waited / max(self.elapsed, 1e-9), 1.0)


def _fetch(loader: DataLoader) -> Iterator[Any]:
    """The loader's batches, each loaded under :func:`_loading_threads`."""
    iterator = iter(loader)
    while True:
        with _loading_threads(loader):
            try:
                batch = next(iterator)
            except StopIteration:
                return
        yield batch


@contextmanager
def _loading_threads(loader: DataLoader) -> Iterator[None]:
    """One torch thread while a loader without workers loads in this process, as in a DataLoader worker.

    A clip's transforms are small element-wise operations (a 16x32x32 clip is 49,152 values): split across
    threads they wait for one another, and on a busy machine each one waits for a core, which made an item of
    the tour's recipe take 73-141 ms to load with 2 threads against 11 ms with one. The values are the same.
    """
    threads = torch.get_num_threads()
    if loader.num_workers or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _interleave_lists(parts: list[list[Any]], num_samples: int, key: str) -> list[Any]:
    """Per-sample validation outputs (``key``'s) back in dataset order: shard ``r`` holds samples
    ``r, r + W, ...`` (a list each)."""
    out: list[Any] = [None] * num_samples
    for rank, part in enumerate(parts):
        expected = len(range(rank, num_samples, len(parts)))
        if len(part) != expected:
            raise ConfigError(
                f"validation output {key!r}: process {rank} returned {len(part)} per-sample items for its "
                f"{expected} samples (a list output needs one item per sample of each batch)"
            )
        out[rank :: len(parts)] = part
    return out


def _detached(value: Any) -> Any:
    """A per-sample validation output with every tensor in it (in lists, tuples and dicts too) detached and on
    the CPU, ready to be gathered."""
    if isinstance(value, Tensor):
        return value.detach().cpu()
    if isinstance(value, (list, tuple)):
        return type(value)(_detached(v) for v in value)
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    return value


# -- the run -----------------------------------------------------------------------------------------------------
@dataclass
class _Position:
    """Where training stands: the epoch in progress, batches of it consumed, optimizer steps taken, and this
    process's running sums over the epoch's batches (``samples``, ``loss``, each named loss, each statistic)."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    sums: dict[str, float] = field(default_factory=dict)


class _Run:
    """One training run: set-up, the epoch loop, checkpoints and reports. Used through :func:`train`."""

    def __init__(
        self,
        fabric: Fabric,
        settings: NumericSettings,
        cfg: Config,
        task: Task,
        run_dir: Path,
        *,
        resume: bool,
        progress: bool,
    ):
        self.fabric, self.settings, self.cfg, self.task, self.run_dir = fabric, settings, cfg, task, run_dir
        self.rank, self.world_size = fabric.global_rank, fabric.world_size
        self.is_main = fabric.is_global_zero
        self.show_bars = progress and self.is_main and sys.stderr.isatty()
        self.columns = history_columns(task)
        self.sum_keys = ("samples", "loss", *task.loss_names, *task.train_stats)
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
        # Rank 0 probes the videos and writes the metadata cache first; the other processes then read it.
        with fabric.rank_zero_first():
            data = task.build_data(
                seed=train_cfg.seed, validate=train_cfg.val_every > 0, progress=self.show_bars
            )
        self.train_set, self.val_set, self.collate = data.train, data.val, data.collate
        self.classes = list(task.outputs)

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
        with warnings.catch_warnings():
            if not self.is_main:
                warnings.simplefilter("ignore")  # notices (pretrained weights) once, from rank 0
            model = to_memory_format(task.build_model(), settings.memory_format)
        if train_cfg.grad_checkpointing:
            enable_grad_checkpointing(model, cfg.model.name)
        optimizer = build_optimizer(
            model,
            train_cfg.optimizer,
            lr=train_cfg.lr,
            momentum=train_cfg.momentum,
            weight_decay=train_cfg.weight_decay,
            layer_decay=train_cfg.layer_decay,
            model_name=cfg.model.name,
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

        self.position = self._fresh_position()
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self._epoch_metrics: dict[str, Any] | None = None  # the validation of the epoch just ended, if any
        self._data_wait_seconds = (0.0, 0.0)  # the last training pass's (seconds waiting for data, seconds)
        self.failures: Counter[tuple[str, str, str]] = Counter()  # (split, path, reason) -> items replaced
        if resume_from is not None:
            self._restore(resume_from)
        else:
            _seed_all([train_cfg.seed, self.rank])  # dropout and the like differ between processes

    def _fresh_position(self, epoch: int = 0, step: int = 0) -> _Position:
        return _Position(epoch=epoch, batch=0, step=step, sums=dict.fromkeys(self.sum_keys, 0.0))

    # -- data ---------------------------------------------------------------------------------------------------
    def _loader(self, dataset: Dataset, batches: ShardedBatchSampler) -> DataLoader:
        workers = self.cfg.data.num_workers
        return DataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=workers,
            collate_fn=self.collate,
            pin_memory=self.fabric.device.type == "cuda",
            persistent_workers=workers > 0,
            # A generator of its own: creating an iterator must not draw from torch's global generator, whose
            # state a resumed run restores at a point where the uninterrupted run had no iterator to create.
            generator=torch.Generator().manual_seed(self.cfg.train.seed),
        )

    def _to_device(self, batch: dict[str, Any], split: str) -> dict[str, Any]:
        """Count the batch's replaced videos; its tensors on the device, the task's clips in the run's layout."""
        for path, reason in self.task.failures(batch):
            self.failures[(split, path, reason)] += 1
        memory_format = self.settings.memory_format
        moved = {
            key: self.fabric.to_device(value) if isinstance(value, Tensor) else value
            for key, value in batch.items()
        }
        for key in self.task.clip_keys:
            if key in moved:
                moved[key] = batch_to_memory_format(moved[key], memory_format)
        return moved

    # -- resuming -----------------------------------------------------------------------------------------------
    def _checkpoint_to_resume(self) -> dict[str, Any]:
        if not self.last_path.is_file():
            raise CheckpointError(f"{self.last_path}: no checkpoint to resume from")
        ckpt, path = load_checkpoint(self.last_path)
        model = self.cfg.model
        task = ckpt.get("task", "classification")
        if task != self.task.name:
            raise CheckpointError(f"{path}: made by task {task}, but the recipe's task is {self.task.name}")
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
                f"{len(self.classes)} (first: {ckpt['classes'][:3]} vs {self.classes[:3]})"
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
        self.position = self._fresh_position(epoch=state["epoch"], step=state["step"])
        self.position.batch = state["batch"]
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
            self.position.sums = dict(own["sums"])
            _set_rng_state(own["rng"])
            self.task.load_state_dict(dict(own.get("task") or {}))  # absent from runs of earlier versions
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
            "sums": dict(self.position.sums),
            "failures": [[list(key), count] for key, count in self.failures.items()],
            "task": self.task.state_dict(),
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
            task=self.task.name,
            **self.task.checkpoint_fields(),
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
        if hasattr(self.train_set, "set_epoch"):
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
        wait = _DataWait()
        for index, batch in enumerate(wait.batches(self.train_loader), start=position.batch):
            batch = self._to_device(batch, "train")
            # Micro-batches form groups of grad_accum (the last group of an epoch may be shorter); each loss
            # is divided by its group's size, so a step's gradient is that of the mean loss over the group.
            group_start = index - index % cfg.grad_accum
            group_size = min(cfg.grad_accum, num_batches - group_start)
            steps_now = index + 1 == group_start + group_size
            rng = np.random.default_rng([cfg.seed, epoch, index, self.rank])
            with fabric.no_backward_sync(self.model, enabled=self.world_size > 1 and not steps_now):
                out = self.task.training_step(self.model, batch, rng)
                total = out.total
                fabric.backward(total / group_size)
            batch_loss = float(total.detach())
            group_loss += batch_loss / group_size
            self._accumulate(batch_loss, out)
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
            bar.set_postfix(
                loss=f"{batch_loss:.3f}", lr=f"{self._current_lr():.2e}", data_wait=f"{wait.share:.0%}"
            )
        bar.close()
        self._data_wait_seconds = (wait.waited, wait.elapsed)

    def _accumulate(self, batch_loss: float, out: StepOutput) -> None:
        """Add a step's sample-weighted losses and its statistics' sums to the epoch's running sums."""
        sums = self.position.sums
        sums["samples"] += out.size
        sums["loss"] += batch_loss * out.size
        if len(out.losses) > 1:
            for name, value in out.losses.items():
                sums[name] += float(value.detach()) * out.size
        for name in self.task.train_stats:
            sums[name] += out.stats[name]

    def _current_lr(self) -> float:
        """The learning rate of the last optimizer step (of the first one before any)."""
        return self.schedule(max(self.position.step - 1, 0))

    @torch.no_grad()
    def _validate(self) -> dict[str, Any]:
        """Metrics of the whole validation set: each process runs the task on its shard, the outputs are
        gathered in dataset order, and the task computes the metrics.

        An output is either a [B, ...] tensor (gathered into one [N, ...] tensor) or a list of B per-sample
        objects of any kind and shape (gathered into one list of N); see :meth:`Task.validation_step`.
        """
        assert self.val_loader is not None and self.val_set is not None
        # The plain module, not the DDP wrapper: shards differ in length, so no collective may run per batch.
        module = self.model.module
        module.eval()
        outputs: dict[str, list[Any]] = {}
        for batch in _fetch(self.val_loader):
            batch = self._to_device(batch, "val")
            with self.fabric.autocast():
                step = self.task.validation_step(module, batch)
            for key, value in step.items():
                if isinstance(value, Tensor):
                    outputs.setdefault(key, []).append(value.detach().cpu())
                elif isinstance(value, list):
                    outputs.setdefault(key, []).append([_detached(item) for item in value])
                else:
                    raise ConfigError(
                        f"task {self.task.name}: validation_step's {key!r} is a {type(value).__name__}; "
                        "expected a [B, ...] tensor or a list of B per-sample objects"
                    )
        module.train()
        own = {
            key: (
                torch.cat(values) if isinstance(values[0], Tensor) else [x for part in values for x in part]
            )
            for key, values in outputs.items()
        }
        gathered = self._gather(own)
        num_samples = len(self.val_set)
        first = next(part for part in gathered if part)
        merged = {
            key: (
                _interleave([part.get(key, _EMPTY) for part in gathered], num_samples)
                if isinstance(value, Tensor)
                else _interleave_lists([part.get(key, []) for part in gathered], num_samples, key)
            )
            for key, value in first.items()
        }
        return self.task.validation_metrics(merged)

    def _end_epoch(self, epoch: int, seconds: float) -> dict[str, Any]:
        """Reduce the epoch's sums, validate when due, write the checkpoints; returns the history row."""
        cfg, position, task = self.cfg.train, self.position, self.task
        # The processes' sums, and their seconds waiting for data and of training, added up.
        keys = (*self.sum_keys, "data_wait_seconds", "train_seconds")
        local = torch.tensor(
            [*(position.sums[key] for key in self.sum_keys), *self._data_wait_seconds],
            dtype=torch.float64,
            device=self.fabric.device,
        )
        sums = dict(zip(keys, self.fabric.all_reduce(local, reduce_op="sum").tolist(), strict=True))
        if self.world_size > 1:
            self._average_buffers()
        row: dict[str, Any] = dict.fromkeys(self.columns)
        row.update(epoch=epoch + 1, step=position.step, lr=self._current_lr())
        samples = sums["samples"]
        row["train_loss"] = sums["loss"] / samples
        for name in (*(task.loss_names if len(task.loss_names) > 1 else ()), *task.train_stats):
            row[f"train_{name}"] = sums[name] / samples
        last_epoch = epoch + 1 == cfg.epochs
        self._epoch_metrics = None
        if self.val_loader is not None and ((epoch + 1) % cfg.val_every == 0 or last_epoch):
            metrics = self._validate()
            row.update({f"val_{name}": metrics[name] for name in task.val_metrics})
            self._epoch_metrics = metrics
            if task.is_better(metrics, self.best):
                self.best = {"epoch": epoch + 1, **metrics}
                if self.is_main:
                    atomic_save(self._checkpoint(metrics=self.best), self.best_path)
        row["time"] = seconds
        row["data_wait"] = min(sums["data_wait_seconds"] / max(sums["train_seconds"], 1e-9), 1.0)
        self.history.append(row)
        self.position = self._fresh_position(epoch=epoch + 1, step=position.step)
        self._save_last()
        return row

    def _log(self, row: dict[str, Any]) -> None:
        """Rewrite ``metrics.csv``, log the row to TensorBoard and print a summary line (rank 0)."""
        if not self.is_main:
            return
        self._write_history()
        for key in self.columns[2:]:
            if row[key] is not None:
                self.tensorboard.add_scalar(f"epoch/{key}", row[key], row["epoch"])
        train_part = " ".join(
            f"{key.removeprefix('train_')} {row[key]:.4f}" for key in self.columns if key.startswith("train_")
        )
        line = f"epoch {row['epoch']}/{self.cfg.train.epochs}: train {train_part}"
        if self._epoch_metrics is not None:
            line += f", {self.task.describe(self._epoch_metrics)}"
        tqdm.write(
            f"{line}, lr {row['lr']:.3g}, {row['time']:.1f} s ({row['data_wait']:.0%} waiting for data)"
        )  # above the progress bars, if any

    def _write_history(self) -> None:
        """``metrics.csv``: the history, one row per epoch (written whole, so a resumed run repeats none)."""
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=self.columns)
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in self.history)
        write_text(self.run_dir / "metrics.csv", text.getvalue())

    def _finish(self) -> RunResult:
        """Check that the processes agree, write ``metrics.json`` and the best epoch's reports."""
        checksums = self._gather(state_checksum(self.model.module))
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
            precision=self.settings.precision,
            memory_format=self.settings.memory_format,
        )

    def _write_reports(self, checksums: list[str], failures: Counter[tuple[str, str, str]]) -> None:
        summary: dict[str, Any] = {
            "task": self.task.name,
            "model": self.cfg.model.name,
            "world_size": self.world_size,
            "precision": self.settings.precision,
            "memory_format": self.settings.memory_format,
            "epochs": self.cfg.train.epochs,
            "steps": self.position.step,
            "final": self.history[-1] if self.history else None,
            "best": self.best,
            "history": self.history,
            **self.task.summary(self.best),
            "decode_failures": [
                {"split": split, "path": path, "reason": reason, "items_replaced": count}
                for (split, path, reason), count in sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "replica_checksums": checksums,
        }
        if self.best is not None:
            self.task.write_reports(self.run_dir, self.best)
        write_json(summary, self.run_dir / "metrics.json")


#: The outputs of a process whose validation shard is empty (more processes than validation samples).
_EMPTY = torch.zeros(0)
