"""Summarise finished runs: BLEU and length ratio, significance, training cost, equal compute.

    python -m fairseq_intradistill.results DIR [DIR...] [--json OUT] [--time-budget SECONDS]

Each DIR (an *experiment folder*) holds one folder per method (``baseline``, ``intra``, or
any other name), each with the ``train.log`` that ``scripts/common/train.sh`` writes
(fairseq's JSON log) and the files ``scripts/common/evaluate.sh`` writes
(``bleu-test.json``, ``hyp-test.txt``).  The output, in order:

1. One row per run: test BLEU, length ratio (hypothesis / reference length; BLEU's brevity
   penalty starts below 1), updates, training time, target tokens/s, cost (time relative to
   the baseline of the same folder).
2. Paired bootstrap resampling (sacreBLEU's own ``PairedTest``, ``paired_bs``) for every
   folder holding both a ``baseline`` and an ``intra`` run decoded on the same test set:
   each system's BLEU with its 95% confidence interval, the gain, the p-value and which
   system is ahead (significantly at p < 0.05 or not).  Both runs must name the same
   reference (same sha256, recorded in ``bleu-test.json`` by
   ``fairseq_intradistill.evaluation``) and have ``hyp-test.txt``; anything else is an
   error that names the files.  ``--no-significance`` leaves the test out.
3. Equal compute: each run's best validation loss reached within a time budget (default:
   the training time of the baseline of the same folder; ``--time-budget`` sets one for
   all), beside its best validation loss overall and the update of each.  Times are
   fairseq's ``wall`` clock as its JSON log holds it (whole seconds, validation included);
   a validation is timed at the ``wall`` of the first training record logged after it,
   since validation records carry no time (the rule of
   :mod:`fairseq_intradistill.analysis.jsonlog`: a run is never credited with a loss
   before it had it).  A resumed run's log adds up its fairseq runs.
4. With several folders of the same experiment (e.g. one per seed; folders with the same
   ``experiment.json``, or none): per method the mean ± sample standard deviation of BLEU
   and of the length ratio, the mean ± std of the gain (intra − baseline, paired per
   folder), n, and in how many folders intra is ahead and significantly ahead.
5. A DIR made by a recipe (``scripts/iwslt14``, ``scripts/wmt17``) also holds
   ``experiment.json`` (``{"benchmark": "iwslt14", "pair": "de-en"}``, and the ``corpus``
   that ``scripts/iwslt14/prepare.sh`` recorded); then one row per pair: our baseline and
   intra-distillation BLEU (and length ratios) beside the paper's.  Only the numbers of
   ``PAPER_BLEU`` are shown (those we could source); other cells read ``n/a``, never a
   guess, or ``none`` where the paper has no such result: a pair outside its eight IWSLT'14
   pairs, or a corpus that is not the paper's data (:mod:`~fairseq_intradistill.data.corpora`).

``--json OUT`` writes the same as ``{"runs": [...], "paired_bootstrap": [...],
"across_folders": [...]}``.  The pieces are functions (:func:`summarise`,
:func:`paired_bootstrap`, :func:`across_folders`, :func:`report`) for other tools.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from fairseq_intradistill.analysis import jsonlog
from fairseq_intradistill.data import corpora
from fairseq_intradistill.data.archives import file_hash

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
# The pairs the paper has a result for, per benchmark (its presets share the paper's pairs).
PAPER_PAIRS: Dict[str, Tuple[str, ...]] = {
    "iwslt14": tuple(f"{lang}-en" for lang in corpora.PAPER_IWSLT14_LANGS),
    "wmt17": ("en-de",),
}
MISSING = "n/a"  # the paper has this result; we could not source its number
NOT_IN_PAPER = "none"  # the paper has no such result (another pair, or not its data)


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


def in_paper(benchmark: Optional[str], pair: Optional[str], corpus: Optional[str]) -> Optional[bool]:
    """Whether the paper has a result for this pair and corpus (None: no benchmark, nothing to say)."""
    if not benchmark:
        return None
    if not corpora.is_paper_data(corpus):
        return False
    # "iwslt14-small" is a preset of the paper's benchmark: it has the same pairs.
    family = next((b for b in PAPER_PAIRS if benchmark == b or benchmark.startswith(b + "-")), None)
    return family is None or pair in PAPER_PAIRS[family]


@dataclass
class PairedBootstrap:
    """sacreBLEU's paired bootstrap resampling of intra vs baseline in one experiment folder."""

    experiment: str
    folder: str
    baseline_bleu: float
    baseline_mean: float  # mean BLEU over the resamples
    baseline_ci: float  # half-width of the 95% confidence interval (sacreBLEU's "mean ± ci")
    intra_bleu: float
    intra_mean: float
    intra_ci: float
    gain: float  # intra − baseline
    p_value: float
    ahead: str  # "intra", "baseline" or "tie"
    significant: bool  # p < ALPHA_LEVEL
    samples: int
    seed: str
    signature: str
    reference: str
    reference_sha256: str


