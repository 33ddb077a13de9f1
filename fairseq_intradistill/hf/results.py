"""Tables of the Transformers recipes' results.json files: mean and std over seeds, paper column.

``python -m fairseq_intradistill.hf.results work/glue/runs`` prints a Markdown table with one
row per task and method; ``--languages`` adds one row per language for PAN-X and TyDiQA.
The paper column holds only numbers we could source: the PAN-X and TyDiQA averages
as quoted by a public reproduction (which languages they average is uncertain, hence the
``*``); the GLUE per-task numbers could not be retrieved, so those cells stay "n/a".
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from fairseq_intradistill.tables import markdown

NOT_AVAILABLE = "n/a"
PAPER = {
    ("panx", "baseline"): "84.50*",
    ("panx", "intra"): "85.40*",
    ("tydiqa", "baseline"): "65.51*",
    ("tydiqa", "intra"): "68.20*",
}
FOOTNOTE = "* average as quoted by a public reproduction; which languages it covers is uncertain"


def collect(root: Path, task: Optional[str] = None) -> Dict[Tuple[str, str], List[dict]]:
    runs: Dict[Tuple[str, str], List[dict]] = defaultdict(list)
    for path in sorted(Path(root).rglob("results.json")):
        result = json.loads(path.read_text())
        if task is None or result["task"] == task:
            runs[(result["task"], result["method"])].append(result)
    return runs


def headline(result: dict) -> float:
    """In percent: the average over languages (XTREME tasks), or the metric on the (first) validation split."""
    if "languages" in result:
        return 100.0 * result[f"average_{result['metric']}"]
    split = "validation_matched" if result["task"] == "mnli" else "validation"
    return 100.0 * result[split][result["metric"]]


def _stats(scores: List[float]) -> Tuple[str, str]:
    return f"{statistics.mean(scores):.2f}", f"{statistics.stdev(scores):.2f}" if len(scores) > 1 else "0.00"


def table(root: Path, task: Optional[str] = None, languages: bool = False) -> str:
    runs = collect(root, task)
    if not runs:
        raise SystemExit(f"error: no results.json under {root}" + (f" for task {task}" if task else ""))
    rows = []
    for (name, method), results in sorted(runs.items()):
        seeds = ",".join(str(r["seed"]) for r in sorted(results, key=lambda r: r["seed"]))
        metric = results[0]["metric"] + (" (avg)" if "languages" in results[0] else "")
        rows.append(
            [
                name,
                metric,
                method,
                seeds,
                *_stats([headline(r) for r in results]),
                PAPER.get((name, method), NOT_AVAILABLE),
            ]
        )
    lines = markdown(["task", "metric", "method", "seeds", "ours (mean)", "std", "paper"], rows)
    if any(key in PAPER for key in runs):
        lines.append("")
        lines.append(FOOTNOTE)
    if languages:
        for (name, method), results in sorted(runs.items()):
            if "languages" not in results[0]:
                continue
            lines += [
                "",
                f"{name} {method}, per language ({results[0]['metric']}, mean over {len(results)} seed(s)):",
                "",
            ]
            lines += markdown(
                ["language", "mean", "std"],
                [
                    [lang, *_stats([100.0 * r["languages"][lang][r["metric"]] for r in results])]
                    for lang in results[0]["languages"]
                ],
            )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.hf.results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", type=Path, help="folder searched for results.json (e.g. work/glue/runs)")
    parser.add_argument("--task", help="only this task (e.g. panx, tydiqa, rte)")
    parser.add_argument("--languages", action="store_true", help="per-language rows for PAN-X and TyDiQA")
    args = parser.parse_args(argv)
    print(table(args.root, args.task, args.languages))


if __name__ == "__main__":
    main()
