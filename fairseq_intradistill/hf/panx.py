"""PAN-X (XTREME-R NER), zero-shot: fine-tune on English, evaluate every language with seqeval.

Settings from the authors' ``Zero_Shot_Cross_Lingual/`` (scripts/train_panx.sh, README.md,
third_party/run_tag.py): xlm-roberta-large, 10 epochs, lr 2e-5, 32 examples per update
(2 x 16 accumulation for xlm-roberta-large, 8 x 4 for other models), max length 128, K = 3,
alpha = 1 (their README's example), p = 2, q = 5 (their defaults), the divergence summed over
the batch of one forward pass; English dev F1 every 100 updates picks the checkpoint that is
evaluated on every language's test set.  Only the first sub-word of a word carries its label
(-100 elsewhere), as the XTREME code does.  ``bash scripts/xtreme/panx.sh --help`` is the front
end.
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from fairseq_intradistill.hf.common import (
    PRECISIONS,
    SET_BY_RECIPE_FLAGS,
    XTREME_INTRA_DEFAULTS,
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

# The label order of the XTREME PAN-X configurations on the Hub (ClassLabel names).
LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
# The 48 target languages of the authors' train_panx.sh (XTREME-R), in their order.
AUTHORS_LANGUAGES = (
    "ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw yo my zh "
    "kk tr et fi hu qu pl uk az lt pa gu ro"
).split()
# XTREME-R's additions, which the Hub's google/xtreme has no PAN-X configuration for: they need --data-dir.
XTREME_R_ONLY = ("qu", "pl", "uk", "az", "lt", "pa", "gu", "ro")
# The default: the 40 of them that google/xtreme has (PAN-X.<lang>), so that a run from the Hub loads them all.
LANGUAGES = [lang for lang in AUTHORS_LANGUAGES if lang not in XTREME_R_ONLY]
# train_panx.sh: 2 examples x 16 accumulation steps for these models, 8 x 4 for the others.
LARGE_MODELS = ("xlm-roberta-large", "xlm-mlm-100-1280")
SPLITS = ("train", "validation", "test")


def load_language(lang: str, data_dir: Optional[Path], splits=SPLITS):
    """A DatasetDict with ``tokens`` and ``ner_tags`` (tag names) for ``lang``.

    Local layout: ``DATA_DIR/<lang>/{train,validation,test}.jsonl`` (or .json), one sentence a
    line: {"tokens": [...], "ner_tags": ["O", "B-PER", ...]} (tag names or LABELS indices).
    Without ``data_dir``: the Hub's ``google/xtreme``, configuration ``PAN-X.<lang>``.
    """
    import datasets

    if data_dir is None:
        loaded = datasets.load_dataset("google/xtreme", f"PAN-X.{lang}")
        return datasets.DatasetDict({s: loaded[s] for s in splits})
    folder = Path(data_dir) / lang
    files = {}
    for split in splits:
        found = [folder / f"{split}.{ext}" for ext in ("jsonl", "json") if (folder / f"{split}.{ext}").exists()]
        if not found:
            raise FileNotFoundError(f"--data-dir: no {folder}/{split}.jsonl")
        files[split] = str(found[0])
    return datasets.load_dataset("json", data_files=files)


def authors_accumulation(model: str) -> int:
    """The accumulation steps of train_panx.sh for ``model`` (a Hub name or a folder named like one).

    Their 32 examples per update are 2 x 16 for xlm-roberta-large and 8 x 4 otherwise; with the
    divergence summed over one forward pass, the examples per pass set its weight against the
    cross-entropy, so the split matters, not only the product.
    """
    return 16 if Path(str(model).rstrip("/")).name in LARGE_MODELS else 4


def tag_names(tags: List, features_names: Optional[List[str]] = None) -> List[str]:
    names = features_names or LABELS
    out = []
    for tag in tags:
        name = names[tag] if isinstance(tag, int) else tag
        if name not in LABELS:
            raise ValueError(f"unknown NER tag {tag!r}; PAN-X tags are {', '.join(LABELS)}")
        out.append(name)
    return out


def encode(dataset, tokenizer, max_length: int):
    """Tokenise pre-split words; label the first sub-word of every word, -100 elsewhere."""
    feature = dataset.features.get("ner_tags")
    names = getattr(getattr(feature, "feature", None), "names", None)
    label_id = {name: i for i, name in enumerate(LABELS)}

    def fn(batch):
        enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
        enc["labels"] = []
        for i, tags in enumerate(batch["ner_tags"]):
            tags = tag_names(tags, names)
            previous, labels = None, []
            for word in enc.word_ids(i):
                labels.append(-100 if word is None or word == previous else label_id[tags[word]])
                previous = word
            enc["labels"].append(labels)
        return enc

    return dataset.map(fn, batched=True, remove_columns=dataset.column_names)


def sequences(predictions: np.ndarray, label_ids: np.ndarray):
    """Tag sequences (gold, predicted) at the labelled positions, for seqeval."""
    if predictions.ndim == 3:
        predictions = predictions.argmax(-1)
    gold, pred = [], []
    for p_row, l_row in zip(predictions, label_ids):
        keep = l_row != -100
        gold.append([LABELS[i] for i in l_row[keep]])
        pred.append([LABELS[i] for i in p_row[keep]])
    return gold, pred


def ner_metrics(predictions: np.ndarray, label_ids: np.ndarray) -> Dict[str, float]:
    from seqeval.metrics import f1_score, precision_score, recall_score

    gold, pred = sequences(predictions, label_ids)
    return {
        "f1": float(f1_score(gold, pred)),
        "precision": float(precision_score(gold, pred)),
        "recall": float(recall_score(gold, pred)),
    }


@dataclass
class PanxArguments:
    """The PAN-X recipe's own options (HfArgumentParser makes --data-dir/--data_dir, ...)."""

    method: str = field(metadata={"choices": ["baseline", "intra"]})
    output_dir: Path = field(metadata={"help": "the run's folder: results.json, best/, checkpoints/"})
    model: str = field(default="xlm-roberta-large", metadata={"help": "model name on the Hub or a local model folder"})
    data_dir: Optional[Path] = field(
        default=None,
        metadata={
            "help": "local data, DATA_DIR/<lang>/{train,validation,test}.jsonl; default: the Hub's google/xtreme"
        },
    )
    langs: str = field(
        default=",".join(LANGUAGES),
        metadata={
            "help": "comma-separated test languages (default: the 40 of the authors' 48 that google/xtreme has; "
            f"{','.join(XTREME_R_ONLY)} need --data-dir); a list after parse_args"
        },
    )
    seed: int = field(default=1, metadata={"help": "the seed (TrainingArguments.seed)"})
    epochs: float = 10.0
    max_steps: int = field(default=-1, metadata={"help": "stop after this many updates (-1: the epochs)"})
    batch_size: int = field(default=32, metadata={"help": "examples per update, over processes and accumulation"})
    accumulation: Optional[int] = field(
        default=None,
        metadata={
            "help": "gradient accumulation steps (default as train_panx.sh: 16 for xlm-roberta-large, 4 otherwise)"
        },
    )
    lr: float = field(default=2e-5, metadata={"help": "the learning rate (TrainingArguments.learning_rate)"})
    max_length: int = 128
    eval_steps: int = field(
        default=100,
        metadata={"help": "English dev F1 every N updates picks the model (also the checkpoints' interval)"},
    )
    pad_to_max_length: bool = field(
        default=False,
        metadata={
            "help": "pad every batch to --max-length, as the authors' features are (default: to the longest sentence)"
        },
    )
    precision: str = field(default="fp32", metadata={"choices": PRECISIONS})
    eval_batch_size: int = 32
    # Set by parse_args: IntraDistillationArguments (None for the baseline), the TrainingArguments values.
    intra: Any = field(default=None, init=False)
    training: Dict[str, Any] = field(default_factory=dict, init=False)


