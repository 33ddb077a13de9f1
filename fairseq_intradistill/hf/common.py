"""Helpers shared by the Transformers recipes (glue, panx, tydiqa)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import textwrap
import typing
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio


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
# The recipes parse with transformers.HfArgumentParser over (the recipe's own dataclass,
# IntraDistillationArguments, TrainingArguments).  A TrainingArguments field of the same name as
# a recipe field (output_dir, seed, max_steps; eval_steps, warmup_steps, weight_decay where the
# recipe has them) is the recipe's flag, and the Trainer gets its value from it; one that a recipe
# flag of another name sets (--learning_rate: --lr, ...) is refused with the recipe flag's name;
# every other TrainingArguments field is an option, with the recipe's value as its default.
TRAINER_GROUP = "Trainer options (transformers.TrainingArguments; the recipe's values are the defaults)"
INTRA_GROUP = "intra-distillation options (fairseq_intradistill.hf.IntraDistillationArguments)"
# TrainingArguments fields that every recipe sets from a flag of its own.
SET_BY_RECIPE_FLAGS = {
    "learning_rate": "--lr",
    "num_train_epochs": "--epochs",
    "per_device_train_batch_size": "--batch-size",
    "per_device_eval_batch_size": "--eval-batch-size",
    "fp16": "--precision fp16",
    "bf16": "--precision bf16",
}
PRECISIONS = ["fp32", "fp16", "bf16"]
# The XTREME recipes' intra-distillation settings: --num_iter 3 of train_panx.sh / train_qa.sh, the
# temperature_p/q defaults of run_tag.py / run_squad.py, their sum over the batch; alpha: see each recipe.
XTREME_INTRA_DEFAULTS = {
    "num_passes": 3,
    "alpha": 1.0,
    "adaptive_alpha": True,
    "alpha_p": 2.0,
    "alpha_q": 5.0,
    "divergence_reduction": "sum",
}


class SetBy:
    """The parser's default for a TrainingArguments field that a recipe flag sets: any other
    value means the flag was given, which is refused (``--help`` shows the reason)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return self.reason


def set_by_flag(flag: str) -> str:
    return f"set by this recipe's {flag}: use {flag}"


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and every option's default."""


def trainer_options(training_type, exclude: Sequence[str]):
    """A dataclass with the init fields of ``training_type`` (TrainingArguments) but ``exclude``:
    the same names, types, defaults and help, so HfArgumentParser makes the same flags."""
    hints = typing.get_type_hints(training_type)
    options = []
    for f in dataclasses.fields(training_type):
        if f.init and f.name not in exclude:
            copied = dataclasses.field(default=f.default, default_factory=f.default_factory, metadata=f.metadata)
            options.append((f.name, hints[f.name], copied))
    return dataclasses.make_dataclass(
        "TrainerOptions", options, kw_only=True, namespace={"_argument_group_name": TRAINER_GROUP}
    )


def recipe_parser(
    recipe_type,
    *,
    prog: str,
    usage: str,
    description: str,
    epilog: str,
    set_by: Dict[str, str],
    defaults: Dict[str, Any],
):
    """An HfArgumentParser over (``recipe_type``, IntraDistillationArguments, TrainingArguments).

    ``set_by``: TrainingArguments fields that recipe flags set (name: the reason shown when the
    field's own flag is given); ``defaults``: the recipe's defaults for the other
    TrainingArguments and the IntraDistillationArguments fields.  Loads Transformers and torch
    (1.6 s for --help here), after hiding a broken torchaudio.
    """
    hide_broken_torchaudio()  # before transformers is imported: see _torchaudio.py
    from transformers import HfArgumentParser, TrainingArguments

    from fairseq_intradistill.hf.config import IntraDistillationArguments

    class IntraOptions(IntraDistillationArguments):
        _argument_group_name = INTRA_GROUP

    recipe_names = [f.name for f in dataclasses.fields(recipe_type) if f.init]
    intra_names = [f.name for f in dataclasses.fields(IntraDistillationArguments)]
    clash = set(recipe_names) & set(intra_names)
    if clash:
        raise TypeError(f"{recipe_type.__name__} repeats IntraDistillationArguments fields {sorted(clash)}")
    parser = HfArgumentParser(
        (recipe_type, IntraOptions, trainer_options(TrainingArguments, recipe_names + intra_names)),
        prog=prog,
        usage=f"{prog} {usage} [options]",
        description=description,
        epilog=epilog,
        formatter_class=HelpFormatter,
    )
    parser.set_defaults(**{name: SetBy(reason) for name, reason in set_by.items()}, **defaults)
    parser.recipe_set_by = dict(set_by)
    return parser


