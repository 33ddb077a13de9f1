"""Collecting runs: one :class:`RunSummary` per method folder of an experiment folder.

Reads what the scripts write into a run folder: ``train.log`` (fairseq's JSON log, by
:mod:`fairseq_intradistill.analysis.jsonlog`), ``bleu-test.json``, ``bleu-valid.json`` (when
the validation set was decoded too) and ``bleu-test-compound.json``, and the experiment folder's ``experiment.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from fairseq_intradistill.analysis import jsonlog
from fairseq_intradistill.results import paper

METHOD_ORDER = ("baseline", "intra")


def method_order(method: str) -> Tuple[int, str]:
    """Sort key: baseline and intra first, then the other methods by name."""
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


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
    length_ratio: Optional[float] = None
    # bleu-valid.json (evaluate.sh --subset valid): the numbers settings are chosen on.
    valid_bleu: Optional[float] = None
    valid_length_ratio: Optional[float] = None
    folder: Optional[str] = None  # the experiment folder as given
    fairseq_runs: Optional[int] = None  # more than 1: the training was resumed
    best_valid_loss: Optional[float] = None
    best_valid_update: Optional[int] = None
    time_budget: Optional[float] = None  # seconds; the baseline's training time by default
    budget_valid_loss: Optional[float] = None  # best validation loss reached within the budget
    budget_valid_update: Optional[int] = None
    budget_valid_seconds: Optional[float] = None  # when it was reached
    # The corpus prepare.sh recorded (data/corpora.py); None when not recorded.
    corpus: Optional[str] = None
    # False where the paper has no result to compare with (a pair outside its pairs, or a
    # corpus that is not its data); None without a benchmark.
    in_paper: Optional[bool] = None


def training_stats(log_path: Path) -> dict:
    """Updates, training time, target tokens/s and the validation losses of a fairseq JSON log.

    The time is fairseq's ``wall`` clock at the end of the last epoch (training, validation
    and checkpointing; a resumed run's fairseq runs added up, see :mod:`.analysis.jsonlog`);
    fairseq's ``train_wall`` leaves out most of a CPU step and is rounded to seconds.
    Tokens are summed epoch by epoch (words per batch × updates in the epoch).
    ``valid`` holds (seconds, update, validation loss) per validation, in log order.
    """
    log = jsonlog.read_log(log_path)
    times = jsonlog.record_times(log)
    by_epoch: Dict[int, Tuple[int, jsonlog.Record]] = {}
    for index, record in enumerate(log.records):
        if record.tag == "train" and record.number("epoch") is not None:
            by_epoch[int(record.number("epoch"))] = (index, record)  # a resumed run repeats an epoch
    if not by_epoch:
        raise ValueError(f"{log_path}: no end-of-epoch training record; did training finish an epoch?")
    tokens, previous_updates = 0.0, 0
    for epoch in sorted(by_epoch):
        record = by_epoch[epoch][1]
        updates = record.update or 0
        tokens += (record.number("train_wpb") or 0.0) * max(0, updates - previous_updates)
        previous_updates = updates
    seconds = times.get(by_epoch[max(by_epoch)][0])
    valid = [
        (times.get(i), r.update, r.number("valid_loss"))
        for i, r in enumerate(log.records)
        if r.tag == "valid" and r.update is not None and r.number("valid_loss") is not None
    ]
    return {
        "updates": previous_updates,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds if seconds else None,
        "fairseq_runs": log.runs,
        "valid": valid,
    }


def best_valid(
    valid: List[Tuple[Optional[float], int, float]], budget: Optional[float] = None
) -> Optional[Tuple[float, int, Optional[float]]]:
    """(loss, update, seconds) of the lowest validation loss, within ``budget`` seconds if given.

    The first of equal losses is kept; with a budget, validations that could not be timed
    are left out.
    """
    best = None
    for seconds, update, loss in valid:
        if budget is not None and (seconds is None or seconds > budget):
            continue
        if best is None or loss < best[0]:
            best = (loss, update, seconds)
    return best


def read_experiment(experiment_dir: Path) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(benchmark, pair, corpus) from ``experiment.json``; Nones for a folder without one.

    ``corpus`` is None when the file does not record one (written before it did, or by a
    recipe that does not record it).
    """
    meta_file = experiment_dir / "experiment.json"
    if not meta_file.is_file():
        return None, None, None
    try:
        meta = json.loads(meta_file.read_text())
        corpus = meta.get("corpus")
        return str(meta["benchmark"]), str(meta["pair"]), None if corpus is None else str(corpus)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{meta_file}: not a valid experiment description ({e})") from e


def read_json(path: Path) -> dict:
    """A JSON record of a run; {} when the file is not there (not evaluated yet)."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: unreadable ({e})") from e


def summarise_run(experiment_dir: Path, method: str, time_budget: Optional[float] = None) -> RunSummary:
    """One run's numbers; its best validation loss within ``time_budget`` seconds if given."""
    run = experiment_dir / method
    stats = training_stats(run / "train.log") if (run / "train.log").is_file() else {}
    bleu = read_json(run / "bleu-test.json")
    valid_bleu = read_json(run / "bleu-valid.json")
    benchmark, pair, corpus = read_experiment(experiment_dir)
    comparable = paper.in_paper(benchmark, pair, corpus)
    valid = stats.get("valid", [])
    overall = best_valid(valid)
    in_budget = best_valid(valid, time_budget) if time_budget is not None else None
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
        paper_bleu=paper.paper_bleu(benchmark, pair, method) if comparable else None,
        bleu_compound=read_json(run / "bleu-test-compound.json").get("bleu"),
        length_ratio=bleu.get("length_ratio"),
        valid_bleu=valid_bleu.get("bleu"),
        valid_length_ratio=valid_bleu.get("length_ratio"),
        folder=str(experiment_dir),
        fairseq_runs=stats.get("fairseq_runs"),
        best_valid_loss=overall[0] if overall else None,
        best_valid_update=overall[1] if overall else None,
        time_budget=time_budget,
        budget_valid_loss=in_budget[0] if in_budget else None,
        budget_valid_update=in_budget[1] if in_budget else None,
        budget_valid_seconds=in_budget[2] if in_budget else None,
        corpus=corpus,
        in_paper=comparable,
    )


def summarise(experiment_dir: Path, time_budget: Optional[float] = None) -> List[RunSummary]:
    """Every run of an experiment folder, baseline and intra first.

    The equal-compute budget is ``time_budget`` seconds, else the training time of the
    folder's baseline (none without a baseline).
    """
    if not experiment_dir.is_dir():
        raise ValueError(f"{experiment_dir} is not a folder")
    methods = sorted(
        (p.name for p in experiment_dir.iterdir() if (p / "train.log").is_file() or (p / "bleu-test.json").is_file()),
        key=method_order,
    )
    if not methods:
        raise ValueError(f"{experiment_dir} holds no run (a folder with train.log or bleu-test.json)")
    if time_budget is None and (experiment_dir / "baseline" / "train.log").is_file():
        time_budget = training_stats(experiment_dir / "baseline" / "train.log")["seconds"]
    return [summarise_run(experiment_dir, m, time_budget) for m in methods]
