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
from typing import Any, Dict, List, Tuple

import torch

from fairseq_intradistill.analysis import plotting
from fairseq_intradistill.analysis.arguments import (
    FAIRSEQ_ONLY,
    TRANSFORMERS,
    TRANSFORMERS_ONLY,
    check_checkpoint_arguments,
    checkpoint_parent,
    default_label,
    default_out,
    device_of,
    resolve_kind_options,
)
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


def check_arguments(args: argparse.Namespace) -> None:
    from fairseq_intradistill.analysis import AnalysisError

    resolve_kind_options(args, FAIRSEQ_ONLY, TRANSFORMERS_ONLY)
    if args.bins < 1:
        raise AnalysisError(f"--bins must be >= 1 (got {args.bins})")
    check_checkpoint_arguments(args)
    if args.kind == TRANSFORMERS:
        from fairseq_intradistill.analysis import hf_io

        if args.subset is None:
            args.subset = hf_io.default_subset(args.glue_task)
        hf_io.check_subset(args.glue_task, args.subset, "--subset")
    elif args.subset is None:
        args.subset = "valid"


def _fairseq_sensitivity(args: argparse.Namespace, device: torch.device) -> Tuple[Any, Dict[str, Any], str]:
    from fairseq_intradistill.analysis import fairseq_io

    model, task, _ = fairseq_io.load(args.data, args.path, args.subset, device)
    acc, info = fairseq_io.compute_sensitivity(
        model,
        task,
        args.subset,
        max_batches=args.max_batches,
        max_tokens=args.max_tokens,
        mode=args.mode,
        exclude_embeddings=args.exclude_embeddings,
        progress=not args.no_progress,
    )
    return acc, info, f"{info['tokens']} tokens"


def _transformers_sensitivity(args: argparse.Namespace, device: torch.device) -> Tuple[Any, Dict[str, Any], str]:
    from fairseq_intradistill.analysis import hf_io

    model, data, collator = hf_io.load(
        args.data, args.path, args.glue_task, [args.subset], args.max_length, device, progress=not args.no_progress
    )
    acc, info = hf_io.compute_sensitivity(
        model,
        data[args.subset],
        collator,
        args.subset,
        batch_size=args.batch_size,
        max_batches=args.max_batches,
        mode=args.mode,
        exclude_embeddings=args.exclude_embeddings,
        progress=not args.no_progress,
    )
    info = {
        "kind": TRANSFORMERS,
        "glue_task": args.glue_task,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        **info,
    }
    return acc, info, f"{info['examples']} examples"


def run(args: argparse.Namespace) -> Dict[str, Any]:
    check_arguments(args)
    out = args.out or default_out(args.path)
    label = args.label or default_label(args.path)
    device = device_of(args.cpu)
    start = time.time()
    compute = _transformers_sensitivity if args.kind == TRANSFORMERS else _fairseq_sensitivity
    acc, info, counted = compute(args, device)
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
        f"({info['batches']} batches, {counted} of {args.subset})"
    )
    print("wrote " + ", ".join(str(f) for f in files + [out / "sensitivity-modules.csv"]))
    return record
