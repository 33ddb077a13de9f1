"""Summarise finished runs: BLEU, training time and throughput, baseline beside intra-distillation.

    python -m fairseq_intradistill.results DIR [DIR...] [--json OUT]

Each DIR holds one folder per method (``baseline``, ``intra``, or any other name), each with
the ``train.log`` that ``scripts/common/train.sh`` writes (fairseq's JSON log) and the
``bleu-test.json`` that ``scripts/common/evaluate.sh`` writes.

A DIR made by a recipe (``scripts/iwslt14``, ``scripts/wmt17``) also holds ``experiment.json``
(``{"benchmark": "iwslt14", "pair": "de-en"}``); the output then adds a second table, one row
per pair: our baseline and intra-distillation BLEU beside the paper's.  Only the numbers of
``PAPER_BLEU`` are shown (those we could source); other cells read ``n/a``, never a guess.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

METHOD_ORDER = ("baseline", "intra")

# The published numbers we could source (see docs/reproduction.md); nothing else is shown.
PAPER_BLEU: Dict[Tuple[str, str], Dict[str, float]] = {
    # Xu et al. 2022, Table 2, as quoted by a public reproduction.
    ("iwslt14", "de-en"): {"baseline": 33.07, "intra": 36.10},
}
# An independent reproduction (1 V100, 50k updates), shown as a note.
REPRODUCTION_BLEU: Dict[Tuple[str, str], Dict[str, float]] = {
    ("iwslt14", "de-en"): {"baseline": 32.90, "intra": 35.11},
}
# The paper's abstract: mean gain of intra-distillation over the 8 IWSLT'14 pairs.
PAPER_MEAN_GAIN: Dict[str, Tuple[float, int]] = {"iwslt14": (3.54, 8)}
MISSING = "n/a"


@dataclass
class RunSummary:
    experiment: str
    method: str
    bleu: Optional[float]
    signature: Optional[str]
    updates: Optional[int]
    seconds: Optional[float]
    tokens_per_second: Optional[float]
    benchmark: Optional[str] = None
    pair: Optional[str] = None
    paper_bleu: Optional[float] = None
    # WMT: tokenised, compound-split BLEU (bleu-test-compound.json), for older papers.
    bleu_compound: Optional[float] = None


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


def read_experiment(experiment_dir: Path) -> Tuple[Optional[str], Optional[str]]:
    """(benchmark, pair) from ``experiment.json``, or (None, None) for a folder without one."""
    meta_file = experiment_dir / "experiment.json"
    if not meta_file.is_file():
        return None, None
    try:
        meta = json.loads(meta_file.read_text())
        return str(meta["benchmark"]), str(meta["pair"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{meta_file}: not a valid experiment description ({e})") from e


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: unreadable ({e})") from e


def summarise_run(experiment_dir: Path, method: str) -> RunSummary:
    run = experiment_dir / method
    stats = training_stats(run / "train.log") if (run / "train.log").is_file() else {}
    bleu = _read_json(run / "bleu-test.json")
    benchmark, pair = read_experiment(experiment_dir)
    return RunSummary(
        experiment=experiment_dir.name,
        method=method,
        bleu=bleu.get("bleu"),
        signature=bleu.get("signature"),
        updates=stats.get("updates"),
        seconds=stats.get("seconds"),
        tokens_per_second=stats.get("tokens_per_second"),
        benchmark=benchmark,
        pair=pair,
        paper_bleu=PAPER_BLEU.get((benchmark, pair), {}).get(method) if benchmark else None,
        bleu_compound=_read_json(run / "bleu-test-compound.json").get("bleu"),
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


def _gain(base: Optional[float], intra: Optional[float]) -> Optional[float]:
    return intra - base if base is not None and intra is not None else None


def _cell(value: Optional[float], spec: str, missing: str) -> str:
    return missing if value is None else format(value, spec)


def format_pair_table(runs: List[RunSummary]) -> str:
    """One row per (benchmark, pair): our baseline and intra BLEU and gain beside the paper's.

    Our missing values print ``-`` (not run or not evaluated yet); the paper's missing
    values print ``n/a`` (not published in the sources we have).
    """
    pairs: Dict[Tuple[str, str], Dict[str, RunSummary]] = {}
    for r in runs:
        if r.benchmark:
            pairs.setdefault((r.benchmark, r.pair), {})[r.method] = r
    header = (f"{'benchmark':<10} {'pair':<7} {'baseline':>8} {'intra':>7} {'gain':>6} "
              f"{'paper baseline':>14} {'paper intra':>11} {'paper gain':>10}")
    lines = [header, "-" * len(header)]
    gains: Dict[str, List[float]] = {}
    for (benchmark, pair), by_method in sorted(pairs.items()):
        base = by_method.get("baseline").bleu if "baseline" in by_method else None
        intra = by_method.get("intra").bleu if "intra" in by_method else None
        paper = PAPER_BLEU.get((benchmark, pair), {})
        gain = _gain(base, intra)
        if gain is not None:
            gains.setdefault(benchmark, []).append(gain)
        lines.append(
            f"{benchmark:<10} {pair:<7} {_cell(base, '.2f', '-'):>8} {_cell(intra, '.2f', '-'):>7} "
            f"{_cell(gain, '+.2f', '-'):>6} {_cell(paper.get('baseline'), '.2f', MISSING):>14} "
            f"{_cell(paper.get('intra'), '.2f', MISSING):>11} "
            f"{_cell(_gain(paper.get('baseline'), paper.get('intra')), '+.2f', MISSING):>10}"
        )
    for benchmark, values in sorted(gains.items()):
        published = PAPER_MEAN_GAIN.get(benchmark)
        paper_note = f"paper, {published[1]} pairs: {published[0]:+.2f}" if published else f"paper: {MISSING}"
        lines.append(f"{benchmark} mean gain over {len(values)} pair(s): {sum(values) / len(values):+.2f} ({paper_note})")
    for (benchmark, pair) in sorted(pairs):
        repro = REPRODUCTION_BLEU.get((benchmark, pair))
        if repro:
            lines.append(f"{benchmark} {pair}, independent reproduction (1 V100): baseline {repro['baseline']:.2f}, "
                         f"intra {repro['intra']:.2f}")
    compound = [r for r in runs if r.bleu_compound is not None]
    for r in compound:
        lines.append(f"{r.benchmark or r.experiment} {r.pair or ''} {r.method}: tokenised compound-split BLEU "
                     f"{r.bleu_compound:.2f}")
    lines.append(f"{MISSING} = the paper's number for this pair is not in our sources (docs/reproduction.md); "
                 "- = not run or not evaluated yet")
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
    if any(r.benchmark for r in runs):
        print()
        print(format_pair_table(runs))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n")


if __name__ == "__main__":
    main()