def parse_recipe(parser, argv) -> Tuple[Any, Dict[str, Any], Dict[str, Any]]:
    """Parse ``argv`` with a ``recipe_parser``: the recipe's dataclass, and the values of the
    IntraDistillationArguments and TrainingArguments fields; a flag that a recipe flag sets stops
    the parse, naming that flag."""
    values = vars(parser.parse_args(argv))
    recipe_type, intra_type, trainer_type = parser.dataclass_types
    recipe = recipe_type(**{f.name: values[f.name] for f in dataclasses.fields(recipe_type) if f.init})
    intra = {f.name: values[f.name] for f in dataclasses.fields(intra_type) if f.init}
    training = {f.name: values[f.name] for f in dataclasses.fields(trainer_type)}
    for name, reason in parser.recipe_set_by.items():
        if not isinstance(training.pop(name), SetBy):
            flags = f"--{name}" + (f"/--{name.replace('_', '-')}" if "_" in name else "")
            parser.error(f"argument {flags}: {reason}")
    return recipe, intra, training


def make_intra_arguments(parser, intra: Dict[str, Any], method: str):
    """IntraDistillationArguments from the parsed values (checked for the baseline too), or None
    for the baseline; a bad value stops the parse with the option's name."""
    from fairseq_intradistill.hf.config import IntraDistillationArguments

    try:
        arguments = IntraDistillationArguments(**intra)
    except ValueError as error:
        parser.error(str(error))
    return arguments if method == "intra" else None


def trainer_epilog(set_by: Dict[str, str], same_name: str) -> str:
    """The --help text on how the recipe's flags and TrainingArguments' go together."""
    refused = ", ".join(f"--{name} ({reason.split(': use ')[-1]})" for name, reason in set_by.items())
    return textwrap.fill(
        "Every TrainingArguments option is accepted (either spelling, --weight_decay or --weight-decay), "
        f"with this recipe's values as defaults, except those a recipe flag sets: {refused}. {same_name} "
        "are this recipe's own flags (--output-dir is the run's folder: the Trainer writes to OUTPUT_DIR/checkpoints).",
        width=100,
    )


def make_training_arguments(training_type, args: Any, **computed: Any):
    """``training_type`` (TrainingArguments) for a parsed recipe: the recipe flags' values, the
    fields of the same name as a recipe field, ``computed`` (what the recipe derives, such as the
    per-device batch), and every other field from the command line or the recipe's defaults."""
    import torch

    recipe_fields = {f.name for f in dataclasses.fields(args) if f.init and f.name != "output_dir"}
    same_name = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(training_type) if f.init and f.name in recipe_fields
    }
    values = {
        **args.training,
        **same_name,
        "output_dir": str(Path(args.output_dir) / "checkpoints"),
        "learning_rate": args.lr,
        "num_train_epochs": args.epochs,
        "per_device_eval_batch_size": args.eval_batch_size,
        "fp16": args.precision == "fp16",
        "bf16": args.precision == "bf16",
        "use_cpu": args.training["use_cpu"] or not torch.cuda.is_available(),
        **computed,
    }
    try:
        return training_type(**values)
    except ValueError as error:  # TrainingArguments' own checks of a combination of options
        raise SystemExit(f"error: {error}") from error


def resume_checkpoint(args: Any) -> Optional[str]:
    """--resume_from_checkpoint where given, else the newest checkpoint of the run, so that a rerun resumes."""
    return args.training.get("resume_from_checkpoint") or last_checkpoint(Path(args.output_dir) / "checkpoints")


def check_at_least_one(parser: argparse.ArgumentParser, args: Any, names: Sequence[str]) -> None:
    """Stop with the flag's name when one of the integer options ``names`` is below 1."""
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")


def check_max_steps(parser: argparse.ArgumentParser, args: Any) -> None:
    if args.max_steps == 0 or args.max_steps < -1:
        parser.error(f"--max-steps must be -1 (use --epochs) or >= 1, got {args.max_steps}")


# -- the run ---------------------------------------------------------------------------------
def make_trainer(intra, **trainer_kwargs):
    """An IntraDistillationTrainer with ``intra``, or the plain Trainer (the baseline) when it is None."""
    from transformers import Trainer

    from fairseq_intradistill.hf import IntraDistillationTrainer

    if intra is None:
        return Trainer(**trainer_kwargs)
    return IntraDistillationTrainer(intra_distillation=intra, **trainer_kwargs)


def run_summary(args: Any, task: str, metric: str, train_output, trainer, intra) -> Dict[str, Any]:
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
