"""Formatting: the five tables of ``python -m fairseq_intradistill.results``, as text.

Every function takes what :mod:`.runs`, :mod:`.significance` and :mod:`.aggregate` computed and
returns lines of text laid out by :mod:`fairseq_intradistill.tables`; nothing here reads a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

from fairseq_intradistill.data import corpora
from fairseq_intradistill.results import paper
from fairseq_intradistill.results.aggregate import mean_std
from fairseq_intradistill.results.runs import RunSummary
from fairseq_intradistill.results.significance import ALPHA_LEVEL, PairedBootstrap
from fairseq_intradistill.tables import Column, aligned


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _resumed(r: RunSummary) -> str:
    return "*" if r.fairseq_runs and r.fairseq_runs > 1 else ""


def _mean_std_cell(mean: Optional[float], std: Optional[float], spec: str) -> str:
    if mean is None:
        return "-"
    return format(mean, spec) + (" ± " + format(std, spec.lstrip("+")) if std is not None else "")


def _gain(base: Optional[float], intra: Optional[float]) -> Optional[float]:
    return intra - base if base is not None and intra is not None else None


def _cell(value: Optional[float], spec: str, missing: str) -> str:
    return missing if value is None else format(value, spec)


EXPERIMENT = Column("experiment", 16, "<")
METHOD = Column("method", 10, "<")


def format_table(runs: List[RunSummary]) -> str:
    """One row per run: BLEU, length ratio, (validation BLEU and ratio,) updates, time, tokens/s, cost."""
    # The validation columns only where a run has them, so that test-only tables stay as they were.
    with_valid = any(r.valid_bleu is not None for r in runs)
    columns = [
        EXPERIMENT,
        METHOD,
        Column("BLEU", 6),
        Column("ratio", 6),
        *([Column("valid", 6), Column("v.ratio", 7)] if with_valid else []),
        Column("updates", 8),
        Column("time s", 8),
        Column("tokens/s", 9),
        Column("cost", 6),
    ]
    baseline_seconds = {r.folder: r.seconds for r in runs if r.method == "baseline"}
    rows = []
    for r in runs:
        base = baseline_seconds.get(r.folder)
        cost = r.seconds / base if (base and r.seconds) else None
        rows.append(
            [
                r.experiment,
                r.method,
                _fmt(r.bleu, ".2f"),
                _fmt(r.length_ratio, ".3f"),
                *([_fmt(r.valid_bleu, ".2f"), _fmt(r.valid_length_ratio, ".3f")] if with_valid else []),
                _fmt(r.updates, "d"),
                _fmt(r.seconds, ".0f") + _resumed(r),
                _fmt(r.tokens_per_second, ".0f"),
                _fmt(cost, ".2f") + ("x" if cost else ""),
            ]
        )
    lines = aligned(columns, rows)
    lines += [f"sacreBLEU signature: {s}" for s in sorted({r.signature for r in runs if r.signature})]
    lines.append(
        "ratio = hypothesis length / reference length (BLEU's brevity penalty below 1); time s = fairseq's wall "
        "clock of the training run; tokens/s = target tokens per second of it; cost = time relative to the baseline"
    )
    if with_valid:
        lines.append("valid, v.ratio = BLEU and length ratio on the validation set (bleu-valid.json)")
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
    columns = [
        EXPERIMENT,
        Column("baseline", 8),
        Column("95% CI", 14),
        Column("intra", 8),
        Column("95% CI", 14),
        Column("gain", 6),
        Column("p-value", 7),
        Column("ahead", 0, "<", gap="  "),
    ]
    rows = []
    for p in pairs:
        verdict = (
            "tie"
            if p.ahead == "tie"
            else f"{p.ahead} ({'p < ' + format(ALPHA_LEVEL, 'g') if p.significant else 'not significant'})"
        )
        rows.append(
            [
                p.experiment,
                f"{p.baseline_bleu:.2f}",
                f"{p.baseline_mean:.2f} ± {p.baseline_ci:.2f}",
                f"{p.intra_bleu:.2f}",
                f"{p.intra_mean:.2f} ± {p.intra_ci:.2f}",
                f"{p.gain:+.2f}",
                f"{p.p_value:.4f}",
                verdict,
            ]
        )
    lines += aligned(columns, rows, rule_extra=12)  # the rule reaches over a verdict, longer than "ahead"
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
    columns = [
        EXPERIMENT,
        METHOD,
        Column("budget s", 8),
        Column("in budget", 9),
        Column("update", 7),
        Column("at s", 6),
        Column("overall", 8),
        Column("update", 7),
    ]
    rows = [
        [
            r.experiment,
            r.method,
            _fmt(r.time_budget, ".0f"),
            _fmt(r.budget_valid_loss, ".3f"),
            _fmt(r.budget_valid_update, "d"),
            _fmt(r.budget_valid_seconds, ".0f"),
            _fmt(r.best_valid_loss, ".3f"),
            _fmt(r.best_valid_update, "d"),
        ]
        for r in timed
    ]
    lines += aligned(columns, rows)
    lines.append(
        "budget = --time-budget, else the baseline's training time in the same folder; times are fairseq's "
        "wall clock (whole seconds), a validation timed at the first training record logged after it"
    )
    return "\n".join(lines)


def format_across(summaries: List[dict]) -> str:
    """Per experiment in several folders: mean ± std per method, and the gain paired per folder."""
    lines: List[str] = []
    columns = [METHOD, Column("n", 3), Column("BLEU mean ± std", 17), Column("ratio mean ± std", 17)]
    for s in summaries:
        if lines:
            lines.append("")
        name = f"{paper.label(s['benchmark'], s.get('corpus'))} {s['pair']}: " if s["benchmark"] else ""
        lines.append(f"{name}Across {len(s['folders'])} folders ({', '.join(Path(f).name for f in s['folders'])})")
        rows = [
            [
                method,
                str(m["n"]),
                _mean_std_cell(m["bleu_mean"], m["bleu_std"], ".2f"),
                _mean_std_cell(m["length_ratio_mean"], m["length_ratio_std"], ".3f"),
            ]
            for method, m in s["methods"].items()
        ]
        lines += aligned(columns, rows)
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


def format_pair_table(runs: List[RunSummary]) -> str:
    """One row per (benchmark, corpus, pair): our baseline and intra BLEU and gain beside the paper's.

    Our missing values print ``-`` (not run or not evaluated yet); the paper's missing
    values print ``n/a`` (not published in the sources we have), or ``none`` where the paper
    has no such result (a pair outside its pairs, a corpus that is not its data).
    """
    pairs: Dict[Tuple[str, Optional[str], str], Dict[str, List[RunSummary]]] = {}
    for r in runs:
        if r.benchmark:
            pairs.setdefault((r.benchmark, paper.corpus_key(r.corpus), r.pair), {}).setdefault(r.method, []).append(r)
    width = max([10] + [len(paper.label(b, c)) for b, c, _ in pairs])
    columns = [
        Column("benchmark", width, "<"),
        Column("pair", 7, "<"),
        Column("baseline", 8),
        Column("ratio", 6),
        Column("intra", 7),
        Column("ratio", 6),
        Column("gain", 6),
        Column("paper baseline", 14),
        Column("paper intra", 11),
        Column("paper gain", 10),
    ]
    rows: List[List[str]] = []
    # Per (benchmark, corpus): our gains, and the pairs the paper has no result for.
    gains: Dict[Tuple[str, Optional[str]], List[float]] = {}
    outside: Dict[Tuple[str, Optional[str]], List[str]] = {}
    several = False
    for (benchmark, corpus, pair), by_method in sorted(pairs.items(), key=lambda kv: tuple(map(str, kv[0]))):
        # Several folders of one pair (seeds): their mean, as the summary across folders shows it.
        several |= any(len(v) > 1 for v in by_method.values())
        base, base_ratio = (
            mean_std([getattr(r, key) for r in by_method.get("baseline", []) if getattr(r, key) is not None])[0]
            for key in ("bleu", "length_ratio")
        )
        intra, intra_ratio = (
            mean_std([getattr(r, key) for r in by_method.get("intra", []) if getattr(r, key) is not None])[0]
            for key in ("bleu", "length_ratio")
        )
        comparable = paper.in_paper(benchmark, pair, corpus)
        published = paper.PAPER_BLEU.get((benchmark, pair), {}) if comparable else {}
        missing = paper.MISSING if comparable else paper.NOT_IN_PAPER
        if not comparable:
            outside.setdefault((benchmark, corpus), []).append(pair)
        gain = _gain(base, intra)
        if gain is not None:
            gains.setdefault((benchmark, corpus), []).append(gain)
        rows.append(
            [
                paper.label(benchmark, corpus),
                pair,
                _cell(base, ".2f", "-"),
                _cell(base_ratio, ".3f", "-"),
                _cell(intra, ".2f", "-"),
                _cell(intra_ratio, ".3f", "-"),
                _cell(gain, "+.2f", "-"),
                _cell(published.get("baseline"), ".2f", missing),
                _cell(published.get("intra"), ".2f", missing),
                _cell(_gain(published.get("baseline"), published.get("intra")), "+.2f", missing),
            ]
        )
    lines = aligned(columns, rows)
    for (benchmark, corpus), values in sorted(gains.items(), key=lambda kv: tuple(map(str, kv[0]))):
        mean_gain = paper.PAPER_MEAN_GAIN.get(benchmark)
        not_paper = outside.get((benchmark, corpus), [])
        if not corpora.is_paper_data(corpus):
            paper_note = f"paper: {paper.NOT_IN_PAPER}, {corpus} is not its data"
        elif not_paper:
            # The paper's mean is over its own pairs: a mean with other pairs in it is not comparable.
            paper_note = f"paper: {paper.NOT_IN_PAPER} for {', '.join(not_paper)}, not among its pairs"
        elif mean_gain:
            paper_note = f"paper, {mean_gain[1]} pairs: {mean_gain[0]:+.2f}"
        else:
            paper_note = f"paper: {paper.MISSING}"
        lines.append(
            f"{paper.label(benchmark, corpus)} mean gain over {len(values)} pair(s): "
            f"{sum(values) / len(values):+.2f} ({paper_note})"
        )
    for benchmark, corpus, pair in sorted(pairs, key=lambda k: tuple(map(str, k))):
        repro = paper.REPRODUCTION_BLEU.get((benchmark, pair))
        if repro and paper.in_paper(benchmark, pair, corpus):
            lines.append(
                f"{benchmark} {pair}, independent reproduction (1 V100): baseline {repro['baseline']:.2f}, "
                f"intra {repro['intra']:.2f}"
            )
    for r in runs:
        if r.bleu_compound is not None:
            lines.append(
                f"{r.benchmark or r.experiment} {r.pair or ''} {r.method}: tokenised compound-split BLEU "
                f"{r.bleu_compound:.2f}"
            )
    if several:
        lines.append("a pair run in several folders (e.g. seeds) shows their mean")
    for corpus in sorted({c for _, c, _ in pairs if not corpora.is_paper_data(c)}):
        lines.append(f"{corpus}: {corpora.BY_NAME[corpus].description}")
    notes = f"{paper.MISSING} = the paper's number for this pair is not in our sources (docs/reproduction.md); "
    if outside:
        notes += f"{paper.NOT_IN_PAPER} = the paper has no result for this pair or corpus; "
    lines.append(notes + "- = not run or not evaluated yet; ratio = hypothesis / reference length")
    return "\n".join(lines)


def format_report(result: dict) -> str:
    """Everything the command prints, from :func:`fairseq_intradistill.results.report.report`'s result."""
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
