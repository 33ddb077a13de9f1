"""Statistics across folders: mean ± sample standard deviation over the seeds of one experiment.

Folders are one experiment when their ``experiment.json`` gives the same benchmark, corpus and
pair (or none do): typically one folder per seed.
"""

from __future__ import annotations

import statistics
from typing import Dict, List, Optional, Tuple

from fairseq_intradistill.results import paper
from fairseq_intradistill.results.runs import RunSummary, method_order
from fairseq_intradistill.results.significance import PairedBootstrap


def mean_std(values: List[float]) -> Tuple[Optional[float], Optional[float]]:
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
        groups.setdefault((r.benchmark, paper.corpus_key(r.corpus), r.pair), {}).setdefault(r.folder, {})[r.method] = r
    tests = {p.folder: p for p in pairs}
    out = []
    for (benchmark, corpus, pair), folders in groups.items():
        if len(folders) < 2:
            continue
        methods = sorted(
            {m for by_method in folders.values() for m in by_method},
            key=method_order,
        )
        per_method = {}
        for method in methods:
            bleus = [f[method].bleu for f in folders.values() if method in f and f[method].bleu is not None]
            ratios = [
                f[method].length_ratio for f in folders.values() if method in f and f[method].length_ratio is not None
            ]
            (bleu_mean, bleu_std), (ratio_mean, ratio_std) = mean_std(bleus), mean_std(ratios)
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
        gain_mean, gain_std = mean_std(gains)
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