ALPHA_LEVEL = 0.05
DEFAULT_SAMPLES = 1000  # sacreBLEU's default for paired bootstrap resampling


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


def _read_json(path: Path) -> dict:
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
    bleu = _read_json(run / "bleu-test.json")
    benchmark, pair, corpus = read_experiment(experiment_dir)
    comparable = in_paper(benchmark, pair, corpus)
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
        paper_bleu=PAPER_BLEU.get((benchmark, pair), {}).get(method) if comparable else None,
        bleu_compound=_read_json(run / "bleu-test-compound.json").get("bleu"),
        length_ratio=bleu.get("length_ratio"),
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
        key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m),
    )
    if not methods:
        raise ValueError(f"{experiment_dir} holds no run (a folder with train.log or bleu-test.json)")
    if time_budget is None and (experiment_dir / "baseline" / "train.log").is_file():
        time_budget = training_stats(experiment_dir / "baseline" / "train.log")["seconds"]
    return [summarise_run(experiment_dir, m, time_budget) for m in methods]


def read_lines(path: Path) -> List[str]:
    """The lines of a text file, split on "\n" only (as ``evaluation`` writes hypotheses)."""
    with open(path, encoding="utf-8", newline="\n") as f:
        text = f.read()
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _scored_run(experiment_dir: Path, method: str) -> Tuple[dict, Path, List[str]]:
    """bleu-test.json, the reference file and the hypotheses of one run, checked."""
    run = experiment_dir / method
    bleu_file, hyp_file = run / "bleu-test.json", run / "hyp-test.txt"
    bleu = _read_json(bleu_file)
    if "reference_sha256" not in bleu or "reference" not in bleu:
        raise ValueError(
            f"{bleu_file} does not say which reference it was scored against (written before "
            "fairseq_intradistill.evaluation recorded it): evaluate again (scripts/common/evaluate.sh --force), "
            "or leave the test out with --no-significance"
        )
    if not hyp_file.is_file():
        raise ValueError(
            f"{hyp_file} is missing (written by scripts/common/evaluate.sh beside {bleu_file.name}); "
            "the significance test needs the hypotheses"
        )
    reference = Path(bleu["reference"])
    if not reference.is_file():
        raise ValueError(
            f"{bleu_file} was scored against {reference}, which is missing (moved?): evaluate again, "
            "or leave the test out with --no-significance"
        )
    if file_hash(reference) != bleu["reference_sha256"]:
        raise ValueError(f"{reference} has changed since {bleu_file} was scored against it (sha256 differs)")
    return bleu, reference, read_lines(hyp_file)


