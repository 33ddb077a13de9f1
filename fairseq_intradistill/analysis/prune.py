"""``prune DATA --path MODEL --fractions ...``: the score as the least-sensitive parameters are zeroed.

The parameters are ranked globally (all scored tensors together) by the sensitivity of
``sensitivity`` (or the scores it saved, ``--scores``), with
:func:`.stats.global_prune_masks`; for each fraction f the round(f·n) least sensitive are
set to zero and the subset is scored: a fairseq checkpoint's is decoded with fairseq's
generator and scored with sacreBLEU; a Transformers GLUE model's is predicted and scored
with the recipe's metric of the task (``--glue-task``: accuracy, F1, Matthews or Pearson,
the one that picks the best epoch; the others are recorded too).
Fractions are applied in increasing order on the same model (each mask holds the previous
ones), so no copy of the parameters is kept for restoring them.  The arguments shared with
``sensitivity`` come from :func:`.arguments.checkpoint_parent`.

Writes into ``--out``: prune.json (every point and the run's settings), prune.png, prune.csv.
"""

import argparse
import re
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import torch

from fairseq_intradistill.analysis import AnalysisError, plotting, stats
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
from fairseq_intradistill.analysis.stats import parse_fractions
from fairseq_intradistill.textio import read_lines

DEFAULT_FRACTIONS = "0,0.1,...,0.9"
# prune's options that only BLEU (a fairseq checkpoint) understands, and their defaults.
BLEU_ONLY: Dict[str, Any] = {
    "reference": None,
    "lowercase": None,
    "beam": 5,
    "lenpen": 1.0,
    "remove_bpe": "sentencepiece",
}


def fractions_type(text: str) -> List[float]:
    try:
        return parse_fractions(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parents() -> List[argparse.ArgumentParser]:
    return [checkpoint_parent()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fractions",
        type=fractions_type,
        default=parse_fractions(DEFAULT_FRACTIONS),
        help=f"fractions of the parameters to prune, each in [0, 1]; 'a,b,...,c' steps by b-a "
        f"(default: {DEFAULT_FRACTIONS})",
    )
    parser.add_argument(
        "--subset",
        help="subset scored (default: valid; Transformers: the GLUE validation split, MNLI validation_matched)",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        help="fairseq: raw references of --subset, one per line "
        "(default: the binarised targets, SentencePiece removed)",
    )
    parser.add_argument("--lowercase", action="store_true", default=None, help="fairseq: case-insensitive BLEU")
    parser.add_argument(
        "--sensitivity-subset", help="subset that ranks the parameters (default: as --subset's default)"
    )
    parser.add_argument(
        "--scores", type=Path, help="rank by these scores (sensitivity --save-scores) instead of computing them"
    )
    parser.add_argument(
        "--include",
        help="prune only parameters whose name matches this regular expression (e.g. 'decoder\\.layers\\.0\\.')",
    )
    parser.add_argument("--beam", type=int, help="fairseq: beam size (default: 5)")
    parser.add_argument("--lenpen", type=float, help="fairseq: length penalty (default: 1.0)")
    parser.add_argument("--remove-bpe", help="fairseq: post-processing (default: sentencepiece)")


def check_arguments(args: argparse.Namespace) -> Optional[re.Pattern]:
    kind = resolve_kind_options(args, {**FAIRSEQ_ONLY, **BLEU_ONLY}, TRANSFORMERS_ONLY)
    if kind != TRANSFORMERS and args.beam < 1:
        raise AnalysisError(f"--beam must be >= 1 (got {args.beam})")
    if args.scores is not None and not args.scores.is_file():
        raise AnalysisError(f"--scores {args.scores}: file not found")
    if args.reference is not None and not args.reference.is_file():
        raise AnalysisError(f"--reference {args.reference}: file not found")
    try:
        include = re.compile(args.include) if args.include else None
    except re.error as e:
        raise AnalysisError(f"--include {args.include!r} is not a regular expression: {e}") from None
    check_checkpoint_arguments(args)
    if kind == TRANSFORMERS:
        from fairseq_intradistill.analysis import hf_io

        default = hf_io.default_subset(args.glue_task)
        args.subset = args.subset or default
        args.sensitivity_subset = args.sensitivity_subset or default
        hf_io.check_subset(args.glue_task, args.subset, "--subset")
        hf_io.check_subset(args.glue_task, args.sensitivity_subset, "--sensitivity-subset")
    else:
        args.subset = args.subset or "valid"
        args.sensitivity_subset = args.sensitivity_subset or "valid"
        args.lowercase = bool(args.lowercase)
    return include


def _load_scores(path: Path, params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict):
        raise AnalysisError(f"--scores {path}: not a file written by sensitivity --save-scores")
    for name, s in saved.items():
        if name not in params or tuple(s.shape) != tuple(params[name].shape):
            raise AnalysisError(
                f"--scores {path}: {name} does not match a parameter of the model (another checkpoint?)"
            )
    return saved


def _eligible(
    scores: Dict[str, torch.Tensor], args: argparse.Namespace, include: Optional[re.Pattern]
) -> Dict[str, torch.Tensor]:
    from fairseq_intradistill.analysis.stats import is_embedding

    eligible = {
        name: s
        for name, s in scores.items()
        if not (args.exclude_embeddings and is_embedding(name)) and (include is None or include.search(name))
    }
    if not eligible:
        raise AnalysisError(f"no parameter matches --include {args.include!r}" if include else "no parameter to prune")
    return eligible


def _ranking(
    args: argparse.Namespace, params: Dict[str, torch.Tensor], device: torch.device, compute: Callable[[], Any]
) -> Dict[str, torch.Tensor]:
    """The scores that rank the parameters: --scores, or ``compute()``'s accumulator's."""
    if args.scores is not None:
        return {k: v.to(device) for k, v in _load_scores(args.scores, params).items()}
    acc, _ = compute()
    return acc.scores()


def _prune_to(params: Dict[str, torch.Tensor], eligible: Dict[str, torch.Tensor], fraction: float) -> int:
    """Zero the round(fraction·n) least sensitive of ``eligible`` in ``params``; return how many are zeroed."""
    # The tested global ranking; the masks grow with the fraction, so applying them in
    # increasing order on the same model prunes exactly the fraction asked for.
    masks = stats.global_prune_masks(eligible, fraction)
    pruned = 0
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].masked_fill_(mask.to(params[name].device), 0.0)
            pruned += int(mask.sum())
    return pruned


