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
from typing import Any, Dict, List, Optional, Tuple

import torch

from fairseq_intradistill.analysis import AnalysisError, plotting, stats
from fairseq_intradistill.analysis.arguments import (
    backend_for,
    check_checkpoint_arguments,
    checkpoint_parent,
    default_label,
    default_out,
    device_of,
)
from fairseq_intradistill.analysis.backend import FAIRSEQ, Backend
from fairseq_intradistill.analysis.stats import parse_fractions

DEFAULT_FRACTIONS = "0,0.1,...,0.9"
# prune's options that only BLEU (a fairseq checkpoint) understands, and their defaults.
BLEU_ONLY: Dict[str, Any] = {
    "reference": None,
    "lowercase": False,
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


def check_arguments(args: argparse.Namespace) -> Tuple[Backend, Optional[re.Pattern]]:
    backend = backend_for(args, {FAIRSEQ: BLEU_ONLY})
    if args.beam is not None and args.beam < 1:  # None: not a fairseq checkpoint
        raise AnalysisError(f"--beam must be >= 1 (got {args.beam})")
    if args.scores is not None and not args.scores.is_file():
        raise AnalysisError(f"--scores {args.scores}: file not found")
    if args.reference is not None and not args.reference.is_file():
        raise AnalysisError(f"--reference {args.reference}: file not found")
    try:
        include = re.compile(args.include) if args.include else None
    except re.error as e:
        raise AnalysisError(f"--include {args.include!r} is not a regular expression: {e}") from None
    check_checkpoint_arguments(args, backend)
    args.subset = args.subset or backend.default_subset()
    args.sensitivity_subset = args.sensitivity_subset or backend.default_subset()
    backend.check_subset(args.subset, "--subset")
    backend.check_subset(args.sensitivity_subset, "--sensitivity-subset")
    return backend, include


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
    args: argparse.Namespace, backend: Backend, params: Dict[str, torch.Tensor], device: torch.device
) -> Dict[str, torch.Tensor]:
    """The scores that rank the parameters: --scores, or the sensitivity on --sensitivity-subset."""
    if args.scores is not None:
        return {k: v.to(device) for k, v in _load_scores(args.scores, params).items()}
    acc, _ = backend.sensitivity(args.sensitivity_subset)
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
    backend, include = check_arguments(args)
    out = args.out or default_out(args.path)
    label = args.label or default_label(args.path)
    device = device_of(args.cpu)
    start = time.time()
    # The scored subset first; the ranking's too unless --scores ranks.
    model = backend.load([args.subset] + ([args.sensitivity_subset] if args.scores is None else []), device)

    params = dict(model.named_parameters())
    scores = _ranking(args, backend, params, device)
    eligible = _eligible(scores, args, include)
    n = sum(s.numel() for s in eligible.values())

    points: List[Dict[str, Any]] = []
    for fraction in args.fractions:
        pruned = _prune_to(params, eligible, fraction)
        scored = backend.evaluate(args.subset, desc=f"pruned {fraction:g}")
        points.append({"fraction": fraction, "pruned": pruned, **scored})
        print(f"{label}: pruned {fraction:g} ({pruned} of {n} parameters): {backend.shown(scored)}", flush=True)

    record = {
        "label": label,
        "checkpoint": str(args.path),
        "data": str(args.data),
        "subset": args.subset,
        "ranking": str(args.scores) if args.scores else f"sensitivity on {args.sensitivity_subset} ({args.mode})",
        "exclude_embeddings": args.exclude_embeddings,
        "include": args.include,
        "prunable_parameters": n,
        "model_parameters": _model_parameters(params),
        **backend.prune_record(),
        "seconds": round(time.time() - start, 2),
        "points": points,
    }
    files = plotting.plot_prune(
        out / "prune.png",
        {label: points},
        title=f"{label}: pruning the least sensitive parameters",
        numbers=record,
        metric=backend.metric,
    )
    print("wrote " + ", ".join(str(f) for f in files))
    return record
