"""Fine-tune on a GLUE task, baseline or intra-distillation, with the authors' settings.

Settings from the authors' ``Natural_Language_Understanding/`` (run.sh and
run_glue_no_trainer.py): bert-base-uncased, max length 128, batch 32, Adamax, lr 2e-4 with a
linear decay and no warm-up, no weight decay, no gradient clipping, 20 epochs, K = 3, validation after every epoch
and the best epoch kept by the task's metric.  ``bash scripts/glue/run.sh --help`` is the
front end; docs/transformers.md lists what comes from where.
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from fairseq_intradistill.hf.common import (
    PRECISIONS,
    SET_BY_RECIPE_FLAGS,
    batch_mean_loss,
    check_at_least_one,
    check_max_steps,
    has_tensorboard,
    make_intra_arguments,
    make_trainer,
    make_training_arguments,
    parse_recipe,
    per_device_batch,
    recipe_parser,
    resume_checkpoint,
    run_summary,
    set_by_flag,
    trainer_epilog,
)

# task: (first text column, second text column or None, number of labels (1: regression), metric of best epoch)
TASKS: Dict[str, Tuple[str, Optional[str], int, str]] = {
    "cola": ("sentence", None, 2, "matthews_correlation"),
    "sst2": ("sentence", None, 2, "accuracy"),
    "mrpc": ("sentence1", "sentence2", 2, "f1"),
    "qqp": ("question1", "question2", 2, "f1"),
    "stsb": ("sentence1", "sentence2", 1, "pearson"),
    "mnli": ("premise", "hypothesis", 3, "accuracy"),
    "qnli": ("question", "sentence", 2, "accuracy"),
    "rte": ("sentence1", "sentence2", 2, "accuracy"),
}
# (alpha, p, q) of intra-distillation.  QQP: the authors' run.sh.  The others: the defaults of
# their run_glue_no_trainer.py (no per-task values are published).
INTRA_SETTINGS: Dict[str, Tuple[float, float, float]] = {task: (5.0, 2.0, 5.0) for task in TASKS}
INTRA_SETTINGS["qqp"] = (0.5, 6.67, 10.0)
DATA_EXTENSIONS = ("jsonl", "json", "csv", "tsv", "parquet")


def evaluation_splits(task: str) -> List[str]:
    return ["validation_matched", "validation_mismatched"] if task == "mnli" else ["validation"]


def glue_metrics(task: str, predictions: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
    """The GLUE metrics of ``task`` (scikit-learn/scipy, no code downloaded at run time)."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    if task == "stsb":
        predictions = predictions.reshape(-1).astype(np.float64)
        labels = labels.reshape(-1).astype(np.float64)
        return {
            "pearson": float(pearsonr(predictions, labels)[0]),
            "spearmanr": float(spearmanr(predictions, labels)[0]),
        }
    if predictions.ndim > 1:
        predictions = predictions.argmax(axis=-1)
    if task == "cola":
        return {"matthews_correlation": float(matthews_corrcoef(labels, predictions))}
    metrics = {"accuracy": float(accuracy_score(labels, predictions))}
    if task in ("mrpc", "qqp"):
        metrics["f1"] = float(f1_score(labels, predictions))
    return metrics


def load_glue(task: str, data_dir: Optional[Path], splits: Optional[Sequence[str]] = None, option: str = "--data-dir"):
    """The task's DatasetDict: from ``data_dir`` where given, else from the Hub (``nyu-mll/glue``).

    ``splits`` (default: train and the evaluation splits) are the split files read from a
    folder of files; ``option`` is the name of the flag or argument that gave ``data_dir``,
    for the error messages (the analysis tools take it as ``DATA``).
    """
    import datasets

    splits = list(splits) if splits is not None else ["train"] + evaluation_splits(task)
    if data_dir is None:
        return datasets.load_dataset("nyu-mll/glue", task)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{option} {data_dir} is not a folder")
    if (data_dir / "dataset_dict.json").exists():  # DatasetDict.save_to_disk
        loaded_dict = datasets.load_from_disk(str(data_dir))
        missing = [split for split in splits if split not in loaded_dict]
        if missing:
            raise FileNotFoundError(f"{option} {data_dir}: the saved DatasetDict has no split {', '.join(missing)}")
        return loaded_dict
    files = {}
    for split in splits:
        found = [data_dir / f"{split}.{ext}" for ext in DATA_EXTENSIONS if (data_dir / f"{split}.{ext}").exists()]
        if not found:
            raise FileNotFoundError(f"{option} {data_dir}: no {split}.{{{','.join(DATA_EXTENSIONS)}}}")
        files[split] = found[0]
    loaded = {}
    for split, path in files.items():
        ext = path.suffix[1:]
        builder = {"jsonl": "json", "tsv": "csv"}.get(ext, ext)
        kwargs = {"delimiter": "\t"} if ext == "tsv" else {}
        loaded[split] = datasets.load_dataset(builder, data_files={split: str(path)}, split=split, **kwargs)
    return datasets.DatasetDict(loaded)