def paired_bootstrap(experiment_dir: Path, samples: int = DEFAULT_SAMPLES) -> Optional[PairedBootstrap]:
    """sacreBLEU's paired bootstrap resampling (``PairedTest``, test_type "bs") of intra vs baseline.

    None when the folder has no evaluated baseline and intra pair (no ``bleu-test.json`` for
    one of them).  Raises ValueError, naming the files, when the pair cannot be compared:
    no ``hyp-test.txt``, a reference not recorded, missing or changed, different references,
    or hypotheses that do not give the BLEU of ``bleu-test.json``.  sacreBLEU seeds its
    resampling with ``SACREBLEU_SEED`` (default 12345), reported in the result.
    """
    if samples < 1:
        raise ValueError(f"--bootstrap-samples must be >= 1 (got {samples})")
    if not all((experiment_dir / m / "bleu-test.json").is_file() for m in METHOD_ORDER):
        return None
    (base, base_ref, base_hyps), (intra, intra_ref, intra_hyps) = (_scored_run(experiment_dir, m) for m in METHOD_ORDER)
    if base["reference_sha256"] != intra["reference_sha256"]:
        raise ValueError(
            f"{experiment_dir}: baseline and intra were scored against different references: "
            f"{experiment_dir / 'baseline' / 'bleu-test.json'} against {base_ref} "
            f"(sha256 {base['reference_sha256'][:12]}...), "
            f"{experiment_dir / 'intra' / 'bleu-test.json'} against {intra_ref} "
            f"(sha256 {intra['reference_sha256'][:12]}...)"
        )
    references = read_lines(base_ref)
    for method, hyps in zip(METHOD_ORDER, (base_hyps, intra_hyps)):
        if len(hyps) != len(references):
            raise ValueError(
                f"{experiment_dir / method / 'hyp-test.txt'} has {len(hyps)} lines, "
                f"the reference {base_ref} {len(references)}"
            )
    lowercase = "case:lc" in (base.get("signature") or "")
    test = PairedTest(
        list(zip(METHOD_ORDER, (base_hyps, intra_hyps))),
        {"BLEU": BLEU(lowercase=lowercase)},
        [references],
        test_type="bs",
        n_samples=samples,
    )
    signatures, results = test()
    signature = signatures["BLEU"]
    base_result, intra_result = results["BLEU"]
    for method, bleu, result in (("baseline", base, base_result), ("intra", intra, intra_result)):
        if bleu.get("bleu") is not None and round(result.score, 2) != round(float(bleu["bleu"]), 2):
            raise ValueError(
                f"{experiment_dir / method / 'hyp-test.txt'} scores {result.score:.2f} BLEU against "
                f"{base_ref}, but {experiment_dir / method / 'bleu-test.json'} says {bleu['bleu']}: "
                "one of them is stale; evaluate again (scripts/common/evaluate.sh --force)"
            )
    gain = intra_result.score - base_result.score
    return PairedBootstrap(
        experiment=experiment_dir.name,
        folder=str(experiment_dir),
        baseline_bleu=base_result.score,
        baseline_mean=float(base_result.mean),
        baseline_ci=float(base_result.ci),
        intra_bleu=intra_result.score,
        intra_mean=float(intra_result.mean),
        intra_ci=float(intra_result.ci),
        gain=gain,
        p_value=float(intra_result.p_value),
        ahead="intra" if gain > 0 else "baseline" if gain < 0 else "tie",
        significant=gain != 0 and float(intra_result.p_value) < ALPHA_LEVEL,
        samples=int(signature.info["bs"]),
        seed=str(signature.info["seed"]),
        signature=signature.format(),
        reference=str(base_ref),
        reference_sha256=base["reference_sha256"],
    )


def _mean_std(values: List[float]) -> Tuple[Optional[float], Optional[float]]:
    """Mean and sample standard deviation (n − 1); the std is None for fewer than 2 values."""
    if not values:
        return None, None
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None


