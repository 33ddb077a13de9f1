"""The arguments ``sensitivity`` and ``prune`` share (an argparse parent), and their checks."""

import argparse
from pathlib import Path

from fairseq_intradistill.analysis import AnalysisError
from fairseq_intradistill.analysis.stats import MODES


def checkpoint_parent() -> argparse.ArgumentParser:
    """A checkpoint, its data, how sensitivity is computed, and where the output goes."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("data", type=Path, help="binarised data folder (fairseq-preprocess output)")
    parent.add_argument("--path", type=Path, required=True, help="fairseq checkpoint")
    parent.add_argument("--max-batches", type=int,
                        help="sensitivity on at most N batches (a seeded random sample); default all")
    parent.add_argument("--max-tokens", type=int, default=4096, help="tokens per batch (default: 4096)")
    parent.add_argument(
        "--mode", choices=MODES, default="batch",
        help="batch: token-weighted mean over batches of |θ·g_b| (default); subset: |θ·g| of the whole subset's loss",
    )
    parent.add_argument("--exclude-embeddings", action="store_true",
                        help="leave embeddings and the output projection out")
    parent.add_argument("--label", help="name of the model in plots and tables (default: the checkpoint's folder)")
    parent.add_argument("--out", type=Path, help="output folder (default: CKPT_DIR/analysis-CKPT_NAME)")
    parent.add_argument("--cpu", action="store_true", help="stay on the CPU even if a GPU is present")
    parent.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parent


def check_checkpoint_arguments(args: argparse.Namespace) -> None:
    """The checks of :func:`checkpoint_parent`'s arguments, before fairseq is imported."""
    from fairseq_intradistill.analysis.fairseq_io import check_inputs

    if args.max_batches is not None and args.max_batches < 1:
        raise AnalysisError(f"--max-batches must be >= 1 (got {args.max_batches})")
    if args.max_tokens < 1:
        raise AnalysisError(f"--max-tokens must be >= 1 (got {args.max_tokens})")
    check_inputs(args.data, args.path)


def default_out(path: Path) -> Path:
    return path.parent / f"analysis-{path.stem}"


def default_label(path: Path) -> str:
    return path.parent.name or path.stem
