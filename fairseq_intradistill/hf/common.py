"""Helpers shared by the Transformers recipes (glue, panx, tydiqa)."""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path
from typing import Any, Dict, Optional, Sequence


def per_device_batch(batch_size: int, accumulation: int = 1) -> int:
    """Examples per process and micro-step for ``batch_size`` examples per update."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if batch_size % (world * accumulation):
        raise SystemExit(
            f"error: --batch-size {batch_size} is not divisible by "
            f"{world} processes x {accumulation} accumulation steps"
        )
    return batch_size // (world * accumulation)


def has_tensorboard() -> bool:
    return importlib.util.find_spec("tensorboard") is not None or importlib.util.find_spec("tensorboardX") is not None


def last_checkpoint(folder: Path) -> Optional[str]:
    """The newest Trainer checkpoint in ``folder``, so that a rerun resumes."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if Path(folder).is_dir() else None


def batch_mean_loss(model) -> None:
    """Tell the Trainer that ``model``'s loss is the mean over its micro-batch, as it is.

    The encoders' classification, token-classification and QA heads average their
    cross-entropy over the micro-batch and ignore ``num_items_in_batch``, yet their ``forward``
    takes ``**kwargs``, from which Trainer infers the opposite: it then neither divides the loss by
    the accumulation steps nor keeps it from being multiplied by the number of processes, so the
    gradient grows with both.  With ``accepts_loss_kwargs = False`` (Transformers' own switch for
    such models) the Trainer divides by the accumulation steps and DDP averages over processes:
    the authors' loops, for the baseline and intra-distillation alike.
    """
    model.accepts_loss_kwargs = False


# -- command-line arguments shared by glue, panx and tydiqa ----------------------------------
def add_run_arguments(parser: argparse.ArgumentParser, epochs: float, batch_size_help: str) -> None:
    """--output-dir, --seed, --epochs, --max-steps and --batch-size."""
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=float, default=epochs)
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many updates (-1: the epochs)")
    parser.add_argument("--batch-size", type=int, default=32, help=batch_size_help)


def add_xtreme_intra_arguments(parser: argparse.ArgumentParser, alpha_help: Optional[str] = None) -> None:
    """The intra-distillation, precision and evaluation options of the XTREME recipes (panx, tydiqa)."""
    parser.add_argument("--num-passes", type=int, default=3)
    parser.add_argument("--alpha", type=float, default=1.0, help=alpha_help)
    parser.add_argument("--alpha-p", type=float, default=2.0)
    parser.add_argument("--alpha-q", type=float, default=5.0)
    parser.add_argument("--divergence-reduction", default="sum", choices=["mean", "sum"])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--eval-batch-size", type=int, default=32)


def check_at_least_one(parser: argparse.ArgumentParser, args: argparse.Namespace, names: Sequence[str]) -> None:
    """Stop with the flag's name when one of the integer options ``names`` is below 1."""
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")


def check_max_steps(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.max_steps == 0 or args.max_steps < -1:
        parser.error(f"--max-steps must be -1 (use --epochs) or >= 1, got {args.max_steps}")


# -- the run ---------------------------------------------------------------------------------
def xtreme_intra_arguments(args: argparse.Namespace):
    """The intra-distillation settings of an XTREME run (adaptive α, the divergence's default)."""
    from fairseq_intradistill.hf import IntraDistillationArguments

    return IntraDistillationArguments(
        num_passes=args.num_passes,
        alpha=args.alpha,
        adaptive_alpha=True,
        alpha_p=args.alpha_p,
        alpha_q=args.alpha_q,
        divergence_reduction=args.divergence_reduction,
        token_positions=getattr(args, "token_positions", "labelled"),
    )


def make_trainer(intra, **trainer_kwargs):
    """An IntraDistillationTrainer with ``intra``, or the plain Trainer (the baseline) when it is None."""
    from transformers import Trainer

    from fairseq_intradistill.hf import IntraDistillationTrainer

    if intra is None:
        return Trainer(**trainer_kwargs)
    return IntraDistillationTrainer(intra_distillation=intra, **trainer_kwargs)


def run_summary(args: argparse.Namespace, task: str, metric: str, train_output, trainer, intra) -> Dict[str, Any]:
    """The fields every results.json starts with: what ran, and how long."""
    return {
        "task": task,
        "method": args.method,
        "seed": args.seed,
        "model": args.model,
        "metric": metric,
        "train_runtime_s": train_output.metrics["train_runtime"],
        "updates": trainer.state.global_step,
        "processes": trainer.args.world_size,
        # What the Trainer ran with, to compare with the authors' scripts.
        "training": {
            "learning_rate": trainer.args.learning_rate,
            "max_grad_norm": trainer.args.max_grad_norm,
            "per_device_train_batch_size": trainer.args.per_device_train_batch_size,
            "gradient_accumulation_steps": trainer.args.gradient_accumulation_steps,
        },
        "intra_distillation": None if intra is None else intra.__dict__,
    }