def across_folders(runs: List[RunSummary], pairs: List[PairedBootstrap]) -> List[dict]:
    """Mean ± sample std over the folders of one experiment (same ``experiment.json``, or none).

    One entry per experiment given in two or more folders (e.g. one folder per seed): per
    method n and BLEU / length ratio mean ± std; the gain intra − baseline paired per folder
    (folders with both BLEUs); in how many folders intra is ahead, and significantly ahead
    in the paired bootstrap test (out of the folders tested).
    """
    groups: Dict[Tuple[Optional[str], Optional[str], Optional[str]], Dict[str, Dict[str, RunSummary]]] = {}
    for r in runs:
        # The corpus too: the same pair of two corpora is two experiments, not two seeds (a folder
        # without a recorded corpus and one recorded as the IWSLT release are the same data).
        groups.setdefault((r.benchmark, _corpus_key(r.corpus), r.pair), {}).setdefault(r.folder, {})[r.method] = r
    tests = {p.folder: p for p in pairs}
    out = []
    for (benchmark, corpus, pair), folders in groups.items():
        if len(folders) < 2:
            continue
        methods = sorted(
            {m for by_method in folders.values() for m in by_method},
            key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m),
        )
        per_method = {}
        for method in methods:
            bleus = [f[method].bleu for f in folders.values() if method in f and f[method].bleu is not None]
            ratios = [
                f[method].length_ratio for f in folders.values() if method in f and f[method].length_ratio is not None
            ]
            (bleu_mean, bleu_std), (ratio_mean, ratio_std) = _mean_std(bleus), _mean_std(ratios)
            per_method[method] = {
                "n": len(bleus),
                "bleu_mean": bleu_mean,
                "bleu_std": bleu_std,
                "length_ratio_n": len(ratios),
                "length_ratio_mean": ratio_mean,
                "length_ratio_std": ratio_std,
            }
        gains = [
            f["intra"].bleu - f["baseline"].bleu
            for f in folders.values()
            if "baseline" in f and "intra" in f and f["baseline"].bleu is not None and f["intra"].bleu is not None
        ]
        gain_mean, gain_std = _mean_std(gains)
        tested = [tests[folder] for folder in folders if folder in tests]
        out.append(
            {
                "benchmark": benchmark,
                "corpus": corpus,
                "pair": pair,
                "folders": list(folders),
                "methods": per_method,
                "gain_n": len(gains),
                "gain_mean": gain_mean,
                "gain_std": gain_std,
                "intra_ahead": sum(g > 0 for g in gains),
                "tested": len(tested),
                "intra_significantly_ahead": sum(p.ahead == "intra" and p.significant for p in tested),
            }
        )
    return out


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _resumed(r: RunSummary) -> str:
    return "*" if r.fairseq_runs and r.fairseq_runs > 1 else ""


def format_table(runs: List[RunSummary]) -> str:
    header = (
        f"{'experiment':<16} {'method':<10} {'BLEU':>6} {'ratio':>6} {'updates':>8} {'time s':>8} "
        f"{'tokens/s':>9} {'cost':>6}"
    )
    lines = [header, "-" * len(header)]
    baseline_seconds = {r.folder: r.seconds for r in runs if r.method == "baseline"}
    for r in runs:
        base = baseline_seconds.get(r.folder)
        cost = r.seconds / base if (base and r.seconds) else None
        lines.append(
            f"{r.experiment:<16} {r.method:<10} {_fmt(r.bleu, '.2f'):>6} {_fmt(r.length_ratio, '.3f'):>6} "
            f"{_fmt(r.updates, 'd'):>8} {_fmt(r.seconds, '.0f') + _resumed(r):>8} "
            f"{_fmt(r.tokens_per_second, '.0f'):>9} "
            f"{_fmt(cost, '.2f') + ('x' if cost else ''):>6}"
        )
    lines += [f"sacreBLEU signature: {s}" for s in sorted({r.signature for r in runs if r.signature})]
    lines.append(
        "ratio = hypothesis length / reference length (BLEU's brevity penalty below 1); time s = fairseq's wall "
        "clock of the training run; tokens/s = target tokens per second of it; cost = time relative to the baseline"
    )
    if any(_resumed(r) for r in runs):
        lines.append(
            "* resumed: the time adds up its fairseq runs (fairseq's clock stops after a mid-epoch resume, "
            "so it may be short)"
        )
    return "\n".join(lines)