PANX_SET_BY = {
    **{name: set_by_flag(flag) for name, flag in SET_BY_RECIPE_FLAGS.items()},
    "gradient_accumulation_steps": set_by_flag("--accumulation"),
    "save_steps": set_by_flag("--eval-steps"),
}
# run_tag.py's settings and the model selection of train_panx.sh (logging_steps: min(50, --eval-steps)).
PANX_TRAINER_DEFAULTS = {
    "weight_decay": 0.0,
    "warmup_steps": 0,
    "max_grad_norm": 1.0,
    "eval_strategy": "steps",
    "save_strategy": "steps",
    "save_total_limit": 1,
    "load_best_model_at_end": True,
    "metric_for_best_model": "f1",
    "greater_is_better": True,
    "logging_steps": None,
    "disable_tqdm": True,
}
PANX_EPILOG = (
    "Intra-distillation defaults: --num_passes 3, --alpha 1, --adaptive_alpha on, --alpha_p 2, --alpha_q 5, "
    "--divergence_reduction sum; --token_positions all with --pad-to-max-length compares every position, "
    "as the authors' run_tag.py."
)


def parse_args(argv=None) -> PanxArguments:
    """The recipe's options, with ``intra`` and ``training`` (the TrainingArguments values) set."""
    parser = recipe_parser(
        PanxArguments,
        prog="python -m fairseq_intradistill.hf.panx",
        usage="--method {baseline,intra} --output-dir DIR",
        description=__doc__,
        epilog=textwrap.fill(PANX_EPILOG, width=100)
        + "\n\n"
        + trainer_epilog(PANX_SET_BY, "--output-dir, --seed, --max-steps and --eval-steps"),
        set_by=PANX_SET_BY,
        defaults={
            **PANX_TRAINER_DEFAULTS,
            "report_to": ["tensorboard"] if has_tensorboard() else "none",
            **XTREME_INTRA_DEFAULTS,
        },
    )
    args, intra, training = parse_recipe(parser, argv)
    if args.accumulation is None:
        args.accumulation = authors_accumulation(args.model)
    check_at_least_one(parser, args, ("batch_size", "accumulation", "max_length", "eval_steps", "eval_batch_size"))
    if not args.lr > 0 or not args.epochs > 0:
        parser.error(f"--lr and --epochs must be > 0, got {args.lr} and {args.epochs}")
    check_max_steps(parser, args)
    args.langs = [lang for lang in args.langs.split(",") if lang]
    if not args.langs:
        parser.error("--langs must name at least one language")
    args.intra = make_intra_arguments(parser, intra, args.method)
    if training["logging_steps"] is None:
        training["logging_steps"] = min(50, args.eval_steps)
    args.training = training
    return args


