"""``curves LOG_A LOG_B ...``: training curves from fairseq ``--log-format json`` logs.

Plots one line per log against the update number, or with ``--x-axis time`` against
fairseq's wall clock in seconds (the equal-compute view: a K-pass method costs about K
times as much per update): training loss, its cross-entropy part alone (``nll_loss``:
no label smoothing, no divergence term), validation loss, and, where the logs have them,
validation BLEU (``--eval-bleu``), the intra-distillation loss, alpha (fixed vs adaptive)
and the self-distillation loss.  Reads the ``train_inner`` records (every
``--log-interval`` updates; the end-of-epoch ``train`` records when there are none) and the
``valid`` records, from fairseq's console output or its ``--log-file``, with the reader and
the rules of :mod:`fairseq_intradistill.analysis.jsonlog` (lines repeated by fairseq's
``--log-file`` bug count once; a validation is timed at the first training record logged
after it; a resumed run's fairseq runs add up).
Writes into ``--out``: curves.png, curves.json, curves.csv (update and seconds of every point).
"""

import argparse
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from fairseq_intradistill.analysis import AnalysisError, jsonlog, plotting

# (split, metric, axis label): the panels, in order; a panel is drawn if any log has it.
PANELS: Tuple[Tuple[str, str, str], ...] = (
    ("train", "loss", "training loss (base 2)"),
    # The cross-entropy part alone: an intra-distillation run's loss also holds alpha x divergence.
    ("train", "nll_loss", "training NLL (base 2)"),
    ("valid", "loss", "validation loss (base 2)"),
    ("valid", "bleu", "validation BLEU"),
    ("train", "intra_distillation_loss", "intra-distillation loss"),
    ("train", "alpha", "alpha"),
    ("train", "kd_loss", "distillation loss to the teacher"),
)
REQUIRED = ("loss", "num_updates")
X_AXES = {"update": "update", "time": "wall-clock time (s)"}
CSV_COLUMNS = ("model", "split", "metric", "update", "seconds", "value")

Point = Tuple[int, Optional[float], float]  # (update, seconds, value)
Series = Dict[str, Dict[str, List[Point]]]  # split -> metric -> points


def _series(records: List[Tuple[jsonlog.Record, Optional[float]]]) -> Dict[str, List[Point]]:
    """metric -> [(update, seconds, value)], the last value kept when a resumed run repeats an update."""
    by_metric: Dict[str, Dict[int, Tuple[Optional[float], float]]] = {}
    for record, seconds in records:
        update = record.update
        if update is None:
            continue
        prefix = record.prefix
        for key in record.values:
            if not key.startswith(prefix) or key == f"{prefix}num_updates":
                continue
            number = record.number(key)
            if number is not None:
                by_metric.setdefault(key[len(prefix) :], {})[update] = (seconds, number)
    return {metric: [(u, t, v) for u, (t, v) in sorted(points.items())] for metric, points in by_metric.items()}


def parse_log(path: Path) -> Series:
    """Training and validation series of one fairseq JSON log, each point with its update and time."""
    try:
        log = jsonlog.read_log(path)
    except jsonlog.LogError as e:
        raise AnalysisError(str(e)) from e
    times = jsonlog.record_times(log)
    timed = [(r, times.get(i)) for i, r in enumerate(log.records)]
    train = _series([(r, t) for r, t in timed if r.tag == "train_inner"])
    if "loss" not in train:
        train = _series([(r, t) for r, t in timed if r.tag == "train"])
    valid = _series([(r, t) for r, t in timed if r.tag == "valid"])
    if "loss" not in train and "loss" not in valid:
        raise AnalysisError(
            f"{path}: no training or validation records with {' and '.join(REQUIRED)}; curves needs a "
            "fairseq log written with --log-format json (scripts/common/train.sh writes one: train.log)"
        )
    return {"train": train, "valid": valid}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", type=Path, nargs="+", metavar="LOG", help="fairseq --log-format json logs")
    parser.add_argument("--labels", help="comma-separated names, one per LOG (default: each log's folder)")
    parser.add_argument("--out", type=Path, default=Path("curves"), help="output folder (default: ./curves)")
    parser.add_argument("--title", default="", help="title of the figure")
    parser.add_argument(
        "--x-axis",
        choices=tuple(X_AXES),
        default="update",
        help="update (default) or time: fairseq's wall clock in seconds, validation included",
    )


def run(args: argparse.Namespace) -> Dict[str, Any]:
    series = [parse_log(p) for p in args.logs]
    if args.labels:
        labels = [x.strip() for x in args.labels.split(",")]
        if len(labels) != len(series):
            raise AnalysisError(f"--labels gives {len(labels)} names for {len(series)} logs")
    else:
        labels = [p.parent.name or p.stem for p in args.logs]
        if len(set(labels)) != len(labels):
            labels = [str(p) for p in args.logs]
    panels = [(s, m, name) for s, m, name in PANELS if any(m in run[s] for run in series)]
    by_update = args.x_axis == "update"

    plt = plotting.pyplot()
    cols = 2 if len(panels) > 1 else 1
    rows_n = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(5.2 * cols, 3.4 * rows_n), squeeze=False)
    rows: List[Dict[str, Any]] = []
    numbers: Dict[str, Any] = {}
    for ax, (split, metric, name) in zip(axes.flat, panels):
        for index, (label, run) in enumerate(zip(labels, series)):
            points = run[split].get(metric)
            if not points:
                continue
            # x: the update, or the time (points that could not be timed are left out).
            xy = [(u if by_update else t, v) for u, t, v in points if by_update or t is not None]
            # One colour per log in every panel, whichever panels it appears in.
            ax.plot(
                [x for x, _ in xy],
                [v for _, v in xy],
                label=label,
                color=f"C{index % 10}",
                marker="." if len(xy) < 30 else None,
            )
            numbers.setdefault(label, {}).setdefault(split, {})[metric] = [[x, v] for x, v in xy]
            rows.extend(
                {"model": label, "split": split, "metric": metric, "update": u, "seconds": t, "value": v}
                for u, t, v in points
            )
        ax.set_xlabel(X_AXES[args.x_axis])
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if args.title:
        fig.suptitle(args.title)
    files = plotting.save(
        fig,
        args.out / "curves.png",
        {"logs": [str(p) for p in args.logs], "x_axis": args.x_axis, "series": numbers},
        rows,
        CSV_COLUMNS,
    )
    for label, run in zip(labels, series):
        last = {f"{s} {m}": run[s][m][-1][2] for s, m, _ in panels if run[s].get(m)}
        print(f"{label}: " + ", ".join(f"{k} {v:g}" for k, v in last.items()) + " (last values)")
    print("wrote " + ", ".join(str(f) for f in files))
    return {"labels": labels, "series": numbers}