def format_significance(pairs: List[PairedBootstrap]) -> str:
    """The paired bootstrap test per folder, with its settings and sacreBLEU's signature."""
    if not pairs:
        return ""
    samples = sorted({p.samples for p in pairs})
    seeds = sorted({p.seed for p in pairs})
    lines = [
        f"Paired bootstrap resampling, intra vs baseline (sacreBLEU, {', '.join(map(str, samples))} resamples, "
        f"seed {', '.join(seeds)})"
    ]
    header = (
        f"{'experiment':<16} {'baseline':>8} {'95% CI':>14} {'intra':>8} {'95% CI':>14} {'gain':>6} "
        f"{'p-value':>7}  ahead"
    )
    lines += [header, "-" * (len(header) + 12)]
    for p in pairs:
        verdict = (
            "tie"
            if p.ahead == "tie"
            else f"{p.ahead} ({'p < ' + format(ALPHA_LEVEL, 'g') if p.significant else 'not significant'})"
        )
        lines.append(
            f"{p.experiment:<16} {p.baseline_bleu:>8.2f} {f'{p.baseline_mean:.2f} ± {p.baseline_ci:.2f}':>14} "
            f"{p.intra_bleu:>8.2f} {f'{p.intra_mean:.2f} ± {p.intra_ci:.2f}':>14} {p.gain:>+6.2f} "
            f"{p.p_value:>7.4f}  {verdict}"
        )
    lines += [f"sacreBLEU signature: {s}" for s in sorted({p.signature for p in pairs})]
    lines.append(
        "95% CI = mean ± half-width over the resamples (sacreBLEU's report); p-value = how often a "
        "resampled difference is as large as the observed one under the null hypothesis"
    )
    return "\n".join(lines)


def format_equal_compute(runs: List[RunSummary]) -> str:
    """Best validation loss within the time budget beside the best overall, per run."""
    timed = [r for r in runs if r.best_valid_loss is not None]
    if not timed:
        return ""
    lines = ["Equal compute: best validation loss (base 2) within a time budget, beside the best overall"]
    header = (
        f"{'experiment':<16} {'method':<10} {'budget s':>8} {'in budget':>9} {'update':>7} {'at s':>6} "
        f"{'overall':>8} {'update':>7}"
    )
    lines += [header, "-" * len(header)]
    for r in timed:
        lines.append(
            f"{r.experiment:<16} {r.method:<10} {_fmt(r.time_budget, '.0f'):>8} {_fmt(r.budget_valid_loss, '.3f'):>9} "
            f"{_fmt(r.budget_valid_update, 'd'):>7} {_fmt(r.budget_valid_seconds, '.0f'):>6} "
            f"{_fmt(r.best_valid_loss, '.3f'):>8} {_fmt(r.best_valid_update, 'd'):>7}"
        )
    lines.append(
        "budget = --time-budget, else the baseline's training time in the same folder; times are fairseq's "
        "wall clock (whole seconds), a validation timed at the first training record logged after it"
    )
    return "\n".join(lines)


def _mean_std_cell(mean: Optional[float], std: Optional[float], spec: str) -> str:
    if mean is None:
        return "-"
    return format(mean, spec) + (" ± " + format(std, spec.lstrip("+")) if std is not None else "")


def format_across(summaries: List[dict]) -> str:
    lines = []
    for s in summaries:
        if lines:
            lines.append("")
        name = f"{_label(s['benchmark'], s.get('corpus'))} {s['pair']}: " if s["benchmark"] else ""
        lines.append(f"{name}Across {len(s['folders'])} folders ({', '.join(Path(f).name for f in s['folders'])})")
        header = f"{'method':<10} {'n':>3} {'BLEU mean ± std':>17} {'ratio mean ± std':>17}"
        lines += [header, "-" * len(header)]
        for method, m in s["methods"].items():
            lines.append(
                f"{method:<10} {m['n']:>3} {_mean_std_cell(m['bleu_mean'], m['bleu_std'], '.2f'):>17} "
                f"{_mean_std_cell(m['length_ratio_mean'], m['length_ratio_std'], '.3f'):>17}"
            )
        if s["gain_n"]:
            tested = (
                f", significantly (p < {ALPHA_LEVEL:g}) in {s['intra_significantly_ahead']} of {s['tested']} tested"
                if s["tested"]
                else ""
            )
            lines.append(
                f"gain intra - baseline, paired per folder: {_mean_std_cell(s['gain_mean'], s['gain_std'], '+.2f')} "
                f"(n = {s['gain_n']}); intra ahead in {s['intra_ahead']} of {s['gain_n']}{tested}"
            )
        lines.append("± = sample standard deviation over the folders (n - 1)")
    return "\n".join(lines)


