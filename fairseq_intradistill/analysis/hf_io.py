"""The Transformers side of the analysis: load a GLUE model folder and its data, score, predict.

The counterpart of :mod:`.fairseq_io` for a sequence classifier saved with ``save_pretrained``
(e.g. the ``best/`` folder of ``scripts/glue/run.sh``).  Data are read and tokenised by the
recipe's own code (:func:`fairseq_intradistill.hf.glue.load_glue` and ``encode_split``), the
loss is the model's own task loss (cross-entropy, or mean squared error for STS-B) and the
metric the recipe's (:func:`~fairseq_intradistill.hf.glue.glue_metrics`).  The accumulation
and the statistics are :mod:`.stats`'s, as for fairseq.  fairseq is not imported.
:class:`TransformersBackend` puts them behind :class:`.backend.Backend`.
"""

from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from fairseq_intradistill.analysis import AnalysisError
from fairseq_intradistill.analysis.backend import TRANSFORMERS, Backend
from fairseq_intradistill.analysis.stats import SensitivityAccumulator, scored_parameters

__all__ = [
    "TransformersBackend",
    "check_inputs",
    "splits_of",
    "default_subset",
    "best_metric",
    "check_subset",
    "load",
    "compute_sensitivity",
    "evaluate",
]

# The Transformers problem types whose loss is a mean over the batch's examples.
PROBLEM_TYPES = (None, "single_label_classification", "regression")


def _glue() -> Any:
    # Imported here: it imports Transformers (seconds), which the fairseq path never needs.
    from fairseq_intradistill.hf import glue

    return glue


def check_inputs(data: Path, path: Path, glue_task: Optional[str]) -> None:
    """Fail early, before loading anything, on a missing data folder or GLUE task."""
    if glue_task is None:
        raise AnalysisError(
            f"--glue-task is required with a Transformers model (--path {path}): the GLUE task of the model and DATA"
        )
    if not data.is_dir():
        raise AnalysisError(
            f"DATA {data}: no such folder (the GLUE task's local data, as scripts/glue/run.sh --data-dir reads it)"
        )
    tasks = _glue().TASKS
    if glue_task not in tasks:
        raise AnalysisError(f"--glue-task must be one of {', '.join(sorted(tasks))} (got {glue_task!r})")


def splits_of(task: str) -> List[str]:
    """The splits the recipe reads for ``task``."""
    return ["train"] + _glue().evaluation_splits(task)


def default_subset(task: str) -> str:
    """The recipe's (first) validation split: ``validation``, MNLI ``validation_matched``."""
    return _glue().evaluation_splits(task)[0]


def best_metric(task: str) -> str:
    """The metric by which the recipe picks the best epoch (accuracy, f1, matthews_correlation, pearson)."""
    return _glue().TASKS[task][3]


def check_subset(task: str, subset: str, option: str) -> None:
    if subset not in splits_of(task):
        raise AnalysisError(f"{option} {subset!r}: the GLUE task {task} has the splits {', '.join(splits_of(task))}")


def load(
    data: Path,
    path: Path,
    task: str,
    subsets: Sequence[str],
    max_length: int,
    device: torch.device,
    progress: bool = True,
) -> Tuple[torch.nn.Module, Dict[str, Any], Any]:
    """(model, {subset: tokenised dataset}, collator) for a GLUE sequence classifier folder."""
    glue = _glue()
    from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio

    hide_broken_torchaudio()  # before transformers is imported: see hf/_torchaudio.py
    import datasets
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

    if not progress:  # --no-progress: theirs too (loading weights, reading and tokenising the data)
        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForSequenceClassification.from_pretrained(str(path))
    except Exception as e:  # a foreign or incomplete folder: say which one
        raise AnalysisError(
            f"--path {path}: cannot load a sequence classifier and its tokenizer from it: {type(e).__name__}: {e}"
        ) from e
    num_labels = glue.TASKS[task][2]
    if model.config.num_labels != num_labels:
        raise AnalysisError(
            f"--glue-task {task} has {num_labels} label(s), the model at --path {path} "
            f"{model.config.num_labels}: another task's model?"
        )
    if model.config.problem_type not in PROBLEM_TYPES:
        raise AnalysisError(
            f"--path {path}: problem_type {model.config.problem_type!r} is not a GLUE task's "
            "(single-label classification or regression)"
        )
    try:
        raw = glue.load_glue(task, data, splits=list(dict.fromkeys(subsets)), option="DATA")
    except FileNotFoundError as e:
        raise AnalysisError(str(e)) from None
    encoded = {subset: glue.encode_split(raw[subset], task, tokenizer, max_length) for subset in subsets}
    for subset, dataset in encoded.items():
        if len(dataset) == 0:
            raise AnalysisError(f"DATA {data}: subset {subset!r} is empty")
    return model.to(device), encoded, DataCollatorWithPadding(tokenizer)


def batches(
    dataset: Any, collator: Any, batch_size: int, max_batches: Optional[int] = None, seed: int = 1
) -> Iterator[Dict[str, torch.Tensor]]:
    """Consecutive batches of ``batch_size`` examples, padded; a seeded random sample of ``max_batches`` of them."""
    starts = list(range(0, len(dataset), batch_size))
    if max_batches is not None and max_batches < len(starts):
        order = torch.randperm(len(starts), generator=torch.Generator().manual_seed(seed)).tolist()
        starts = [starts[i] for i in order[:max_batches]]
    for start in starts:
        yield collator([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])


