"""The ``vidact`` command line: a thin layer over the Python API.

Bad input (a broken video, a wrong config key, a mismatched checkpoint) prints one line
``error: <path>: <reason>`` on stderr and exits with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .errors import ConfigError, VidactError

app = typer.Typer(
    name="vidact",
    help="Watch a video and say what is happening in it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
) -> None:
    _state["debug"] = debug


def _fmt_int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


_UNBOUNDED_WIDTH = 10_000


def _print_whole(table: Table) -> None:
    """Print ``table`` on stdout, fitted to the width of a terminal, and whole into a pipe or a file.

    Rich lays out for 80 columns when stdout is not a terminal, which cuts the cells of a wide table
    (``vidact models | grep slowfast`` lost its weights column and shortened GMACs to ``111.…``); a table
    does not expand, so printing it at an unbounded width gives each column its natural width.
    """
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=_UNBOUNDED_WIDTH).print(table)


@app.command()
def info(
    videos: Annotated[list[Path], typer.Argument(help="Video files, GIFs or folders of frames.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    fps: Annotated[
        float, typer.Option(help="Frame rate of a frame folder (folders do not store one).")
    ] = 30.0,
) -> None:
    """What a video is: container, codec, size, fps, frame count (exact and estimated), duration, rotation,
    keyframe interval and audio streams."""
    from .io import probe

    out = []
    for video in videos:
        meta = probe(video, fps=fps)
        out.append(meta)
    if as_json:
        payload = [m.to_json(with_index=False) for m in out]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    for m in out:
        t = Table(title=str(m.path), show_header=False, title_justify="left")
        t.add_column("field", style="bold")
        t.add_column("value")
        audio = ", ".join(f"{a.codec} {a.sample_rate} Hz {a.channels} ch" for a in m.audio_streams) or "none"
        rows = [
            ("container", m.container),
            ("codec", f"{m.codec} ({m.pixel_format})" if m.pixel_format else m.codec),
            ("resolution", f"{m.width}x{m.height}"),
            ("fps", f"{m.fps:.3f}"),
            ("frames (exact)", _fmt_int(m.num_frames)),
            ("frames (estimated)", _fmt_int(m.num_frames_estimated)),
            ("duration", f"{m.duration:.3f} s"),
            ("rotation", f"{m.rotation} deg"),
            (
                "keyframe interval",
                f"{m.keyframe_interval:.1f} frames ({m.num_keyframes} keyframes)"
                if m.keyframe_interval
                else "-",
            ),
            ("bit rate", f"{m.bit_rate / 1000:.0f} kb/s" if m.bit_rate else "-"),
            ("audio", audio),
        ]
        for k, v in rows:
            t.add_row(k, v)
        console.print(t)


@app.command()
def synth(
    root: Annotated[Path, typer.Argument(help="Output folder (created; must be empty unless --overwrite).")],
    kind: Annotated[
        str,
        typer.Option(
            help="'temporal' (time-reversed pairs) or 'scene' (scene-biased) videos; 'skeleton': joint "
            "trajectories (root/annotations.pkl, PYSKL's layout)."
        ),
    ] = "temporal",
    train: Annotated[int, typer.Option(help="Videos per class in the train split.")] = 50,
    val: Annotated[int, typer.Option(help="Videos per class in the val split.")] = 10,
    test: Annotated[int, typer.Option(help="Videos per class in the test split.")] = 20,
    size: Annotated[int, typer.Option(help="Frame height and width in pixels.")] = 112,
    frames: Annotated[int, typer.Option(help="Frames per video.")] = 16,
    fps: Annotated[float, typer.Option(help="Frame rate written in the files.")] = 8.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same videos.")] = 0,
    noise: Annotated[float, typer.Option(help="Pixel noise standard deviation (fraction of 255).")] = 0.02,
    distractors: Annotated[int, typer.Option(help="Moving distractor objects per video.")] = 2,
    pairs: Annotated[
        list[str] | None, typer.Option("--pair", help="Temporal pairs to include (repeatable).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: one per core).")] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a folder written by an earlier `vidact synth`.")
    ] = False,
    dims: Annotated[
        int, typer.Option(help="Skeleton: 3 (camera-space metres) or 2 (pixels of a 1920x1080 image).")
    ] = 3,
    layout: Annotated[str, typer.Option(help="Skeleton: joint layout, ntu25 or coco17.")] = "ntu25",
    lengths: Annotated[
        tuple[int, int], typer.Option(help="Skeleton: shortest and longest sequence, frames at 30 fps.")
    ] = (48, 96),
    joint_noise: Annotated[
        float, typer.Option(help="Skeleton: joint jitter standard deviation, metres.")
    ] = 0.01,
    missing: Annotated[
        float, typer.Option(help="Skeleton: probability of a joint to be missing in a frame.")
    ] = 0.02,
    max_yaw: Annotated[
        float, typer.Option(help="Skeleton: largest turn of the body away from the camera, degrees.")
    ] = 60.0,
) -> None:
    """Write a synthetic action dataset (root/<split>/<class>/*.mp4) that per-frame models cannot solve
    (kind=temporal) or that one frame solves (kind=scene); or skeleton sequences of actions that differ only
    in motion, two pairs of them time-reversed (kind=skeleton)."""
    if kind == "skeleton":
        from .data.synth.skeleton import synthesize_skeletons
        from .errors import ConfigError

        if pairs:
            raise ConfigError("--pair chooses pairs of videos; it does not apply to --kind skeleton")
        made = synthesize_skeletons(
            root,
            samples_per_class={"train": train, "val": val, "test": test},
            layout=layout,
            dims=dims,  # type: ignore[arg-type]
            frames=lengths,
            noise=joint_noise,
            missing=missing,
            max_yaw=max_yaw,
            seed=seed,
            overwrite=overwrite,
        )
        console.print(
            f"wrote {made.num_samples} skeleton sequences of {len(made.classes)} classes to {made.annotations}",
            soft_wrap=True,
        )
        return
    from .data.synth import synthesize

    info = synthesize(
        root,
        kind,  # type: ignore[arg-type]
        videos_per_class={"train": train, "val": val, "test": test},
        size=size,
        frames=frames,
        fps=fps,
        seed=seed,
        noise=noise,
        distractors=distractors,
        pairs=pairs,
        workers=workers,
        overwrite=overwrite,
    )
    # soft_wrap: a long path stays on one line in a pipe or a log (rich would break it at 80 columns)
    console.print(
        f"wrote {info.num_videos} videos of {len(info.classes)} classes to {info.root}", soft_wrap=True
    )


@app.command("models")
def models_cmd(
    pattern: Annotated[
        str | None, typer.Argument(help="Shell glob on the model name, e.g. '*slowfast*'.")
    ] = None,
) -> None:
    """List the registered models with their model cards (input, parameters, GMACs, loadable weights)."""
    from .models import list_models, model_card

    t = Table(title="vidact models (GMACs = multiply-adds per view; torch's flop_counter reports 2x)")
    for col in ("name", "family", "input (C,T,H,W)", "params", "GMACs"):
        t.add_column(col, no_wrap=True)
    t.add_column("weights")
    for name in list_models(pattern):
        try:
            c = model_card(name)
        except KeyError:
            t.add_row(name, "-", "-", "-", "-", "-")
            continue
        t.add_row(
            name,
            c.family,
            "x".join(map(str, c.input_size)),
            f"{c.params / 1e6:.2f}M" if c.params else "-",
            f"{c.gmacs:.2f}" if c.gmacs else "-",
            ", ".join(f"{c.name}.{w.tag}" for w in c.weights) or "-",
        )
    _print_whole(t)


@app.command("eval")
def eval_cmd(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run directory (its best checkpoint), a checkpoint file, or published weights by name "
            "(r2plus1d_18.kinetics400)."
        ),
    ],
    data: Annotated[Path, typer.Argument(help="The dataset root.")],
    split: Annotated[
        str | None,
        typer.Option(
            help="Split (class folders: a subfolder of DATA, '' for DATA itself). Default: the recipe's."
        ),
    ] = None,
    kind: Annotated[
        str, typer.Option(help="Dataset layout: folder, ucf101, hmdb51, kinetics, ssv2 or list.")
    ] = "folder",
    annotations: Annotated[
        Path | None, typer.Option(help="Split file(s), CSV or list file of the layout.")
    ] = None,
    fold: Annotated[int, typer.Option(help="Official split number (UCF-101, HMDB-51).")] = 1,
    clips: Annotated[
        int | None, typer.Option(help="Temporal clips per video. Default: the recipe's.")
    ] = None,
    crops: Annotated[
        int | None, typer.Option(help="Spatial crops per clip, 1 or 3. Default: the recipe's.")
    ] = None,
    average: Annotated[
        str,
        typer.Option(help="softmax: mean of the views' probabilities; logits: softmax of their mean logits."),
    ] = "softmax",
    batch_size: Annotated[
        int | None, typer.Option(help="Videos per forward pass. Default: the recipe's.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes decoding videos (0: in the main process).")] = 0,
    device: Annotated[str, typer.Option(help="Where the model runs: cpu, cuda, cuda:1, mps.")] = "cpu",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the setting and the metrics as JSON here.")
    ] = None,
    per_video: Annotated[bool, typer.Option(help="Add every video's prediction to the JSON.")] = False,
) -> None:
    """Multi-view test of a trained model: clips x crops per video, scores averaged, top-1/top-5 accuracy,
    mean class accuracy, confusion matrix and per-class accuracy."""
    from .engine.evaluate import evaluate, write_json

    result = evaluate(
        run,
        data,
        split=split,
        kind=kind,
        annotations=annotations,
        fold=fold,
        num_clips=clips,
        num_crops=crops,
        average=average,  # type: ignore[arg-type]
        batch_size=batch_size,
        workers=workers,
        device=device,
    )
    if json_out is not None:
        write_json(result.to_json(per_video=per_video), json_out)
    m = result.metrics
    left_out = f" ({len(result.failed)} unreadable, left out)" if result.failed else ""
    t = Table(title=f"{result.checkpoint} on {result.data} ({result.split or 'all'})", show_header=False)
    t.add_column("metric", style="bold")
    t.add_column("value")
    rows = [
        ("samples", f"{m['num_samples']:,}{left_out}"),
        ("views", f"{result.num_clips} clips x {result.num_crops} crops, {result.average} averaged"),
        ("top-1", f"{100 * m['top1']:.2f} %"),
        ("top-5", f"{100 * m['top5']:.2f} %"),
        ("mean class accuracy", f"{100 * m['mean_class_acc']:.2f} %"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)


@app.command()
def predict(
    video: Annotated[Path, typer.Argument(help="A video file, GIF or folder of frames.")],
    model: Annotated[
        str,
        typer.Option(
            help="A run directory or checkpoint; published weights by name (r2plus1d_18.kinetics400, see "
            "`vidact weights list`); or a registered model name with --weights."
        ),
    ],
    weights: Annotated[
        Path | None, typer.Option(help="A weights file of the --model name (class count read from it).")
    ] = None,
    weights_layout: Annotated[
        str | None,
        typer.Option(help="Key layout of --weights (default: found by trying vidact's and the published ones)."),
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="Class names of the weights, one a line (default: theirs, or class_0 ...).")
    ] = None,
    window: Annotated[float, typer.Option(help="Timeline window length, seconds.")] = 2.0,
    stride: Annotated[float, typer.Option(help="Seconds between window starts.")] = 1.0,
    sampling: Annotated[
        str | None,
        typer.Option(
            help="A window's clip: stride (the model's frame rate) or uniform (spread over the window)."
        ),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Labels to show per window and for the whole video.")] = 5,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the labels and the timeline as JSON here.")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Chart the top classes' scores over time (PNG).")] = None,
    device: Annotated[str, typer.Option(help="Where the model runs: cpu, cuda, cuda:1, mps.")] = "cpu",
    pose: Annotated[
        Path | None,
        typer.Option(
            help="Skeleton models: the video's pose extracted beforehand (`vidact extract pose`, .pkl or .npz) "
            "instead of extracting it now."
        ),
    ] = None,
) -> None:
    """Top labels of a video and a timeline of sliding windows; the video's scores are the windows' mean (for
    skeleton models, efficientgcn_b0.ntu60 or stgcnpp_hand.hagrid: the pose is extracted first, and the whole
    sequence is scored as one)."""
    from .data.skeleton import SkeletonPreset
    from .infer.predict import load_predictor, predict_video, save_json

    predictor = load_predictor(
        model, weights=weights, weights_layout=weights_layout, labels=labels, device=device
    )
    skeletal = isinstance(predictor.preset, SkeletonPreset)
    if pose is not None and not skeletal:
        raise ConfigError("--pose goes with a skeleton model (efficientgcn_b0.ntu60, stgcnpp_hand.hagrid, ...)")
    if skeletal:
        from .data.skeleton.formats import load_npz, load_pickle
        from .infer.skeleton import predict_skeleton

        if sampling is not None:
            raise ConfigError("--sampling is for video models; a skeleton model samples as its preset says")
        record = None
        if pose is not None:
            record = load_npz(pose) if pose.suffix == ".npz" else load_pickle(pose)
            if not isinstance(record, dict) or "keypoint" not in record:
                raise ConfigError(f"{pose}: not one pose record (a PYSKL annotation list is not one video's)")
        prediction = predict_skeleton(
            predictor, video, pose=record, window=window, stride=stride, progress=console.is_terminal
        )
    else:
        prediction = predict_video(
            predictor,
            video,
            window=window,
            stride=stride,
            sampling=sampling,  # type: ignore[arg-type]
            frame_scores=plot is not None,
        )
    if json_out is not None:
        save_json(prediction, json_out, top=top)
    if plot is not None:
        from .infer.plot import plot_timeline

        plot_timeline(prediction, plot, top=top)
    t = Table(title=f"{video}: timeline ({predictor.name})", title_justify="left")
    t.add_column("start-end (s)", no_wrap=True)
    t.add_column("top labels")
    for (start, end), scores in zip(prediction.windows, prediction.window_scores, strict=True):
        t.add_row(f"{start:.2f}-{end:.2f}", ", ".join(f"{k} {s:.2f}" for k, s in prediction.top(top, scores)))
    console.print(t)
    whole = "whole sequence (the model on all of it)" if skeletal else "whole video (mean over windows)"
    t = Table(title=whole, title_justify="left")
    t.add_column("label")
    t.add_column("score", justify="right")
    for label, score in prediction.top(top):
        t.add_row(label, f"{score:.3f}")
    console.print(t)


@app.command("extract")
def extract_cmd(
    kind: Annotated[
        str, typer.Argument(metavar="KIND", help="What to extract: features (a model's) or pose (MediaPipe's).")
    ],
    source: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT", help="A video, a folder (searched recursively) or a list file (.txt/.lst)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output folder: <video>.<array>.npy and <video>.<kind>.json.")],
    workers: Annotated[
        int, typer.Option(min=1, help="Processes here; with --ray, actors (default: the cluster's CPUs).")
    ] = 1,
    ray: Annotated[
        str | None, typer.Option(help="'auto' starts a local Ray; an address joins a running cluster.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Torch threads per worker (default: the CPUs shared out).")
    ] = None,
    root: Annotated[Path | None, typer.Option(help="Folder a list file's paths are relative to.")] = None,
    model: Annotated[
        str | None,
        typer.Option(help="features: a run directory or checkpoint; or a model name with --weights."),
    ] = None,
    weights: Annotated[
        Path | None, typer.Option(help="features: published weights of the --model name.")
    ] = None,
    weights_layout: Annotated[str | None, typer.Option(help="features: key layout of --weights.")] = None,
    window: Annotated[
        float | None, typer.Option(help="features: window length, seconds (default 2).")
    ] = None,
    stride: Annotated[
        float | None, typer.Option(help="features: seconds between windows (default: half).")
    ] = None,
    window_frames: Annotated[
        int | None, typer.Option(help="features: window length in frames instead.")
    ] = None,
    stride_frames: Annotated[int | None, typer.Option(help="features: frames between windows.")] = None,
    sampling: Annotated[
        str | None, typer.Option(help="features: a window's clip, stride or uniform.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="features: windows per forward pass (default 8).")
    ] = None,
    device: Annotated[str | None, typer.Option(help="features: where the model runs (default cpu).")] = None,
    what: Annotated[str | None, typer.Option(help="pose: body (one person) or hands (up to two).")] = None,
    layout: Annotated[
        str | None,
        typer.Option(help="pose: joints to keep: mediapipe33 (default), coco17, ntu25 (Kinect camera); hand21."),
    ] = None,
    short_side: Annotated[
        int | None, typer.Option(min=16, help="pose: decode at this short side (coordinates stay full size).")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="pose: frames per second to take (default: all).")] = None,
    max_frames: Annotated[int | None, typer.Option(min=1, help="pose: at most the first N frames.")] = None,
    tracking: Annotated[
        bool | None, typer.Option("--tracking/--no-tracking", help="pose: follow from frame to frame (default).")
    ] = None,
    max_hands: Annotated[int | None, typer.Option(min=1, max=2, help="pose: hands to look for.")] = None,
    mirrored: Annotated[
        bool | None, typer.Option("--mirrored/--not-mirrored", help="pose: the video is mirrored (selfie).")
    ] = None,
    ntu_camera: Annotated[
        str | None,
        typer.Option(help="pose, ntu25: solve (one camera offset per clip, default), per_frame or none."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr.")] = True,
) -> None:
    """Map a per-video extractor over a video, a folder tree or a list file: outputs keyed by the video's
    content and the parameters (a re-run skips what is done), bad videos listed and the rest done; exit 1 if any
    video failed."""
    from .extract import build_extractor, extract

    options = {
        "model": model,
        "weights": weights,
        "weights_layout": weights_layout,
        "window": window,
        "stride": stride,
        "window_frames": window_frames,
        "stride_frames": stride_frames,
        "sampling": sampling,
        "batch_size": batch_size,
        "device": device,
        "what": what,
        "layout": layout,
        "short_side": short_side,
        "fps": fps,
        "max_frames": max_frames,
        "tracking": tracking,
        "max_hands": max_hands,
        "mirrored": mirrored,
        "ntu_camera": ntu_camera,
    }
    extractor = build_extractor(kind, **{k: v for k, v in options.items() if v is not None})
    report = extract(
        extractor, source, out, workers=workers, ray=ray, threads=threads, root=root, progress=progress
    )
    for failure in report.failed:
        err_console.print(
            f"failed: {failure.video}: {failure.reason}", markup=False, highlight=False, soft_wrap=True
        )
    console.print(
        f"{report.kind}: {report.videos} videos, {report.done} extracted, {report.skipped} up to date, "
        f"{len(report.failed)} failed in {report.seconds:.1f} s ({report.backend}); summary in {report.summary}",
        highlight=False,
        soft_wrap=True,
    )
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def train(
    recipe: Annotated[
        Path, typer.Argument(help="The recipe: a YAML file, or the name of a shipped one (vidact recipes).")
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="section.key=value overrides, the value parsed as YAML (data.root=PATH train.lr=0.1)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory. Default: runs/<recipe name>-<date>-<time>.")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out from its checkpoints/last.ckpt.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Progress bars (only when stderr is a terminal).")] = True,
) -> None:
    """Train a model from a recipe: checkpoints, metrics.csv, TensorBoard logs and reports in the run directory.
    Under torchrun, each process trains on its shard of every epoch (DistributedDataParallel)."""
    from .engine.config import load_config
    from .engine.train import train as train_run

    train_run(load_config(recipe, overrides or []), out, resume=resume, progress=progress, name=recipe.stem)


@app.command("recipes")
def recipes_cmd() -> None:
    """The recipes shipped with vidact, by name (vidact train NAME), with the first line of each."""
    from .engine.config import RECIPES_DIR, list_recipes

    t = Table(title=f"recipes in {RECIPES_DIR}", title_justify="left")
    t.add_column("name", style="bold", no_wrap=True)
    t.add_column("what it trains")
    for name, description in list_recipes().items():
        t.add_row(name, description)
    _print_whole(t)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder (new, empty, or an earlier demo's).")] = Path(
        "demo_out"
    ),
    preset: Annotated[str, typer.Option(help="'default' (about 10 min on 2 cores) or 'quick'.")] = "default",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data and the training runs.")] = 0,
    progress: Annotated[bool, typer.Option(help="Progress bars.")] = True,
    real_data: Annotated[
        Path | None,
        typer.Option(
            help="Real clips for the real-video section (videos/, skeleton/pretrained/; default "
            "$VIDACT_REAL_DATA or ../shared/data)."
        ),
    ] = None,
    real: Annotated[bool, typer.Option(help="The real-video section (pose + pretrained skeleton models).")] = True,
) -> None:
    """The main job: synthesize temporal-pair and scene-biased videos, train a per-frame and a temporal model on
    each, evaluate; then real clips through real skeleton models; write results.json and report.html."""
    from .demo import comparison_rows, run_demo

    results = run_demo(
        out,
        preset,
        seed=seed,
        real_data=(real_data if real_data is not None else True) if real else None,
        progress=progress,
        log=lambda m: console.print(m, highlight=False),
    )
    t = Table(title="test top-1: per-frame vs temporal")
    for col in ("dataset", "per-frame", "temporal", "gap"):
        t.add_column(col)
    for row in comparison_rows(results):
        t.add_row(*row)
    console.print(t)
    tp = results["temporal"]
    console.print(
        f"temporal pairs: the per-frame model finds the right pair {tp['per_frame']['pair_acc']:.0%} of the time but "
        f"the right direction only {tp['per_frame']['direction_acc_within_pair']:.0%} (pair chance 50%); "
        f"the temporal model gets the direction {tp['temporal']['direction_acc_within_pair']:.0%}."
    )
    clips = results.get("real_video", {}).get("clips", [])
    if clips:
        t = Table(title="real video: what the pretrained skeleton models say (not an accuracy)")
        for col in ("clip", "its label", "model", "top 3"):
            t.add_column(col)
        for row in clips:
            says = ", ".join(f"{x['label']} {x['score']:.2f}" for x in row["top"][:3])
            t.add_row(Path(row["video"]).name, row["truth"] or "-", row["model"], says)
        console.print(t)
    console.print(
        f"wrote {out / 'results.json'} and {out / 'report.html'} ({results['_about']['seconds']:.0f} s)",
        soft_wrap=True,
    )


@app.command()
def fuse(
    scores: Annotated[
        list[Path],
        typer.Argument(help="Score files of the same samples: mmaction2/PYSKL test pickles, .npy [N, K], .npz."),
    ],
    weights: Annotated[
        str | None, typer.Option(help="Comma-separated weights, one per file (default 1 each), e.g. 2,2,1,1.")
    ] = None,
    normalize: Annotated[
        str | None,
        typer.Option(help="softmax (logits) or none (probabilities); default: none where all are probabilities."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the fused scores here (.npy).")] = None,
) -> None:
    """Late fusion of several models' scores (skeleton streams, RGB + flow): top-1 of each and of the weighted
    sum, where the files carry labels."""
    import numpy as np

    from ._atomic import atomic_write
    from .infer.fusion import are_probabilities, fuse_scores, read_scores

    loaded = [read_scores(path) for path in scores]
    factors = None
    if weights is not None:
        try:
            factors = [float(w) for w in weights.split(",")]
        except ValueError:
            raise ConfigError(f"--weights: not comma-separated numbers: {weights!r}") from None
    mode = normalize or ("none" if all(are_probabilities(s) for s, _ in loaded) else "softmax")
    fused = fuse_scores([s for s, _ in loaded], factors, normalize=mode)  # type: ignore[arg-type]
    labels = next((lab for _, lab in loaded if lab is not None), None)
    t = Table(title=f"late fusion ({mode}, weights {factors or 'all 1'})", title_justify="left")
    t.add_column("scores")
    t.add_column("top-1", justify="right")
    for path, (s, _) in zip(scores, loaded, strict=True):
        t.add_row(str(path), f"{(s.argmax(1) == labels).mean():.4f}" if labels is not None else "-")
    t.add_row("fused", f"{(fused.argmax(1) == labels).mean():.4f}" if labels is not None else "-")
    console.print(t)
    if out is not None:
        with atomic_write(out, "wb") as f:
            np.save(f, fused)


weights_app = typer.Typer(
    help="Published weights by name: list them, download them, or register a file downloaded by hand.",
    no_args_is_help=True,
)
app.add_typer(weights_app, name="weights")


def _size(published) -> str:  # noqa: ANN001
    """Bytes when the catalogue knows them, else about 4 bytes a parameter (float32 weights)."""
    entry, params = published.entry, published.card.params
    if entry.bundled is not None:
        return "in package"
    sizes = [f.size for f in entry.files]
    if sizes and all(s is not None for s in sizes):
        return f"{sum(sizes) / 2**20:.0f} MiB"
    return f"~{params * 4 / 2**20:.0f} MiB" if params else "-"


@weights_app.command("list")
def weights_list(
    pattern: Annotated[
        str | None, typer.Argument(help="Shell glob on the model name, e.g. 'slowfast*'.")
    ] = None,
) -> None:
    """The catalogue: every published checkpoint vidact can load, with its accuracy, size and licence."""
    from .models import hub

    t = Table(title=f"published weights (cache: {hub.vidact_home() / 'weights'})")
    for col in ("name", "dataset", "top-1", "top-5", "size", "source", "licence", "cached"):
        t.add_column(col, no_wrap=col not in ("licence",))
    for w in hub.list_weights(pattern):
        e = w.entry
        t.add_row(
            w.name,
            e.dataset,
            "-" if e.top1 is None else f"{e.top1:g}",
            "-" if e.top5 is None else f"{e.top5:g}",
            _size(w),
            e.source,
            e.license.split(" (")[0],
            "yes" if hub.is_cached(w) else "no",
        )
    _print_whole(t)


@weights_app.command("fetch")
def weights_fetch(
    names: Annotated[
        list[str], typer.Argument(metavar="NAME...", help="Weights names, e.g. r2plus1d_18.kinetics400.")
    ],
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr.")] = True,
) -> None:
    """Download weights into the cache (checked, resumable); already cached weights are left as they are."""
    from .models import hub

    for name in names:
        paths = hub.fetch(name, progress=progress)
        console.print(f"{name}: {', '.join(map(str, paths))}", soft_wrap=True, highlight=False)


@weights_app.command("add")
def weights_add(
    name: Annotated[str, typer.Argument(help="The weights name, e.g. r2plus1d_18.kinetics400.")],
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="The file(s), in the catalogue's order.")
    ],
) -> None:
    """Register weights downloaded by hand: checked (hash, layout) and copied into the cache."""
    from .models import hub

    paths = hub.add(name, list(files))
    console.print(f"{name}: added {', '.join(map(str, paths))}", soft_wrap=True, highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``vidact`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="vidact")  # standalone: usage errors print and exit 2 by themselves
    except VidactError as e:
        if debug:
            raise
        err_console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