def _model_parameters(params: Dict[str, torch.Tensor]) -> int:
    return sum(p.numel() for p in {id(p): p for p in params.values()}.values())


def run(args: argparse.Namespace) -> Dict[str, Any]:
    include = check_arguments(args)
    return (_run_transformers if args.kind == TRANSFORMERS else _run_fairseq)(args, include)


def _run_fairseq(args: argparse.Namespace, include: Optional[re.Pattern]) -> Dict[str, Any]:
    from fairseq_intradistill.analysis import fairseq_io
    from fairseq_intradistill.evaluation import score

    out = args.out or default_out(args.path)
    label = args.label or default_label(args.path)
    device = device_of(args.cpu)
    start = time.time()
    subsets = {args.subset, args.sensitivity_subset} if args.scores is None else {args.subset}
    model, task, _ = fairseq_io.load(args.data, args.path, args.subset, device)
    for subset in subsets - {args.subset}:
        try:
            task.load_dataset(subset)
        except FileNotFoundError as e:
            raise AnalysisError(f"DATA {args.data}: subset {subset!r} not found ({e})") from e

    params = dict(model.named_parameters())
    scores = _ranking(
        args,
        params,
        device,
        lambda: fairseq_io.compute_sensitivity(
            model,
            task,
            args.sensitivity_subset,
            max_batches=args.max_batches,
            max_tokens=args.max_tokens,
            mode=args.mode,
            exclude_embeddings=args.exclude_embeddings,
            progress=not args.no_progress,
        ),
    )
    eligible = _eligible(scores, args, include)
    n = sum(s.numel() for s in eligible.values())
    total_params = _model_parameters(params)

    references = None
    if args.reference is not None:
        references = read_lines(args.reference)  # \n only, as evaluation.py reads references
        size = len(task.dataset(args.subset))
        if len(references) != size:
            raise AnalysisError(
                f"--reference {args.reference} has {len(references)} lines, subset {args.subset!r} {size} sentences"
            )

    points: List[Dict[str, Any]] = []
    for fraction in args.fractions:
        pruned = _prune_to(params, eligible, fraction)
        hyps, refs = fairseq_io.decode(
            model,
            task,
            args.subset,
            beam=args.beam,
            lenpen=args.lenpen,
            max_tokens=args.max_tokens,
            remove_bpe=args.remove_bpe,
            progress=not args.no_progress,
            desc=f"pruned {fraction:g}",
        )
        result = score(hyps, references if references is not None else refs, lowercase=args.lowercase)
        points.append(
            {"fraction": fraction, "pruned": pruned, "bleu": result["bleu"], "length_ratio": result["length_ratio"]}
        )
        print(
            f"{label}: pruned {fraction:g} ({pruned} of {n} parameters): BLEU {result['bleu']:.2f}, "
            f"length ratio {result['length_ratio']:.3f}",
            flush=True,
        )

    record = {
        "label": label,
        "checkpoint": str(args.path),
        "data": str(args.data),
        "subset": args.subset,
        "reference": str(args.reference) if args.reference else "binarised targets",
        "ranking": str(args.scores) if args.scores else f"sensitivity on {args.sensitivity_subset} ({args.mode})",
        "exclude_embeddings": args.exclude_embeddings,
        "include": args.include,
        "prunable_parameters": n,
        "model_parameters": total_params,
        "beam": args.beam,
        "lenpen": args.lenpen,
        "signature": result["signature"],
        "seconds": round(time.time() - start, 2),
        "points": points,
    }
    files = plotting.plot_prune(
        out / "prune.png", {label: points}, title=f"{label}: pruning the least sensitive parameters", numbers=record
    )
    print("wrote " + ", ".join(str(f) for f in files))
    return record


