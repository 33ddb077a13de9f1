"""Summarise finished runs: BLEU, training time and throughput, baseline beside intra-distillation.

    python -m fairseq_intradistill.results DIR [DIR...] [--json OUT]

Each DIR holds one folder per method (``baseline``, ``intra``, or any other name), each with
the ``train.log`` that ``scripts/common/train.sh`` writes (fairseq's JSON log) and the
``bleu-test.json`` that ``scripts/common/evaluate.sh`` writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional

METHOD_ORDER = ("baseline", "intra")


@dataclass
class RunSummary:
    experiment: str
    method: str
    bleu: Optional[float]
    signature: Optional[str]
    updates: Optional[int]
    seconds: Optional[float]
    tokens_per_second: Optional[float]


def epoch_records(log: Path) -> List[dict]:
    """The end-of-epoch training records of a fairseq ``--log-format json`` log, one per epoch."""
    by_epoch = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        payload = line[line.find("{"):] if "{" in line else ""
        if '"train_num_updates"' not in payload:
            continue
        try:
            record = json.loads(payload)
        except json.JSONDecodeError as e:
            raise ValueError(f"{log}: unreadable training record: {e}") from e
        by_epoch[int(record["epoch"])] = record  # fairseq may print a record twice
    return [by_epoch[e] for e in sorted(by_epoch)]


def training_stats(log: Path) -> dict:
    """Updates, training time and target tokens/s from a fairseq JSON log.

    The time is fairseq's ``wall`` clock at the end of the last epoch (training, validation
    and checkpointing, carried over on resume); fairseq's ``train_wall`` leaves out most of
    a CPU step and is rounded to seconds.  Tokens are summed epoch by epoch (words per batch
    × updates in the epoch).  A resumed run appends to the same log.
    """
    epochs = epoch_records(log)
    if not epochs:
        raise ValueError(f"{log}: no end-of-epoch training record; did training finish an epoch?")
    tokens, previous_updates = 0.0, 0
    for record in epochs:
        updates = int(float(record["train_num_updates"]))
        tokens += float(record["train_wpb"]) * max(0, updates - previous_updates)
        previous_updates = updates
    seconds = float(epochs[-1]["train_wall"])
    return {
        "updates": previous_updates,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds if seconds > 0 else None,
    }


def summarise_run(experiment_dir: Path, method: str) -> RunSummary:
    run = experiment_dir / method
    stats = training_stats(run / "train.log") if (run / "train.log").is_file() else {}
    bleu_file = run / "bleu-test.json"
    bleu = json.loads(bleu_file.read_text()) if bleu_file.is_file() else {}
    return RunSummary(
        experiment=experiment_dir.name,
        method=method,
        bleu=bleu.get("bleu"),
        signature=bleu.get("signature"),
        updates=stats.get("updates"),
        seconds=stats.get("seconds"),
        tokens_per_second=stats.get("tokens_per_second"),
    )


def summarise(experiment_dir: Path) -> List[RunSummary]:
    if not experiment_dir.is_dir():
        raise ValueError(f"{experiment_dir} is not a folder")
    methods = sorted(
        (p.name for p in experiment_dir.iterdir() if (p / "train.log").is_file() or (p / "bleu-test.json").is_file()),
        key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m),
    )
    if not methods:
        raise ValueError(f"{experiment_dir} holds no run (a folder with train.log or bleu-test.json)")
    return [summarise_run(experiment_dir, m) for m in methods]


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(runs: List[RunSummary]) -> str:
    header = f"{'experiment':<16} {'method':<10} {'BLEU':>6} {'updates':>8} {'time s':>8} {'tokens/s':>9} {'cost':>6}"
    lines = [header, "-" * len(header)]
    baseline_seconds = {r.experiment: r.seconds for r in runs if r.method == "baseline"}
    for r in runs:
        base = baseline_seconds.get(r.experiment)
        cost = r.seconds / base if (base and r.seconds) else None
        lines.append(
            f"{r.experiment:<16} {r.method:<10} {_fmt(r.bleu, '.2f'):>6} {_fmt(r.updates, 'd'):>8} "
            f"{_fmt(r.seconds, '.0f'):>8} {_fmt(r.tokens_per_second, '.0f'):>9} "
            f"{_fmt(cost, '.2f') + ('x' if cost else ''):>6}"
        )
    lines += [f"sacreBLEU signature: {s}" for s in sorted({r.signature for r in runs if r.signature})]
    lines.append(
        "time s = fairseq's wall clock of the training run; tokens/s = target tokens per second of it; "
        "cost = time relative to the baseline"
    )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path, help="experiment folders")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    try:
        runs = [run for d in args.dirs for run in summarise(d)]
    except (ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1)
    print(format_table(runs))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n")


if __name__ == "__main__":
    main()