def compute_sensitivity(
    model: torch.nn.Module,
    dataset: Any,
    collator: Any,
    subset: str,
    *,
    batch_size: int = 32,
    max_batches: Optional[int] = None,
    mode: str = "batch",
    exclude_embeddings: bool = False,
    progress: bool = True,
) -> Tuple[SensitivityAccumulator, Dict[str, Any]]:
    """Accumulate ``|θ ⊙ ∇θ L|`` over (up to ``max_batches``) batches of ``dataset``.

    ``L`` is the model's own task loss summed over the batch's examples: Transformers'
    sequence-classification losses are means over the examples, so the mean times their
    number (the model in eval mode: no dropout).  The accumulator's "tokens" are examples.
    """
    from tqdm import tqdm

    model.eval()  # sensitivity of the model itself, not of a dropout sample of it
    acc = SensitivityAccumulator(scored_parameters(model, exclude_embeddings), mode=mode)
    device = next(model.parameters()).device
    total = -(-len(dataset) // batch_size) if max_batches is None else min(max_batches, -(-len(dataset) // batch_size))
    loss_sum = 0.0
    for batch in tqdm(
        batches(dataset, collator, batch_size, max_batches),
        total=total,
        desc=f"sensitivity on {subset}",
        disable=not progress,
        unit="batch",
    ):
        batch = {k: v.to(device) for k, v in batch.items()}
        examples = int(batch["labels"].size(0))
        model.zero_grad(set_to_none=True)
        loss = model(**batch).loss * examples
        loss.backward()
        acc.add(examples)
        loss_sum += float(loss.detach())
    model.zero_grad(set_to_none=True)  # the gradients are no longer needed: free them
    info = {"batches": acc.batches, "examples": acc.tokens, "loss_per_example": loss_sum / acc.tokens}
    return acc, info


def evaluate(
    model: torch.nn.Module,
    dataset: Any,
    collator: Any,
    task: str,
    *,
    batch_size: int = 32,
    progress: bool = True,
    desc: str = "evaluating",
) -> Dict[str, float]:
    """The recipe's GLUE metrics of the model on ``dataset`` (every example, in order)."""
    from tqdm import tqdm

    model.eval()
    device = next(model.parameters()).device
    logits, labels = [], []
    with torch.no_grad():
        for batch in tqdm(
            batches(dataset, collator, batch_size),
            total=-(-len(dataset) // batch_size),
            desc=desc,
            disable=not progress,
            unit="batch",
            leave=False,
        ):
            labels.append(batch.pop("labels").numpy())
            logits.append(model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu().numpy())
    return _glue().glue_metrics(task, np.concatenate(logits), np.concatenate(labels))


class TransformersBackend(Backend):
    """A GLUE sequence classifier folder and the task's local data (``--glue-task``): L is the model's
    own task loss per example; a subset is evaluated with the recipe's metrics of the task."""

    kind = TRANSFORMERS
    described = "a Transformers model folder"
    options: Dict[str, Any] = {"glue_task": None, "batch_size": 32, "max_length": 128}
    unit = "examples"

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self.data: Dict[str, Any] = {}
        self.collator: Any = None

    def check_inputs(self) -> None:
        for option in ("batch_size", "max_length"):
            if getattr(self.args, option) < 1:
                raise AnalysisError(f"--{option.replace('_', '-')} must be >= 1 (got {getattr(self.args, option)})")
        check_inputs(self.args.data, self.args.path, self.args.glue_task)

    def default_subset(self) -> str:
        return default_subset(self.args.glue_task)

    def check_subset(self, subset: str, option: str) -> None:
        check_subset(self.args.glue_task, subset, option)

    @property
    def metric(self) -> str:
        return best_metric(self.args.glue_task)

    def load(self, subsets: Sequence[str], device: torch.device) -> torch.nn.Module:
        self.model, self.data, self.collator = load(
            self.args.data,
            self.args.path,
            self.args.glue_task,
            list(subsets),
            self.args.max_length,
            device,
            progress=not self.args.no_progress,
        )
        return self.model

    def settings(self) -> Dict[str, Any]:
        return {
            "kind": TRANSFORMERS,
            "glue_task": self.args.glue_task,
            "batch_size": self.args.batch_size,
            "max_length": self.args.max_length,
        }

    def sensitivity(self, subset: str) -> Tuple[SensitivityAccumulator, Dict[str, Any]]:
        acc, info = compute_sensitivity(
            self.model,
            self.data[subset],
            self.collator,
            subset,
            batch_size=self.args.batch_size,
            max_batches=self.args.max_batches,
            mode=self.args.mode,
            exclude_embeddings=self.args.exclude_embeddings,
            progress=not self.args.no_progress,
        )
        return acc, {**self.settings(), **info}

    def evaluate(self, subset: str, desc: str) -> Dict[str, float]:
        return evaluate(
            self.model,
            self.data[subset],
            self.collator,
            self.args.glue_task,
            batch_size=self.args.batch_size,
            progress=not self.args.no_progress,
            desc=desc,
        )

    def shown(self, scores: Dict[str, float]) -> str:
        return ", ".join(f"{name} {value:.4f}" for name, value in scores.items())

    def prune_record(self) -> Dict[str, Any]:
        return {**self.settings(), "metric": self.metric}
