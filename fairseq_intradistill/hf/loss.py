"""The K passes as one batched forward, and the divergence of Transformers model outputs.

Pure torch and dictionaries: what the outputs of each task kind look like and which rows of
them the divergence compares.  The divergences themselves come from
:mod:`fairseq_intradistill.divergence`.

The batch is repeated K times along the batch dimension (copy-major: rows ``k*B .. (k+1)*B-1``
are pass k), so dropout draws independent masks for each copy and DDP sees one forward per
backward.  The model's own loss over the repeated batch is then the mean of the K passes'
losses (every mean-reduced loss has the same denominator in each copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import torch
from torch import Tensor

from fairseq_intradistill.divergence import intra_distillation_loss
from fairseq_intradistill.hf.config import TOKEN_POSITIONS

IGNORE_INDEX = -100  # the label Transformers' losses ignore (padding, sub-word continuations)

TASK_KINDS = ("classification", "regression", "token", "causal_lm", "question_answering")


@dataclass
class Divergence:
    """The divergence summed over the compared rows of one copy, and how many rows that is."""

    total: Tensor  # scalar, float32 (float64 for float64 outputs)
    rows: Tensor  # scalar int64: examples for classification/regression/QA, labelled tokens for token tasks
    kind: str  # the task kind it was computed for (one of TASK_KINDS)


def repeat_batch(inputs: Mapping[str, Any], num_passes: int) -> dict:
    """The batch repeated ``num_passes`` times along dimension 0 (copy-major).

    Tensors whose first dimension is the batch size are repeated; anything else (scalars,
    non-tensors, a precomputed ``num_items_in_batch``) is passed unchanged.
    """
    if num_passes == 1:
        return dict(inputs)
    batch_size = _batch_size(inputs)
    repeated = {}
    for name, value in inputs.items():
        if isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == batch_size:
            repeated[name] = value.repeat(num_passes, *([1] * (value.dim() - 1)))
        else:
            repeated[name] = value
    return repeated


def _batch_size(inputs: Mapping[str, Any]) -> int:
    for name in ("input_ids", "inputs_embeds", "attention_mask", "labels", "pixel_values", "input_values"):
        value = inputs.get(name)
        if isinstance(value, Tensor) and value.dim() > 0:
            return value.size(0)
    for value in inputs.values():
        if isinstance(value, Tensor) and value.dim() > 0:
            return value.size(0)
    raise ValueError("the batch has no tensor with a batch dimension")


def _get(outputs: Any, name: str) -> Optional[Tensor]:
    if isinstance(outputs, Mapping):
        return outputs.get(name)
    return getattr(outputs, name, None)


def task_kind(outputs: Any, labels: Optional[Tensor], num_labels: Optional[int], causal_lm: bool) -> str:
    """Which of TASK_KINDS the outputs belong to, from their shapes."""
    if _get(outputs, "start_logits") is not None and _get(outputs, "end_logits") is not None:
        return "question_answering"
    logits = _get(outputs, "logits")
    if logits is None:
        raise ValueError("intra-distillation needs model outputs with `logits` (or `start_logits` and `end_logits`)")
    if logits.dim() == 3:
        return "causal_lm" if causal_lm else "token"
    if logits.dim() == 2:
        regression = (
            logits.size(-1) == 1 and (num_labels in (None, 1)) and (labels is None or labels.is_floating_point())
        )
        return "regression" if regression else "classification"
    raise ValueError(f"cannot apply intra-distillation to logits of shape {tuple(logits.shape)}")


def _lprobs(logits: Tensor, num_passes: int) -> Tensor:
    """[K*B, ..., V] logits to [K, rows, V] log-probabilities in float32 (autocast-safe)."""
    logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    return torch.log_softmax(logits, dim=-1).reshape(num_passes, -1, logits.size(-1))


def output_divergence(
    outputs: Any,
    labels: Optional[Tensor],
    num_passes: int,
    divergence: str = "x",
    num_labels: Optional[int] = None,
    causal_lm: bool = False,
    token_positions: str = "labelled",
) -> Divergence:
    """The divergence between the K copies of ``outputs`` of a repeated batch.

    Args:
        outputs: the model outputs for the batch repeated ``num_passes`` times.
        labels: the labels of one copy of the batch (None where the task has none, QA).
        divergence: ``x``, ``js`` or ``sym_kl`` for distributions; regression outputs use ``mse``.
        num_labels: the model's ``config.num_labels`` (tells regression from one-class logits).
        causal_lm: the model predicts the next token (labels are shifted by one, as Transformers does).
        token_positions: for token classification, ``labelled`` compares the positions whose label
            is not -100; ``all`` compares every position, padding and -100 included, as the authors'
            run_tag.py does.
    """
    kind = task_kind(outputs, labels, num_labels, causal_lm)
    if kind == "regression":
        logits = _get(outputs, "logits")
        values = logits.float().reshape(num_passes, -1)
        total = intra_distillation_loss(values, kind="mse")
        return Divergence(total, torch.tensor(values.size(1), device=values.device), kind)
    if divergence == "mse":
        raise ValueError(
            f"--divergence mse applies to regression outputs (num_labels = 1); this model's outputs are {kind}"
        )

    if kind == "question_answering":
        # The task loss is the mean of the start and end losses; the divergence follows it.
        start = _lprobs(_get(outputs, "start_logits"), num_passes)
        end = _lprobs(_get(outputs, "end_logits"), num_passes)
        total = (intra_distillation_loss(start, divergence) + intra_distillation_loss(end, divergence)) / 2
        return Divergence(total, torch.tensor(start.size(1), device=start.device), kind)

    logits = _get(outputs, "logits")
    if kind == "classification":
        lprobs = _lprobs(logits, num_passes)
        pad_mask = None if labels is None else labels.reshape(-1).eq(IGNORE_INDEX)
    else:  # token, causal_lm: one distribution per position, labelled positions only
        if labels is None:
            raise ValueError(f"intra-distillation on {kind} outputs needs `labels` to tell padding (-100) from tokens")
        if kind == "causal_lm":
            logits = logits[:, :-1]
            labels = labels[:, 1:]
        lprobs = _lprobs(logits, num_passes)
        pad_mask = labels.reshape(-1).eq(IGNORE_INDEX)
        if pad_mask.size(0) != lprobs.size(1):
            raise ValueError(
                f"labels of shape {tuple(labels.shape)} do not match logits of shape {tuple(logits.shape)}"
            )
        if token_positions not in TOKEN_POSITIONS:
            raise ValueError(f"--token_positions must be one of {', '.join(TOKEN_POSITIONS)}, got {token_positions!r}")
        if kind == "token" and token_positions == "all":
            pad_mask = None
    total = intra_distillation_loss(lprobs, divergence, pad_mask=pad_mask)
    rows = torch.tensor(lprobs.size(1), device=lprobs.device) if pad_mask is None else (~pad_mask).sum()
    return Divergence(total, rows, kind)
