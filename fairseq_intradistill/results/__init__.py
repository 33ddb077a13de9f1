"""Summarise finished runs: BLEU and length ratio, significance, training cost, equal compute.

    python -m fairseq_intradistill.results DIR [DIR...] [--json OUT] [--time-budget SECONDS] [--add SUMMARY.json]

Each DIR (an *experiment folder*) holds one folder per method (``baseline``, ``intra``, or
any other name), each with the ``train.log`` that ``scripts/common/train.sh`` writes
(fairseq's JSON log) and the files ``scripts/common/evaluate.sh`` writes
(``bleu-test.json``, ``hyp-test.txt``).  The output, in order:

1. One row per run: test BLEU, length ratio (hypothesis / reference length; BLEU's brevity
   penalty starts below 1), the validation set's BLEU and ratio where the run has
   ``bleu-valid.json`` (``evaluate.sh --subset valid``), updates, training time, target tokens/s, cost (time relative to
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
"across_folders": [...]}``.  ``--add SUMMARY.json`` reads such a summary back: its runs and
tests join the DIRs' as they were recorded (their time budgets included), and the statistics
across folders (4) cover them all; for seeds trained on other machines or earlier, whose folders
are not at hand.  A folder both given and in a summary is an error.  The pieces are functions (:func:`summarise`,
:func:`paired_bootstrap`, :func:`across_folders`, :func:`report`) for other tools.
"""

from __future__ import annotations

# The package's modules, one job each: runs (collecting a folder's runs), paper (the paper's
# numbers), significance (paired bootstrap), aggregate (across folders), formatting (the tables),
# report (all of it as data and JSON); __main__ is the command.  The pieces other tools use:
from fairseq_intradistill.results.aggregate import across_folders, mean_std
from fairseq_intradistill.results.formatting import (
    format_across,
    format_equal_compute,
    format_pair_table,
    format_report,
    format_significance,
    format_table,
)
from fairseq_intradistill.results.paper import (
    MISSING,
    NOT_IN_PAPER,
    PAPER_BLEU,
    PAPER_MEAN_GAIN,
    PAPER_PAIRS,
    REPRODUCTION_BLEU,
    in_paper,
)
from fairseq_intradistill.results.report import read_report_json, report, report_json
from fairseq_intradistill.results.runs import (
    METHOD_ORDER,
    RunSummary,
    best_valid,
    read_experiment,
    summarise,
    summarise_run,
    training_stats,
)
from fairseq_intradistill.results.significance import ALPHA_LEVEL, DEFAULT_SAMPLES, PairedBootstrap, paired_bootstrap

__all__ = [
    "ALPHA_LEVEL",
    "DEFAULT_SAMPLES",
    "METHOD_ORDER",
    "MISSING",
    "NOT_IN_PAPER",
    "PAPER_BLEU",
    "PAPER_MEAN_GAIN",
    "PAPER_PAIRS",
    "REPRODUCTION_BLEU",
    "PairedBootstrap",
    "RunSummary",
    "across_folders",
    "best_valid",
    "format_across",
    "format_equal_compute",
    "format_pair_table",
    "format_report",
    "format_significance",
    "format_table",
    "in_paper",
    "mean_std",
    "paired_bootstrap",
    "read_experiment",
    "read_report_json",
    "report",
    "report_json",
    "summarise",
    "summarise_run",
    "training_stats",
]
