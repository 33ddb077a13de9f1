"""Tables of the Transformers recipes' results.json files: mean and std over seeds, paper column.

``python -m fairseq_intradistill.hf.results work/glue/runs`` prints a Markdown table with one
row per task and method.  The paper's GLUE per-task numbers could not be retrieved
(shared/METHOD.md), so that column is left empty ("n/a") rather than filled in.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

NOT_AVAILABLE = "n/a"


def collect(root: Path) -> Dict[Tuple[str, str], List[dict]]:
    runs: Dict[Tuple[str, str], List[dict]] = defaultdict(list)
    for path in sorted(Path(root).rglob("results.json")):
        result = json.loads(path.read_text())
        runs[(result["task"], result["method"])].append(result)
    return runs


def headline(result: dict) -> float:
    """The task's metric on its (first) validation split, in percent."""
    split = "validation_matched" if result["task"] == "mnli" else "validation"
    return 100.0 * result[split][result["metric"]]


def table(root: Path) -> str:
    runs = collect(root)
    if not runs:
        raise SystemExit(f"error: no results.json under {root}")
    lines = ["| task | metric | method | seeds | ours (mean) | std | paper |", "|---|---|---|---|---|---|---|"]
    for (task, method), results in sorted(runs.items()):
        scores = [headline(r) for r in results]
        std = statistics.stdev(scores) if len(scores) > 1 else 0.0
        seeds = ",".join(str(r["seed"]) for r in sorted(results, key=lambda r: r["seed"]))
        lines.append(f"| {task} | {results[0]['metric']} | {method} | {seeds} | {statistics.mean(scores):.2f} | {std:.2f} | {NOT_AVAILABLE} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="folder searched for results.json (e.g. work/glue/runs)")
    print(table(parser.parse_args(argv).root))


if __name__ == "__main__":
    main()
