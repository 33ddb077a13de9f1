"""``compare DIR_A DIR_B ...``: several models side by side.

Each DIR is an output folder of ``sensitivity`` and/or ``prune`` (``--out``), of a fairseq
checkpoint or a Transformers model; a ``bleu-SUBSET.json`` written there by
``scripts/common/evaluate.sh`` is picked up too.  Pruning curves are overlaid when they share
their metric (BLEU, or one GLUE metric); sensitivities always are.
Writes into ``--out``:
  compare.md / .csv / .json      one row per model: BLEU, sensitivity mean/std/top-20%
                                 share, the metric (BLEU) at every pruned fraction
  compare-sensitivity.png (+.json/.csv)   the sensitivity distributions overlaid
  compare-prune.png (+.json/.csv)         the pruning curves overlaid
"""

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from fairseq_intradistill.analysis import AnalysisError, plotting
from fairseq_intradistill.tables import markdown


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", type=Path, nargs="+", metavar="DIR", help="output folders of sensitivity/prune")
    parser.add_argument("--labels", help="comma-separated names, one per DIR (default: the names the runs recorded)")
    parser.add_argument("--out", type=Path, default=Path("compare"), help="output folder (default: ./compare)")
    parser.add_argument("--title", default="", help="title prefix of the plots")


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise AnalysisError(f"{path}: unreadable ({e})") from None


def load_dir(path: Path) -> Dict[str, Any]:
    """What a results folder holds: sensitivity record, prune record, BLEU per subset."""
    if not path.is_dir():
        raise AnalysisError(f"{path}: no such folder")
    found: Dict[str, Any] = {"dir": str(path), "bleu": {}, "length_ratio": {}}
    if (path / "sensitivity.json").is_file():
        found["sensitivity"] = _read_json(path / "sensitivity.json")
        if "summary" not in found["sensitivity"]:
            raise AnalysisError(f"{path / 'sensitivity.json'}: not written by the sensitivity command (no summary)")
    if (path / "prune.json").is_file():
        found["prune"] = _read_json(path / "prune.json")
        if "points" not in found["prune"]:
            raise AnalysisError(f"{path / 'prune.json'}: not written by the prune command (no points)")
    for bleu_file in sorted(path.glob("bleu-*.json")):
        record = _read_json(bleu_file)
        if "bleu" in record:
            found["bleu"][bleu_file.stem[len("bleu-") :]] = record["bleu"]
            if record.get("length_ratio") is not None:
                found["length_ratio"][bleu_file.stem[len("bleu-") :]] = record["length_ratio"]
    if not ("sensitivity" in found or "prune" in found or found["bleu"]):
        raise AnalysisError(
            f"{path}: no sensitivity.json, prune.json or bleu-*.json; give folders written by "
            "the sensitivity or prune command (--out)"
        )
    return found


def prune_metric(runs: List[Dict[str, Any]]) -> str:
    """The one metric of the runs' pruning curves (``bleu`` for fairseq's, and where none has one)."""
    metrics = {run["prune"].get("metric", "bleu"): run["dir"] for run in runs if "prune" in run}
    if len(metrics) > 1:
        found = ", ".join(f"{metric} ({folder})" for metric, folder in metrics.items())
        raise AnalysisError(
            f"the pruning curves are scored with different metrics: {found}; compare models scored alike"
        )
    return next(iter(metrics), "bleu")


def table_rows(runs: List[Dict[str, Any]], labels: List[str]) -> List[Dict[str, Any]]:
    rows = []
    for label, run in zip(labels, runs):
        row: Dict[str, Any] = {"model": label}
        for subset, bleu in run["bleu"].items():
            row[f"bleu_{subset}"] = bleu
            if subset in run.get("length_ratio", {}):
                row[f"ratio_{subset}"] = run["length_ratio"][subset]
        if "sensitivity" in run:
            s = run["sensitivity"]["summary"]
            row.update(
                parameters=s["count"], sensitivity_mean=s["mean"], sensitivity_std=s["std"], top20_share=s["top_share"]
            )
        if "prune" in run:
            metric = run["prune"].get("metric", "bleu")
            for p in run["prune"]["points"]:
                row[f"prune_{p['fraction']:g}"] = p[metric]
        rows.append(row)
    return rows


def _columns(rows: List[Dict[str, Any]]) -> List[str]:
    columns: List[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    # Each BLEU with its length ratio beside it.
    first = ["model"] + [
        c
        for b in sorted(c for c in columns if c.startswith("bleu_"))
        for c in (b, "ratio_" + b[len("bleu_") :])
        if c in columns
    ]
    middle = [c for c in ("parameters", "sensitivity_mean", "sensitivity_std", "top20_share") if c in columns]
    prune = sorted((c for c in columns if c.startswith("prune_")), key=lambda c: float(c[len("prune_") :]))
    return first + middle + prune


HEADINGS = {
    "model": "model",
    "parameters": "parameters",
    "sensitivity_mean": "sensitivity mean",
    "sensitivity_std": "sensitivity std",
    "top20_share": "top-20% share",
}


def _heading(column: str, metric: str = "bleu") -> str:
    if column.startswith("bleu_"):
        return f"BLEU ({column[5:]})"
    if column.startswith("ratio_"):
        return f"length ratio ({column[6:]})"
    if column.startswith("prune_"):
        return f"{plotting.metric_name(metric)} pruned {column[6:]}"
    return HEADINGS[column]


def _cell(value: Optional[Any]) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4g}"
    return str(value)


def markdown_table(rows: List[Dict[str, Any]], metric: str = "bleu") -> str:
    """The rows as a Markdown table; ``metric`` names the pruning columns."""
    columns = _columns(rows)
    lines = markdown([_heading(c, metric) for c in columns], [[_cell(row.get(c)) for c in columns] for row in rows])
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> Dict[str, Any]:
    runs = [load_dir(d) for d in args.dirs]
    if args.labels:
        labels = [x.strip() for x in args.labels.split(",")]
        if len(labels) != len(runs):
            raise AnalysisError(f"--labels gives {len(labels)} names for {len(runs)} folders")
    else:
        labels = [run.get("sensitivity", run.get("prune", {})).get("label") or Path(run["dir"]).name for run in runs]
    if len(set(labels)) != len(labels):  # keep overlays apart
        labels = [
            f"{label} ({Path(run['dir']).name})" if labels.count(label) > 1 else label
            for label, run in zip(labels, runs)
        ]

    metric = prune_metric(runs)
    rows = table_rows(runs, labels)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows, metric)
    (out / "compare.md").write_text(table, encoding="utf-8")
    plotting.write_csv(out / "compare.csv", rows, _columns(rows))
    plotting.write_json(out / "compare.json", {"rows": rows, "dirs": [r["dir"] for r in runs]})
    written = [out / "compare.md", out / "compare.csv", out / "compare.json"]
    prefix = f"{args.title}: " if args.title else ""

    hists = {label: run["sensitivity"]["histogram"] for label, run in zip(labels, runs) if "sensitivity" in run}
    if hists:
        written += plotting.plot_histograms(
            out / "compare-sensitivity.png", hists, title=f"{prefix}parameter sensitivity"
        )
    curves = {label: run["prune"]["points"] for label, run in zip(labels, runs) if "prune" in run}
    if curves:
        written += plotting.plot_prune(
            out / "compare-prune.png", curves, title=f"{prefix}pruning the least sensitive parameters", metric=metric
        )
    print(table, end="")
    print("wrote " + ", ".join(str(f) for f in written))
    return {"rows": rows}