def _gain(base: Optional[float], intra: Optional[float]) -> Optional[float]:
    return intra - base if base is not None and intra is not None else None


def _cell(value: Optional[float], spec: str, missing: str) -> str:
    return missing if value is None else format(value, spec)


def _corpus_key(corpus: Optional[str]) -> Optional[str]:
    """The corpus as results group runs by it: None for the paper's data, recorded or not."""
    return None if corpora.is_paper_data(corpus) else corpus


def _label(benchmark: Optional[str], corpus: Optional[str]) -> str:
    """The benchmark as the per-pair table names it; with the corpus when that is not the paper's data."""
    return str(benchmark) if corpora.is_paper_data(corpus) else f"{benchmark}:{corpus}"


def format_pair_table(runs: List[RunSummary]) -> str:
    """One row per (benchmark, corpus, pair): our baseline and intra BLEU and gain beside the paper's.

    Our missing values print ``-`` (not run or not evaluated yet); the paper's missing
    values print ``n/a`` (not published in the sources we have), or ``none`` where the paper
    has no such result (a pair outside its pairs, a corpus that is not its data).
    """
    pairs: Dict[Tuple[str, Optional[str], str], Dict[str, List[RunSummary]]] = {}
    for r in runs:
        if r.benchmark:
            pairs.setdefault((r.benchmark, _corpus_key(r.corpus), r.pair), {}).setdefault(r.method, []).append(r)
    width = max([10] + [len(_label(b, c)) for b, c, _ in pairs])
    header = (
        f"{'benchmark':<{width}} {'pair':<7} {'baseline':>8} {'ratio':>6} {'intra':>7} {'ratio':>6} {'gain':>6} "
        f"{'paper baseline':>14} {'paper intra':>11} {'paper gain':>10}"
    )
    lines = [header, "-" * len(header)]
    # Per (benchmark, corpus): our gains, and the pairs the paper has no result for.
    gains: Dict[Tuple[str, Optional[str]], List[float]] = {}
    outside: Dict[Tuple[str, Optional[str]], List[str]] = {}
    several = False
    for (benchmark, corpus, pair), by_method in sorted(pairs.items(), key=lambda kv: tuple(map(str, kv[0]))):
        # Several folders of one pair (seeds): their mean, as the summary across folders shows it.
        several |= any(len(v) > 1 for v in by_method.values())
        base, base_ratio = (
            _mean_std([getattr(r, key) for r in by_method.get("baseline", []) if getattr(r, key) is not None])[0]
            for key in ("bleu", "length_ratio")
        )
        intra, intra_ratio = (
            _mean_std([getattr(r, key) for r in by_method.get("intra", []) if getattr(r, key) is not None])[0]
            for key in ("bleu", "length_ratio")
        )
        comparable = in_paper(benchmark, pair, corpus)
        paper = PAPER_BLEU.get((benchmark, pair), {}) if comparable else {}
        missing = MISSING if comparable else NOT_IN_PAPER
        if not comparable:
            outside.setdefault((benchmark, corpus), []).append(pair)
        gain = _gain(base, intra)
        if gain is not None:
            gains.setdefault((benchmark, corpus), []).append(gain)
        lines.append(
            f"{_label(benchmark, corpus):<{width}} {pair:<7} {_cell(base, '.2f', '-'):>8} "
            f"{_cell(base_ratio, '.3f', '-'):>6} {_cell(intra, '.2f', '-'):>7} {_cell(intra_ratio, '.3f', '-'):>6} "
            f"{_cell(gain, '+.2f', '-'):>6} {_cell(paper.get('baseline'), '.2f', missing):>14} "
            f"{_cell(paper.get('intra'), '.2f', missing):>11} "
            f"{_cell(_gain(paper.get('baseline'), paper.get('intra')), '+.2f', missing):>10}"
        )
    for (benchmark, corpus), values in sorted(gains.items(), key=lambda kv: tuple(map(str, kv[0]))):
        published = PAPER_MEAN_GAIN.get(benchmark)
        not_paper = outside.get((benchmark, corpus), [])
        if not corpora.is_paper_data(corpus):
            paper_note = f"paper: {NOT_IN_PAPER}, {corpus} is not its data"
        elif not_paper:
            # The paper's mean is over its own pairs: a mean with other pairs in it is not comparable.
            paper_note = f"paper: {NOT_IN_PAPER} for {', '.join(not_paper)}, not among its pairs"
        elif published:
            paper_note = f"paper, {published[1]} pairs: {published[0]:+.2f}"
        else:
            paper_note = f"paper: {MISSING}"
        lines.append(
            f"{_label(benchmark, corpus)} mean gain over {len(values)} pair(s): {sum(values) / len(values):+.2f} "
            f"({paper_note})"
        )
    for benchmark, corpus, pair in sorted(pairs, key=lambda k: tuple(map(str, k))):
        repro = REPRODUCTION_BLEU.get((benchmark, pair))
        if repro and in_paper(benchmark, pair, corpus):
            lines.append(
                f"{benchmark} {pair}, independent reproduction (1 V100): baseline {repro['baseline']:.2f}, "
                f"intra {repro['intra']:.2f}"
            )
    compound = [r for r in runs if r.bleu_compound is not None]
    for r in compound:
        lines.append(
            f"{r.benchmark or r.experiment} {r.pair or ''} {r.method}: tokenised compound-split BLEU "
            f"{r.bleu_compound:.2f}"
        )
    if several:
        lines.append("a pair run in several folders (e.g. seeds) shows their mean")
    for corpus in sorted({c for _, c, _ in pairs if not corpora.is_paper_data(c)}):
        lines.append(f"{corpus}: {corpora.BY_NAME[corpus].description}")
    notes = f"{MISSING} = the paper's number for this pair is not in our sources (docs/reproduction.md); "
    if outside:
        notes += f"{NOT_IN_PAPER} = the paper has no result for this pair or corpus; "
    lines.append(notes + "- = not run or not evaluated yet; ratio = hypothesis / reference length")
    return "\n".join(lines)