def _run_transformers(args: argparse.Namespace, include: Optional[re.Pattern]) -> Dict[str, Any]:
    from fairseq_intradistill.analysis import hf_io

    out = args.out or default_out(args.path)
    label = args.label or default_label(args.path)
    device = device_of(args.cpu)
    start = time.time()
    subsets = [args.subset] if args.scores is not None else [args.subset, args.sensitivity_subset]
    model, data, collator = hf_io.load(
        args.data, args.path, args.glue_task, subsets, args.max_length, device, progress=not args.no_progress
    )
    metric = hf_io.best_metric(args.glue_task)

    params = dict(model.named_parameters())
    scores = _ranking(
        args,
        params,
        device,
        lambda: hf_io.compute_sensitivity(
            model,
            data[args.sensitivity_subset],
            collator,
            args.sensitivity_subset,
            batch_size=args.batch_size,
            max_batches=args.max_batches,
            mode=args.mode,
            exclude_embeddings=args.exclude_embeddings,
            progress=not args.no_progress,
        ),
    )
    eligible = _eligible(scores, args, include)
    n = sum(s.numel() for s in eligible.values())

    points: List[Dict[str, Any]] = []
    for fraction in args.fractions:
        pruned = _prune_to(params, eligible, fraction)
        metrics = hf_io.evaluate(
            model,
            data[args.subset],
            collator,
            args.glue_task,
            batch_size=args.batch_size,
            progress=not args.no_progress,
            desc=f"pruned {fraction:g}",
        )
        points.append({"fraction": fraction, "pruned": pruned, **metrics})
        shown = ", ".join(f"{name} {value:.4f}" for name, value in metrics.items())
        print(f"{label}: pruned {fraction:g} ({pruned} of {n} parameters): {shown}", flush=True)

    record = {
        "label": label,
        "kind": TRANSFORMERS,
        "checkpoint": str(args.path),
        "data": str(args.data),
        "glue_task": args.glue_task,
        "subset": args.subset,
        "metric": metric,
        "ranking": str(args.scores) if args.scores else f"sensitivity on {args.sensitivity_subset} ({args.mode})",
        "exclude_embeddings": args.exclude_embeddings,
        "include": args.include,
        "prunable_parameters": n,
        "model_parameters": _model_parameters(params),
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "seconds": round(time.time() - start, 2),
        "points": points,
    }
    files = plotting.plot_prune(
        out / "prune.png",
        {label: points},
        title=f"{label}: pruning the least sensitive parameters",
        numbers=record,
        metric=metric,
    )
    print("wrote " + ", ".join(str(f) for f in files))
    return record