def encode_split(dataset, task: str, tokenizer, max_length: int):
    """One split tokenised as the recipe trains on it: the task's text column(s) and ``labels``
    (int classes, float for STS-B), the original columns removed."""
    first, second, num_labels, _ = TASKS[task]
    regression = num_labels == 1

    def encode(batch):
        texts = (batch[first],) if second is None else (batch[first], batch[second])
        encoded = tokenizer(*texts, max_length=max_length, truncation=True)
        encoded["labels"] = [float(x) for x in batch["label"]] if regression else [int(x) for x in batch["label"]]
        return encoded

    return dataset.map(encode, batched=True, remove_columns=dataset.column_names)


@dataclass
class GlueArguments:
    """The GLUE recipe's own options (HfArgumentParser makes --task, --data-dir/--data_dir, ...)."""

    task: str = field(metadata={"choices": sorted(TASKS), "help": "the GLUE task"})
    method: str = field(metadata={"choices": ["baseline", "intra"]})
    output_dir: Path = field(metadata={"help": "the run's folder: results.json, best/, checkpoints/"})
    model: str = field(default="bert-base-uncased", metadata={"help": "model name on the Hub or a local model folder"})
    data_dir: Optional[Path] = field(
        default=None,
        metadata={
            "help": "local data: a DatasetDict.save_to_disk folder, or train/validation (MNLI: "
            "validation_matched/_mismatched) .jsonl/.json/.csv/.tsv/.parquet files with GLUE's columns; "
            "default: the Hub's nyu-mll/glue"
        },
    )
    seed: int = field(default=1, metadata={"help": "the seed (TrainingArguments.seed)"})
    epochs: float = 20.0
    max_steps: int = field(default=-1, metadata={"help": "stop after this many updates (-1: the epochs)"})
    batch_size: int = field(
        default=32,
        metadata={"help": "examples per update, over all processes (and --gradient_accumulation_steps)"},
    )
    lr: float = field(default=2e-4, metadata={"help": "the learning rate (TrainingArguments.learning_rate)"})
    max_length: int = 128
    precision: str = field(default="fp32", metadata={"choices": PRECISIONS})
    eval_batch_size: int = 128
    # Set by parse_args: IntraDistillationArguments (None for the baseline), the TrainingArguments values.
    intra: Any = field(default=None, init=False)
    training: Dict[str, Any] = field(default_factory=dict, init=False)


# TrainingArguments fields that GLUE's own flags and optimizer set.
GLUE_SET_BY = {
    **{name: set_by_flag(flag) for name, flag in SET_BY_RECIPE_FLAGS.items()},
    "optim": "set by this recipe: the authors' Adamax "
    "(--weight_decay, --adam_beta1, --adam_beta2 and --adam_epsilon apply to it)",
}
# The authors' settings where they differ from TrainingArguments' defaults (logging_steps: 50, or 1
# with --max-steps; metric_for_best_model: the task's; use_cpu: also when no GPU is found).
GLUE_TRAINER_DEFAULTS = {
    # run_glue_no_trainer.py steps the optimizer without clipping; 0 turns off the Trainer's default norm 1.0.
    "max_grad_norm": 0.0,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0,
    "weight_decay": 0.0,
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "save_total_limit": 1,
    "load_best_model_at_end": True,
    "metric_for_best_model": None,
    "greater_is_better": True,
    "logging_strategy": "steps",
    "logging_steps": None,
    "disable_tqdm": True,
}
# None: per task (INTRA_SETTINGS; divergence_reduction: sum, mean for STS-B).
GLUE_INTRA_DEFAULTS = {
    "num_passes": 3,
    "adaptive_alpha": True,
    "alpha": None,
    "alpha_p": None,
    "alpha_q": None,
    "divergence_reduction": None,
}
GLUE_EPILOG = (
    "Intra-distillation defaults: --adaptive_alpha on; --alpha, --alpha_p, --alpha_q per task "
    "(QQP 0.5, 6.67, 10; the others 5, 2, 5); --divergence_reduction sum (STS-B: mean, and --divergence is "
    "always mse for STS-B)."
)