def main(argv=None) -> Dict:
    args = parse_args(argv)  # hides a broken torchaudio before Transformers loads: see _torchaudio.py
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    english = load_language("en", args.data_dir, ("train", "validation"))
    train = encode(english["train"], tokenizer, args.max_length)
    dev = encode(english["validation"], tokenizer, args.max_length)
    model = AutoModelForTokenClassification.from_pretrained(
        args.model,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
        ignore_mismatched_sizes=True,
    )
    batch_mean_loss(model)  # the loss over an update as the authors' loop forms it

    def compute_metrics(prediction):
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return ner_metrics(np.asarray(logits), np.asarray(prediction.label_ids))

    training_args = make_training_arguments(
        TrainingArguments,
        args,
        per_device_train_batch_size=per_device_batch(args.batch_size, args.accumulation),
        gradient_accumulation_steps=args.accumulation,
        save_steps=args.eval_steps,
    )
    common = dict(
        model=model,
        args=training_args,
        train_dataset=train,
        eval_dataset=dev,
        data_collator=DataCollatorForTokenClassification(
            tokenizer,
            padding="max_length" if args.pad_to_max_length else True,
            max_length=args.max_length if args.pad_to_max_length else None,
        ),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
    )
    intra = args.intra
    trainer = make_trainer(intra, **common)
    train_output = trainer.train(resume_from_checkpoint=resume_checkpoint(args))

    if trainer.is_world_process_zero():
        # Saved before the evaluation, so that a language that fails cannot cost the trained model.
        trainer.save_model(str(args.output_dir / "best"))
    summary = run_summary(args, "panx", "f1", train_output, trainer, intra)
    partial = args.output_dir / "results.partial.json"
    per_language: Dict[str, Dict[str, float]] = {}
    failed: Dict[str, str] = {}
    for lang in args.langs:
        try:
            test_split = load_language(lang, args.data_dir, ("test",))["test"]
        except Exception as error:  # any failure to load one language must spare the others
            failed[lang] = f"{type(error).__name__}: {error}"
        else:
            metrics = trainer.evaluate(encode(test_split, tokenizer, args.max_length), metric_key_prefix="test")
            per_language[lang] = {k: metrics[f"test_{k}"] for k in ("f1", "precision", "recall")}
        if trainer.is_world_process_zero():
            # Written after every language: a run stopped later keeps the scores it has.
            write_json(partial, {**summary, "languages": per_language, "failed_languages": failed})
    if failed:
        raise SystemExit(
            f"error: --langs: {len(failed)} language(s) could not be loaded: "
            + "; ".join(f"{lang}: {message}" for lang, message in failed.items())
            + f". The other languages' scores are in {partial}; results.json is written only for a complete run."
        )
    results = {
        **summary,
        "languages": per_language,
        "average_f1": float(np.mean([m["f1"] for m in per_language.values()])),
    }
    if trainer.is_world_process_zero():
        write_json(args.output_dir / "results.json", results)
        partial.unlink(missing_ok=True)
        print(json.dumps({"average_f1": results["average_f1"], **{k: v["f1"] for k, v in per_language.items()}}))
    return results


def write_json(path: Path, value: Dict) -> None:
    """Write ``value`` to ``path`` through a temporary file, so that a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    temporary.replace(path)


if __name__ == "__main__":
    main(sys.argv[1:])
