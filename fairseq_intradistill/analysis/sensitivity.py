"""``sensitivity DATA --path MODEL``: how unequal the parameters' contributions are.

MODEL is a fairseq checkpoint (DATA: its binarised data; L: the references' NLL per target
token) or a Transformers GLUE model folder (DATA: the task's local data, ``--glue-task``; L:
the model's own task loss per example); see :mod:`.arguments`.

Writes into ``--out``:
  sensitivity.json          summary (count, mean, std, quantiles, top-20% share), run info,
                            per-module statistics and the histogram
  sensitivity.png / .csv    the distribution on log-spaced bins (the CSV holds the bins)
  sensitivity-modules.csv   per-module count, mean, std, max, share of the total
  sensitivity-scores.pt     the per-parameter scores themselves, with --save-scores
                            (reusable by ``prune --scores``)
"""

import argparse
import time
from typing import Any, Dict, List

import torch

from fairseq_intradistill.analysis import AnalysisError, plotting
from fairseq_intradistill.analysis.arguments import (
    backend_for,
    check_checkpoint_arguments,
    checkpoint_parent,
    default_label,
    default_out,
    device_of,
)
from fairseq_intradistill.analysis.backend import Backend
from fairseq_intradistill.analysis.stats import log_histogram, module_statistics, summarize

MODULE_COLUMNS = ("module", "count", "mean", "std", "max", "share", "embedding")


def parents() -> List[argparse.ArgumentParser]:
    return [checkpoint_parent()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--subset",
        help="subset whose loss is differentiated (default: valid; Transformers: the GLUE "
        "validation split, MNLI validation_matched)",
    )
    parser.add_argument("--bins", type=int, default=60, help="histogram bins (default: 60)")
    parser.add_argument(
        "--save-scores", action="store_true", help="also write the per-parameter scores (sensitivity-scores.pt)"
    )


def check_arguments(args: argparse.Namespace) -> Backend:
    backend = backend_for(args)
    if args.bins < 1:
        raise AnalysisError(f"--bins must be >= 1 (got {args.bins})")
    check_checkpoint_arguments(args, backend)
    args.subset = args.subset or backend.default_subset()
    backend.check_subset(args.subset, "--subset")
    return backend


def run(args: argparse.Namespace) -> Dict[str, Any]:
    backend = check_arguments(args)
    out = args.out or default_out(args.path)
    label = args.label or default_label(args.path)
    start = time.time()
    backend.load([args.subset], device_of(args.cpu))
    acc, info = backend.sensitivity(args.subset)
    scores = acc.scores()
    modules = module_statistics(scores)
    if args.save_scores:
        out.mkdir(parents=True, exist_ok=True)
        torch.save({name: s.cpu().clone() for name, s in scores.items()}, out / "sensitivity-scores.pt")
    # From here on the per-parameter order is not needed: sort the one buffer in place.
    buffer = acc.buffer.cpu()
    hist = log_histogram(buffer, bins=args.bins)
    summary = summarize(buffer, sort_in_place=True)
    record = {
        "label": label,
        "checkpoint": str(args.path),
        "data": str(args.data),
        "subset": args.subset,
        "mode": args.mode,
        "exclude_embeddings": args.exclude_embeddings,
        **info,
        "seconds": round(time.time() - start, 2),
        "summary": summary,
        "histogram": hist,
        "modules": modules,
    }
    files = plotting.plot_histograms(
        out / "sensitivity.png",
        {label: hist},
        title=f"{label}: std {summary['std']:.3g}, top 20% hold {100 * summary['top_share']:.1f}%",
        numbers=record,
    )
    plotting.write_csv(out / "sensitivity-modules.csv", modules, MODULE_COLUMNS)
    print(
        f"{label}: {summary['count']} parameters, sensitivity mean {summary['mean']:.4g}, "
        f"std {summary['std']:.4g}, top 20% share {summary['top_share']:.3f} "
        f"({info['batches']} batches, {info[backend.unit]} {backend.unit} of {args.subset})"
    )
    print("wrote " + ", ".join(str(f) for f in files + [out / "sensitivity-modules.csv"]))
    return record
