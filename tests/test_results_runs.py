"""results.runs: a run's training time, tokens/s and best validation loss, within a time budget (equal compute).

On real train.sh logs (conftest's ``trained``), checked against the log read by hand."""

import json
import sys
from pathlib import Path
from typing import List

import pytest
from conftest import run

from fairseq_intradistill import results

RESULTS = [sys.executable, "-m", "fairseq_intradistill.results"]


def _by_hand(log: Path) -> List[dict]:
    """The log's records read without the project's reader: bare JSON lines, each distinct line once."""
    seen, records = set(), []
    for line in log.read_text(encoding="utf-8").split("\n"):
        if line.startswith('{"') and line not in seen:
            seen.add(line)
            records.append(json.loads(line))
    return records


def _valid_times_by_hand(log: Path) -> List[tuple]:
    """(seconds, update, loss) per validation: the wall of the first training record after it."""
    out, pending = [], []
    for r in _by_hand(log):
        if "valid_loss" in r:
            pending.append((int(r["valid_num_updates"]), float(r["valid_loss"])))
        elif "wall" in r or "train_wall" in r:
            wall = float(r["wall"] if "num_updates" in r else r["train_wall"])
            out += [(wall, u, loss) for u, loss in pending]
            pending = []
    return out


@pytest.mark.slow
def test_equal_compute_on_real_logs(trained, tmp_path):
    exp = trained["exp"]
    proc = run([*RESULTS, exp, "--json", tmp_path / "r.json"])
    runs = {r["method"]: r for r in json.loads((tmp_path / "r.json").read_text())["runs"]}
    valid = {m: _valid_times_by_hand(exp / m / "train.log") for m in ("baseline", "intra")}
    assert all(len(v) >= 5 for v in valid.values()), "validations every 10 updates and at each epoch's end"
    # The default budget: the baseline's whole training time, its last end-of-epoch wall clock.
    assert runs["baseline"]["seconds"] == float(
        [r for r in _by_hand(exp / "baseline" / "train.log") if "train_num_updates" in r][-1]["train_wall"]
    )
    budget = float(
        [r for r in _by_hand(exp / "baseline" / "train.log") if "train_wall" in r and "train_num_updates" in r][-1][
            "train_wall"
        ]
    )
    for method in ("baseline", "intra"):
        overall = min(valid[method], key=lambda v: v[2])
        within = [v for v in valid[method] if v[0] <= budget]
        best = min(within, key=lambda v: v[2]) if within else None
        r = runs[method]
        assert r["time_budget"] == budget
        assert (r["best_valid_loss"], r["best_valid_update"]) == (overall[2], overall[1])
        assert (r["budget_valid_loss"], r["budget_valid_update"], r["budget_valid_seconds"]) == (
            (best[2], best[1], best[0]) if best else (None, None, None)
        )
    # Every budget between the intra run's validation times gives the best of those timed within it.
    for seconds in sorted({t for t, _, _ in valid["intra"]}):
        (r,) = [x for x in results.summarise(exp, time_budget=seconds) if x.method == "intra"]
        best = min((v for v in valid["intra"] if v[0] <= seconds), key=lambda v: v[2])
        assert (r.budget_valid_loss, r.budget_valid_update) == (best[2], best[1])
    assert "Equal compute" in proc.stdout and f"{budget:.0f}" in proc.stdout
    bad = run([*RESULTS, exp, "--time-budget", "0"], check=False)
    assert bad.returncode == 1 and "--time-budget must be > 0" in bad.stderr
