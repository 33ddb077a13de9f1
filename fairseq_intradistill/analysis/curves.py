"""``curves LOG_A LOG_B ...``: training curves from fairseq ``--log-format json`` logs.

Plots against the update number, one line per log: training loss, validation loss, and,
where the logs have them, the intra-distillation loss, alpha (fixed vs adaptive) and the
self-distillation loss.  Reads the ``train_inner`` records (every ``--log-interval``
updates; the end-of-epoch ``train`` records when there are none) and the ``valid`` records,
from fairseq's console output or its ``--log-file`` (whose JSON lines carry no tag).
Writes into ``--out``: curves.png, curves.json, curves.csv.
"""

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from fairseq_intradistill.analysis import AnalysisError, plotting

# (split, metric, axis label): the panels, in order; a panel is drawn if any log has it.
PANELS: Tuple[Tuple[str, str, str], ...] = (
    ("train", "loss", "training loss (base 2)"),
    ("valid", "loss", "validation loss (base 2)"),
    ("train", "intra_distillation_loss", "intra-distillation loss"),
    ("train", "alpha", "alpha"),
    ("train", "kd_loss", "distillation loss to the teacher"),
)
REQUIRED = ("loss", "num_updates")
CSV_COLUMNS = ("model", "split", "metric", "update", "value")

Series = Dict[str, Dict[str, List[Tuple[int, float]]]]  # split -> metric -> [(update, value)]


def _tag_of(record: Dict[str, Any]) -> Optional[str]:
    """The fairseq log tag of a bare JSON record (what ``--log-file`` writes has none)."""
    if "valid_num_updates" in record:
        return "valid"
    if "train_num_updates" in record:
        return "train"
    if "num_updates" in record:
        return "train_inner"
    return None


def _all_records(text: str) -> Dict[str, List[Dict[str, Any]]]:
    """JSON records by tag, from console output (``... | tag | {...}``) or a ``--log-file`` (bare JSON)."""
    by_tag: Dict[str, List[Dict[str, Any]]] = {}
    for line in text.splitlines():
        tag = None
        if " | {" in line:
            head, payload = line.split(" | {", 1)
            tag, payload = head.rsplit(" | ", 1)[-1].strip(), "{" + payload
        elif line.startswith("{"):
            payload = line
        else:
            continue
        try:
            record = json.loads(payload)
        except json.JSONDecodeError:
            continue  # the config dump (a Python repr) or a line cut short by a crash
        if not isinstance(record, dict):
            continue
        tag = _tag_of(record) if tag is None else tag
        if tag is not None:
            by_tag.setdefault(tag, []).append(record)
    return by_tag


def _number(value: Any) -> Optional[float]:
    try:
        return float(value)  # JSON log values are strings
    except (TypeError, ValueError):
        return None


def _series(records: List[Dict[str, Any]], prefix: str) -> Dict[str, List[Tuple[int, float]]]:
    """metric -> [(update, value)], the last value kept when a resumed run repeats an update."""
    by_metric: Dict[str, Dict[int, float]] = {}
    for record in records:
        update = _number(record.get(f"{prefix}num_updates"))
        if update is None:
            continue
        for key, value in record.items():
            if not key.startswith(prefix) or key == f"{prefix}num_updates":
                continue
            number = _number(value)
            if number is not None:
                by_metric.setdefault(key[len(prefix):], {})[int(update)] = number
    return {metric: sorted(points.items()) for metric, points in by_metric.items()}


def parse_log(path: Path) -> Series:
    """Training and validation series of one fairseq JSON log."""
    if not path.is_file():
        raise AnalysisError(f"{path}: log not found")
    records = _all_records(path.read_text(encoding="utf-8", errors="replace"))
    train = _series(records.get("train_inner", []), "")
    if "loss" not in train:
        train = _series(records.get("train", []), "train_")
    valid = _series(records.get("valid", []), "valid_")
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
            # One colour per log in every panel, whichever panels it appears in.
            ax.plot([u for u, _ in points], [v for _, v in points], label=label, color=f"C{index % 10}",
                    marker="." if len(points) < 30 else None)
            numbers.setdefault(label, {}).setdefault(split, {})[metric] = [[u, v] for u, v in points]
            rows.extend({"model": label, "split": split, "metric": metric, "update": u, "value": v} for u, v in points)
        ax.set_xlabel("update")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if args.title:
        fig.suptitle(args.title)
    files = plotting.save(fig, args.out / "curves.png", {"logs": [str(p) for p in args.logs], "series": numbers}, rows, CSV_COLUMNS)
    for label, run in zip(labels, series):
        last = {f"{s} {m}": run[s][m][-1][1] for s, m, _ in panels if run[s].get(m)}
        print(f"{label}: " + ", ".join(f"{k} {v:g}" for k, v in last.items()) + " (last values)")
    print("wrote " + ", ".join(str(f) for f in files))
    return {"labels": labels, "series": numbers}