def report(
    dirs: List[Path], time_budget: Optional[float] = None, significance: bool = True, samples: int = DEFAULT_SAMPLES
) -> dict:
    """Everything the command prints, as data: runs, paired bootstrap tests, summaries across folders."""
    if time_budget is not None and time_budget <= 0:
        raise ValueError(f"--time-budget must be > 0 seconds (got {time_budget:g})")
    runs = [run for d in dirs for run in summarise(d, time_budget)]
    pairs = [p for p in (paired_bootstrap(d, samples) for d in dirs) if p is not None] if significance else []
    return {"runs": runs, "paired_bootstrap": pairs, "across_folders": across_folders(runs, pairs)}


def format_report(result: dict) -> str:
    runs = result["runs"]
    parts = [
        format_table(runs),
        format_significance(result["paired_bootstrap"]),
        format_equal_compute(runs),
        format_across(result["across_folders"]),
    ]
    if any(r.benchmark for r in runs):
        parts.append(format_pair_table(runs))
    return "\n\n".join(p for p in parts if p)


def report_json(result: dict) -> dict:
    return {
        "runs": [asdict(r) for r in result["runs"]],
        "paired_bootstrap": [asdict(p) for p in result["paired_bootstrap"]],
        "across_folders": result["across_folders"],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "dirs",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="experiment folders, each with one folder per method (baseline, intra, ...)",
    )
    parser.add_argument("--json", type=Path, help="also write everything as JSON here")
    parser.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="equal-compute budget for every run (default: the baseline's training time in each folder)",
    )
    parser.add_argument(
        "--bootstrap-samples",
        type=int,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"resamples of the paired bootstrap test (default: {DEFAULT_SAMPLES}, sacreBLEU's); "
        "sacreBLEU seeds it with $SACREBLEU_SEED (default 12345)",
    )
    parser.add_argument("--no-significance", action="store_true", help="leave the paired bootstrap test out")
    args = parser.parse_args(argv)
    try:
        result = report(args.dirs, args.time_budget, not args.no_significance, args.bootstrap_samples)
    except (ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from e
    print(format_report(result))
    if args.json:
        args.json.write_text(json.dumps(report_json(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
