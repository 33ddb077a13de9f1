"""The whole report as data: runs, paired bootstrap tests, summaries across folders; and as JSON."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import List, Optional

from fairseq_intradistill.results.aggregate import across_folders
from fairseq_intradistill.results.runs import summarise
from fairseq_intradistill.results.significance import DEFAULT_SAMPLES, paired_bootstrap


def report(
    dirs: List[Path], time_budget: Optional[float] = None, significance: bool = True, samples: int = DEFAULT_SAMPLES
) -> dict:
    """Everything the command prints, as data: runs, paired bootstrap tests, summaries across folders."""
    if time_budget is not None and time_budget <= 0:
        raise ValueError(f"--time-budget must be > 0 seconds (got {time_budget:g})")
    runs = [run for d in dirs for run in summarise(d, time_budget)]
    pairs = [p for p in (paired_bootstrap(d, samples) for d in dirs) if p is not None] if significance else []
    return {"runs": runs, "paired_bootstrap": pairs, "across_folders": across_folders(runs, pairs)}


def report_json(result: dict) -> dict:
    """:func:`report`'s result as ``--json`` writes it."""
    return {
        "runs": [asdict(r) for r in result["runs"]],
        "paired_bootstrap": [asdict(p) for p in result["paired_bootstrap"]],
        "across_folders": result["across_folders"],
    }
