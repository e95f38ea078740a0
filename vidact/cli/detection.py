"""Temporal action detection: ``vidact detect`` (the actions in an untrimmed video, from the raw video) and
``vidact eval-detection`` (the mAP of a detection submission, or the AR@AN of proposals, against a ground truth, as
the official ActivityNet kit computes it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from ._output import PrecisionOption, console, err_console, print_whole

#: The points of the AR@AN curve printed by ``--proposals`` (those up to ``--max-proposals``).
_RECALL_AT = (1, 5, 10, 20, 50, 100, 200, 500, 1000)


def eval_detection(
    gt: Annotated[
        Path,
        typer.Option(
            "--gt",
            help="Ground truth: ActivityNet's or ActionFormer's JSON, BSN's anet_anno_action.json, THUMOS14's "
            "per-class txt folder, mmtad's JSON, an EPIC-style CSV or {'GT': ...}.",
        ),
    ],
    pred: Annotated[
        Path,
        typer.Option("--pred", help="Detections: the official submission JSON {'results': {video: [...]}}."),
    ],
    subset: Annotated[
        str | None,
        typer.Option(
            help="Evaluate the videos of this subset (validation, test; case-insensitive). Default: all."
        ),
    ] = None,
    tiou: Annotated[
        str | None,
        typer.Option(
            help="tIoU thresholds, start:stop:step (0.5:0.95:0.05) or a list (0.3,0.5,0.7). Default: the ground "
            "truth's (ActivityNet 0.5:0.95:0.05, THUMOS14 0.3:0.7:0.1)."
        ),
    ] = None,
    video_info: Annotated[
        Path | None,
        typer.Option(
            help="BSN's video_info_new.csv (the subsets). Default: the one beside the ground truth."
        ),
    ] = None,
    unknown_labels: Annotated[
        str,
        typer.Option(
            help="A detection whose label is not a class of the ground truth: error (as the official kit) or "
            "ignore (as ActionFormer's copy; counted and reported)."
        ),
    ] = "error",
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Write {tiou, mAP, average_mAP} (fractions, ascending tIoU) as JSON here."
        ),
    ] = None,
    per_class: Annotated[bool, typer.Option(help="Print (and write to the JSON) every class's AP.")] = False,
    proposals: Annotated[
        bool,
        typer.Option(
            help="Score PRED as class-agnostic proposals: average recall against proposals per video."
        ),
    ] = False,
    max_proposals: Annotated[
        float,
        typer.Option(help="With --proposals: the average number of proposals per video at the curve's end."),
    ] = 100,
) -> None:
    """Score detections against a ground truth (mAP at tIoU).

    The mAP at each tIoU threshold and their average, equal to the kit's Evaluation/eval_detection.py (its
    ranking of equal scores included). Video ids match with or without the 'v_' prefix. --proposals: the AR@AN
    of the kit's eval_proposal.py instead (area under the curve, and AR at 1, 5, 10, ... proposals per video).
    """
    from .._atomic import write_json
    from ..detect.annotations import read_ground_truth, read_predictions
    from ..detect.evaluation import UNKNOWN_LABELS, average_recall, evaluate_detection, parse_tious

    if unknown_labels not in UNKNOWN_LABELS:
        raise ConfigError(
            f"--unknown-labels must be one of {', '.join(UNKNOWN_LABELS)}, got {unknown_labels!r}"
        )
    tious = None if tiou is None else parse_tious(tiou)
    truth = read_ground_truth(gt, video_info=video_info)
    detections = read_predictions(pred, proposals=proposals)
    where = f"{pred} on {gt}" + (f", subset {subset}" if subset is not None else "")
    if proposals:
        recall = average_recall(
            truth, detections, max_avg_proposals=max_proposals, tious=tious, subset=subset, source=str(pred)
        )
        points = [n for n in _RECALL_AT if n <= recall.proposals_per_video[-1] + 1e-9]
        if json_out is not None:
            write_json({**recall.to_json(), "ar_at": {str(n): recall.at(n) for n in points}}, json_out)
        _say(where)
        table = Table(title=f"AR@AN, tIoU {_span(recall.tiou)}")
        table.add_column("proposals per video", justify="right")
        table.add_column("AR (%)", justify="right")
        for n in points:
            table.add_row(f"{n:g}", f"{100 * recall.at(n):.2f}")
        table.add_row("AUC", f"{100 * recall.auc:.2f}", style="bold")
        console.print(table)
        return

    result = evaluate_detection(
        truth, detections, tious=tious, subset=subset, unknown_labels=unknown_labels, source=str(pred)
    )
    if json_out is not None:
        write_json(result.to_json(per_class=per_class), json_out)
    _say(
        f"{where}: {result.num_videos:,} videos, {result.num_segments:,} segments, {len(result.ap)} classes, "
        f"{result.num_detections:,} detections"
    )
    table = Table(title="mAP")
    table.add_column("tIoU", justify="right")
    table.add_column("mAP (%)", justify="right")
    for t, m in zip(result.tiou, result.mAP, strict=True):
        table.add_row(f"{t:.2f}", f"{100 * m:.2f}")
    table.add_row("average", f"{100 * result.average_mAP:.2f}", style="bold")
    console.print(table)
    if per_class:
        classes = Table(title="AP (%) per class")
        classes.add_column("class")
        for t in result.tiou:
            classes.add_column(f"{t:.2f}", justify="right")
        classes.add_column("average", justify="right")
        for name, ap in result.ap.items():
            classes.add_row(name, *(f"{100 * a:.2f}" for a in ap), f"{100 * ap.mean():.2f}")
        print_whole(classes)
    if result.ignored:
        counts = ", ".join(f"{label!r} ({n})" for label, n in sorted(result.ignored.items()))
        total = sum(result.ignored.values())
        _say(
            f"warning: {total} detection{'s' * (total != 1)} of labels that are not classes of {gt} left out: {counts}",
            err_console,
        )


def _say(text: str, where: Console = console) -> None:
    """One plain line (paths keep their brackets and are not highlighted), wrapped by the terminal only."""
    where.print(text, markup=False, highlight=False, soft_wrap=True)


def _span(tious) -> str:  # noqa: ANN001 (a float array)
    """``0.50:0.95`` (or the one value) for a title."""
    return f"{tious[0]:.2f}" if len(tious) == 1 else f"{tious[0]:.2f}:{tious[-1]:.2f}"


def detect(
    video: Annotated[Path, typer.Argument(help="An untrimmed video file.")],
    model: Annotated[
        str, typer.Option(help="A detection run directory or checkpoint (the detection task's).")
    ],
    features_model: Annotated[
        str | None,
        typer.Option(
            help="The recognition model (run, checkpoint or published weights) whose features the detector was "
            "trained on; default the one its run records, when that is published weights."
        ),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(help="A feature folder holding this video's features, read instead of computing them."),
    ] = None,
    nms: Annotated[str | None, typer.Option(help="soft, hard or none (default: the run's).")] = None,
    min_score: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Leave out detections scored below this.")
    ] = 0.0,
    max_segments: Annotated[
        int | None, typer.Option(min=1, help="Keep at most this many detections (default: the run's).")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Rows of the table.")] = 20,
    json_out: Annotated[
        Path | None, typer.Option("--json", help='Write {"video", "segments": [...]} (seconds) here.')
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Draw the segments on a timeline under a strip of frames (PNG).")
    ] = None,
    gt: Annotated[
        Path | None,
        typer.Option(help="Ground truth of this video (any format eval-detection reads), plotted."),
    ] = None,
    device: Annotated[str, typer.Option(help="Where the models run: cpu, cuda, cuda:1, mps.")] = "cpu",
    precision: PrecisionOption = "auto",
) -> None:
    """Find when each action happens in an untrimmed video.

    From the raw video: the recognition model's features over sliding windows (one streaming decode, bounded
    memory), the detector, its decoding and NMS; or from features extracted beforehand (--features).
    """
    from .._atomic import write_json
    from ..infer.detect import detect_video, extractor_predictor, load_detector

    detector = load_detector(model, device=device)
    predictor = None
    if features is None:
        predictor = extractor_predictor(detector, features_model, device=device, precision=precision)
    options = {"nms": nms, "min_score": min_score or None, "max_segments": max_segments}
    found = detect_video(detector, video, predictor=predictor, features=features, **options)
    if json_out is not None:
        write_json(found.to_json(), json_out)
    if plot is not None:
        from ..infer.plot import plot_detections

        truth = None
        if gt is not None:
            truth = _ground_truth_of(gt, video)
        plot_detections(found, plot, ground_truth=truth, min_score=min_score)
    t = Table(
        title=f"{video.name}: {len(found.detections)} detected actions ({detector.name} on {found.extractor}; "
        f"{found.steps} steps of {found.grid.step:.2f} s)",
        title_justify="left",
    )
    for column in ("start (s)", "end (s)", "label", "score"):
        t.add_column(column, justify="left" if column == "label" else "right")
    for d in found.detections[:top]:
        t.add_row(f"{d.start:.2f}", f"{d.end:.2f}", d.label, f"{d.score:.3f}")
    console.print(t)
    seconds = found.seconds
    console.print(
        f"features {seconds['features']:.1f} s, detector {seconds['detector']:.2f} s "
        f"({found.duration:.1f} s of video)",
        markup=False,
        highlight=False,
    )


def _ground_truth_of(path: Path, video: Path) -> list[tuple[float, float, str]]:
    """The ground-truth segments of ``video`` in the file at ``path`` (matched by file stem, ``v_`` or not)."""
    from ..detect.annotations import read_ground_truth
    from ..errors import DatasetError

    gt = read_ground_truth(path)
    stem = video.stem
    for name in (stem, video.name, f"v_{stem}", stem.removeprefix("v_")):
        if name in gt.videos:
            entry = gt.videos[name]
            return [
                (float(s), float(e), label)
                for (s, e), label in zip(entry.segments, entry.labels, strict=True)
            ]
    raise DatasetError(f"{path}: no ground truth of {video.name}")
