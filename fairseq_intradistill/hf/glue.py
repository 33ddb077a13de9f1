"""Fine-tune on a GLUE task, baseline or intra-distillation, with the authors' settings.

Settings from the authors' ``Natural_Language_Understanding/`` (run.sh and
run_glue_no_trainer.py): bert-base-uncased, max length 128, batch 32, Adamax, lr 2e-4 with a
linear decay and no warm-up, no weight decay, no gradient clipping, 20 epochs, K = 3, validation after every epoch
and the best epoch kept by the task's metric.  ``bash scripts/glue/run.sh --help`` is the
front end; docs/transformers.md lists what comes from where.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio
from fairseq_intradistill.hf.common import (
    add_run_arguments,
    batch_mean_loss,
    check_at_least_one,
    check_max_steps,
    has_tensorboard,
    last_checkpoint,
    make_trainer,
    per_device_batch,
    run_summary,
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


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.hf.glue",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", required=True, choices=sorted(TASKS))
    parser.add_argument("--method", required=True, choices=["baseline", "intra"])
    parser.add_argument("--model", default="bert-base-uncased", help="model name on the Hub or a local model folder")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="local data: a DatasetDict.save_to_disk folder, or "
        "train/validation (MNLI: validation_matched/_mismatched) .jsonl/.json/.csv/.tsv/.parquet files "
        "with GLUE's columns; default: the Hub's nyu-mll/glue",
    )
    add_run_arguments(parser, epochs=20, batch_size_help="examples per update, over all processes")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--num-passes", type=int, default=3)
    parser.add_argument("--alpha", type=float, help="default: per task (QQP 0.5, others 5)")
    parser.add_argument("--alpha-p", type=float, help="default: per task (QQP 6.67, others 2)")
    parser.add_argument("--alpha-q", type=float, help="default: per task (QQP 10, others 5)")
    parser.add_argument(
        "--divergence", default="x", choices=["x", "js", "sym_kl"], help="classification tasks; STS-B uses mse"
    )
    parser.add_argument(
        "--divergence-reduction",
        choices=["mean", "sum"],
        help="default as the authors: sum over the batch for classification, mean for STS-B",
    )
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--eval-batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    check_at_least_one(parser, args, ("batch_size", "max_length", "num_passes", "eval_batch_size"))
    if not args.lr > 0:
        parser.error(f"--lr must be > 0, got {args.lr}")
    if not args.epochs > 0:
        parser.error(f"--epochs must be > 0, got {args.epochs}")
    check_max_steps(parser, args)
    return args


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)
    hide_broken_torchaudio()  # before transformers is imported: see _torchaudio.py
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        TrainingArguments,
    )

    from fairseq_intradistill.hf import IntraDistillationArguments

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
    training_args = TrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        per_device_train_batch_size=per_device_batch(args.batch_size),
        per_device_eval_batch_size=args.eval_batch_size,
        learning_rate=args.lr,
        lr_scheduler_type="linear",
        warmup_steps=0,
        weight_decay=0.0,
        # The authors' loop (run_glue_no_trainer.py) steps the optimizer without clipping; 0 turns off
        # the Trainer's default clipping at norm 1.0.
        max_grad_norm=0.0,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        seed=args.seed,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model=best_metric,
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=50 if args.max_steps < 0 else 1,
        report_to=["tensorboard"] if has_tensorboard() else [],
        fp16=args.precision == "fp16",
        bf16=args.precision == "bf16",
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        save_only_model=False,
    )
    optimizer = torch.optim.Adamax(model.parameters(), lr=args.lr)  # the authors' optimizer
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
    if args.method == "intra":
        alpha, p, q = INTRA_SETTINGS[args.task]
        reduction = args.divergence_reduction or ("mean" if regression else "sum")
        intra = IntraDistillationArguments(
            num_passes=args.num_passes,
            alpha=args.alpha if args.alpha is not None else alpha,
            adaptive_alpha=True,
            alpha_p=args.alpha_p if args.alpha_p is not None else p,
            alpha_q=args.alpha_q if args.alpha_q is not None else q,
            divergence="mse" if regression else args.divergence,
            divergence_reduction=reduction,
        )
    else:
        intra = None
    trainer = make_trainer(intra, **common)

    last = last_checkpoint(output_dir / "checkpoints")
    train_output = trainer.train(resume_from_checkpoint=last)
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