def parse_args(argv=None) -> GlueArguments:
    """The recipe's options, with ``intra`` and ``training`` (the TrainingArguments values) set."""
    parser = recipe_parser(
        GlueArguments,
        prog="python -m fairseq_intradistill.hf.glue",
        usage="--task TASK --method {baseline,intra} --output-dir DIR",
        description=__doc__,
        epilog=textwrap.fill(GLUE_EPILOG, width=100)
        + "\n\n"
        + trainer_epilog(GLUE_SET_BY, "--output-dir, --seed and --max-steps"),
        set_by=GLUE_SET_BY,
        defaults={
            **GLUE_TRAINER_DEFAULTS,
            "report_to": ["tensorboard"] if has_tensorboard() else "none",
            **GLUE_INTRA_DEFAULTS,
        },
    )
    args, intra, training = parse_recipe(parser, argv)
    check_at_least_one(parser, args, ("batch_size", "max_length", "eval_batch_size"))
    if not args.lr > 0:
        parser.error(f"--lr must be > 0, got {args.lr}")
    if not args.epochs > 0:
        parser.error(f"--epochs must be > 0, got {args.epochs}")
    check_max_steps(parser, args)
    _, _, num_labels, best_metric = TASKS[args.task]
    regression = num_labels == 1
    alpha, p, q = INTRA_SETTINGS[args.task]
    for name, value in (("alpha", alpha), ("alpha_p", p), ("alpha_q", q)):
        if intra[name] is None:
            intra[name] = value
    if intra["divergence_reduction"] is None:
        intra["divergence_reduction"] = "mean" if regression else "sum"
    if regression:
        intra["divergence"] = "mse"
    elif intra["divergence"] == "mse":
        parser.error("--divergence mse is for STS-B (regression); classification tasks use x, js or sym_kl")
    args.intra = make_intra_arguments(parser, intra, args.method)
    if training["metric_for_best_model"] is None:
        training["metric_for_best_model"] = best_metric
    if training["logging_steps"] is None:
        training["logging_steps"] = 50 if args.max_steps < 0 else 1
    args.training = training
    return args


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)  # hides a broken torchaudio before Transformers loads: see _torchaudio.py
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        TrainingArguments,
    )

    _, _, num_labels, best_metric = TASKS[args.task]
    regression = num_labels == 1
    raw = load_glue(args.task, args.data_dir)
    tokenizer = AutoTokenizer.from_pretrained(args.model)

    splits = ["train"] + evaluation_splits(args.task)
    data = {split: encode_split(raw[split], args.task, tokenizer, args.max_length) for split in splits}
    # A fresh head of the task's size: the recipe fine-tunes an encoder (a head of another size is replaced).
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model,
        num_labels=num_labels,
        problem_type="regression" if regression else "single_label_classification",
        ignore_mismatched_sizes=True,
    )
    batch_mean_loss(model)  # the loss over an update as the authors' loop forms it

    def compute_metrics(prediction):
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return glue_metrics(args.task, np.asarray(logits), np.asarray(prediction.label_ids))

    output_dir = args.output_dir
    training_args = make_training_arguments(
        TrainingArguments,
        args,
        per_device_train_batch_size=per_device_batch(args.batch_size, args.training["gradient_accumulation_steps"]),
    )
    # The authors' optimizer, with the parameter groups of Transformers' run_glue_no_trainer.py (from which
    # theirs derives): --weight_decay (0 by default, theirs) on all but biases and LayerNorm weights.
    no_decay = ("bias", "LayerNorm.weight")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.Adamax(
        [
            {
                "params": [p for n, p in named if not any(nd in n for nd in no_decay)],
                "weight_decay": training_args.weight_decay,
            },
            {"params": [p for n, p in named if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
        ],
        lr=training_args.learning_rate,
        betas=(training_args.adam_beta1, training_args.adam_beta2),
        eps=training_args.adam_epsilon,
    )
    common = dict(
        model=model,
        args=training_args,
        train_dataset=data["train"],
        eval_dataset=data[splits[1]],
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        optimizers=(optimizer, None),
    )
    intra = args.intra
    trainer = make_trainer(intra, **common)

    train_output = trainer.train(resume_from_checkpoint=resume_checkpoint(args))
    results: Dict[str, object] = run_summary(args, args.task, best_metric, train_output, trainer, intra)
    for split in splits[1:]:
        metrics = trainer.evaluate(data[split], metric_key_prefix="eval")
        results[split] = {
            k[len("eval_") :]: v
            for k, v in metrics.items()
            if k[len("eval_") :] in ("accuracy", "f1", "matthews_correlation", "pearson", "spearmanr", "loss")
        }
    if trainer.is_world_process_zero():
        trainer.save_model(str(output_dir / "best"))
        (output_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
