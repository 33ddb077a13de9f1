"""The whole report as data: runs, paired bootstrap tests, summaries across folders; and as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from fairseq_intradistill.results.aggregate import across_folders
from fairseq_intradistill.results.runs import RunSummary, summarise
from fairseq_intradistill.results.significance import DEFAULT_SAMPLES, PairedBootstrap, paired_bootstrap


def report(
    dirs: List[Path],
    time_budget: Optional[float] = None,
    significance: bool = True,
    samples: int = DEFAULT_SAMPLES,
    earlier: Sequence[Path] = (),
) -> dict:
    """Everything the command prints, as data: runs, paired bootstrap tests, summaries across folders.

    ``earlier`` are summaries this command wrote before (``--json``): their runs and tests join
    those of ``dirs`` as they were recorded, and the statistics across folders cover them all.
    """
    if time_budget is not None and time_budget <= 0:
        raise ValueError(f"--time-budget must be > 0 seconds (got {time_budget:g})")
    runs = [run for d in dirs for run in summarise(d, time_budget)]
    pairs = [p for p in (paired_bootstrap(d, samples) for d in dirs) if p is not None] if significance else []
    for path in earlier:
        earlier_runs, earlier_pairs = read_report_json(path)
        taken = {r.folder for r in runs} & {r.folder for r in earlier_runs}
        if taken:
            raise ValueError(f"{path} summarises folders given again: {', '.join(sorted(taken))}")
        runs += earlier_runs
        pairs += earlier_pairs if significance else []
    return {"runs": runs, "paired_bootstrap": pairs, "across_folders": across_folders(runs, pairs)}


def report_json(result: dict) -> dict:
    """:func:`report`'s result as ``--json`` writes it."""
    return {
        "runs": [asdict(r) for r in result["runs"]],
        "paired_bootstrap": [asdict(p) for p in result["paired_bootstrap"]],
        "across_folders": result["across_folders"],
    }


def read_report_json(path: Path) -> Tuple[List[RunSummary], List[PairedBootstrap]]:
    """The runs and paired tests of a summary :func:`report_json` wrote (its ``across_folders`` is recomputed)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable results summary ({e})") from e
    if not isinstance(data, dict) or not {"runs", "paired_bootstrap"} <= data.keys():
        raise ValueError(f"{path}: not a results summary (no 'runs' and 'paired_bootstrap'; written by --json?)")
    return _records(path, data["runs"], RunSummary), _records(path, data["paired_bootstrap"], PairedBootstrap)


def _records(path: Path, entries: list, kind: type) -> list:
    names = {f.name for f in fields(kind)}
    out = []
    for entry in entries:
        unknown = set(entry) - names
        if unknown:
            raise ValueError(f"{path}: a {kind.__name__} entry has unknown keys {sorted(unknown)}")
        try:
            out.append(kind(**entry))
        except TypeError as e:  # a required field missing
            raise ValueError(f"{path}: a {kind.__name__} entry is incomplete ({e})") from e
    return out
