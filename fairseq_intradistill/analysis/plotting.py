"""matplotlib, imported only when a plot is drawn, and the numbers written beside every plot."""

import csv
import json
import math
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence

from fairseq_intradistill.analysis import AnalysisError

MISSING_MATPLOTLIB = (
    "plotting needs matplotlib, which is not installed: pip install 'fairseq-intradistill[analysis]' "
    "(or pip install matplotlib)"
)


def pyplot() -> Any:
    """matplotlib.pyplot on a file-only backend, or a clear error if matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        raise AnalysisError(MISSING_MATPLOTLIB) from None
    matplotlib.use("Agg")  # files only: works without a display
    import matplotlib.pyplot as plt

    return plt


def _clean(obj: Any) -> Any:
    """NaN/inf are not JSON: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_clean(obj), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_csv(path: Path, rows: Sequence[Dict[str, Any]], columns: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(columns)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def save(fig: Any, path: Path, numbers: Any, rows: List[Dict[str, Any]], columns: Iterable[str]) -> List[Path]:
    """Write ``path`` (PNG) with its numbers as ``path.json`` and ``path.csv`` beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    write_json(path.with_suffix(".json"), numbers)
    write_csv(path.with_suffix(".csv"), rows, columns)
    return [path, path.with_suffix(".json"), path.with_suffix(".csv")]


def histogram_rows(label: str, hist: Dict[str, Any]) -> List[Dict[str, Any]]:
    edges, counts = hist["edges"], hist["counts"]
    total = hist["count"]
    return [
        {
            "model": label,
            "bin_low": edges[i],
            "bin_high": edges[i + 1],
            "count": counts[i],
            "fraction": counts[i] / total if total else None,
        }
        for i in range(len(counts))
    ]


HISTOGRAM_COLUMNS = ("model", "bin_low", "bin_high", "count", "fraction")


def plot_histograms(path: Path, hists: Dict[str, Dict[str, Any]], title: str, numbers: Any = None) -> List[Path]:
    """Sensitivity distributions on a log x axis: the fraction of parameters per log bin.

    Writes ``numbers`` (default: the histograms) as JSON and the bins as CSV beside the PNG.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    rows: List[Dict[str, Any]] = []
    for index, (label, hist) in enumerate(hists.items()):
        if not hist["counts"]:
            continue
        edges, counts, total = hist["edges"], hist["counts"], hist["count"]
        # Fractions, not counts, so that models of different sizes overlay.
        ax.stairs(
            [c / total for c in counts],
            edges,
            label=f"{label} ({hist['zeros']} zeros)",
            fill=len(hists) == 1,
            alpha=0.8,
            color=f"C{index % 10}",
            linewidth=1.5,
        )
        rows.extend(histogram_rows(label, hist))
    ax.set_xscale("log")
    ax.set_xlabel("parameter sensitivity |θ·∂L/∂θ| (log scale)")
    ax.set_ylabel("fraction of parameters")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return save(fig, path, hists if numbers is None else numbers, rows, HISTOGRAM_COLUMNS)


PRUNE_COLUMNS = ("model", "fraction", "pruned", "bleu", "length_ratio")
# How a pruning curve's metric is named on the axis and in tables: BLEU (fairseq), the GLUE metrics (Transformers).
METRIC_NAMES = {
    "bleu": "BLEU",
    "accuracy": "accuracy",
    "f1": "F1",
    "matthews_correlation": "Matthews",
    "pearson": "Pearson",
    "spearmanr": "Spearman",
}


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def plot_prune(
    path: Path, curves: Dict[str, List[Dict[str, Any]]], title: str, numbers: Any = None, metric: str = "bleu"
) -> List[Path]:
    """``metric`` (BLEU, or a GLUE metric) against the fraction of (least-sensitive) parameters set to zero.

    Writes ``numbers`` (default: the curves) as JSON and the points as CSV beside the PNG
    (the columns: model, fraction, pruned, then the points' own fields: for BLEU, BLEU and
    the length ratio; for a GLUE task, its metrics).
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    rows: List[Dict[str, Any]] = []
    columns = list(PRUNE_COLUMNS if metric == "bleu" else PRUNE_COLUMNS[:3])
    for label, points in curves.items():
        # A metric that was undefined (null in JSON: e.g. Pearson of constant predictions) leaves a gap.
        values = [float("nan") if p[metric] is None else p[metric] for p in points]
        ax.plot([p["fraction"] for p in points], values, marker="o", label=label)
        rows.extend({"model": label, **p} for p in points)
        columns.extend(k for p in points for k in p if k not in columns)
    ax.set_xlabel("fraction of parameters pruned (least sensitive first)")
    ax.set_ylabel(metric_name(metric))
    ax.set_title(title)
    ax.set_xlim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return save(fig, path, curves if numbers is None else numbers, rows, columns)
