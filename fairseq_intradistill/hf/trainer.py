"""``Trainer`` and ``Seq2SeqTrainer`` with intra-distillation.

Training steps run the K passes as one forward over the batch repeated K times and add
α_t × the divergence between the K outputs to the task loss.  α_t follows the adaptive
schedule from the trainer's own ``state.global_step`` and ``state.max_steps``, which
Transformers restores from a checkpoint, so a resumed run continues the schedule where it
stopped.  Evaluation and prediction run one pass, so ``eval_loss`` compares directly with a
baseline's.  The training logs gain ``intra_distillation_loss`` (the divergence per example,
or per labelled token for token tasks, before α) and ``alpha`` (α_t), which reach every
reporting integration (TensorBoard, W&B, ...) through ``Trainer.log``.
"""

from __future__ import annotations

from typing import Any, Optional

from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio

hide_broken_torchaudio()  # before transformers is imported: see _torchaudio.py

import torch  # noqa: E402
from torch import nn  # noqa: E402
from transformers import Seq2SeqTrainer, Trainer  # noqa: E402
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES  # noqa: E402

from fairseq_intradistill.hf.config import IntraDistillationArguments  # noqa: E402
from fairseq_intradistill.hf.loss import output_divergence, repeat_batch  # noqa: E402
from fairseq_intradistill.schedule import adaptive_alpha  # noqa: E402


class IntraDistillationMixin:
    """Put before ``Trainer`` (or a subclass of it) in the bases; see the module docstring."""

    def __init__(
        self, *args: Any, intra_distillation: Optional[IntraDistillationArguments] = None, **kwargs: Any
    ) -> None:
        if intra_distillation is None:
            intra_distillation = IntraDistillationArguments()
        if not isinstance(intra_distillation, IntraDistillationArguments):
            raise TypeError(
                f"intra_distillation must be an IntraDistillationArguments, got {type(intra_distillation).__name__}"
            )
        intra_distillation.validate()
        self.intra_distillation = intra_distillation
        super().__init__(*args, **kwargs)
        # Sums since the last training log, on this process.
        self._intra_sum = torch.zeros((), dtype=torch.float64, device=self.args.device)
        self._intra_rows = torch.zeros((), dtype=torch.float64, device=self.args.device)
        self._intra_alpha = 0.0

    # -- the schedule --------------------------------------------------------------------
    def intra_distillation_alpha(self) -> float:
        """α_t at the trainer's current update (``state.global_step``)."""
        cfg = self.intra_distillation
        if not cfg.adaptive_alpha:
            return float(cfg.alpha)
        horizon = cfg.alpha_max_steps or self.state.max_steps
        if horizon <= 0:
            raise ValueError(
                "--adaptive_alpha needs a horizon: set --alpha_max_steps, --max_steps or --num_train_epochs"
            )
        return adaptive_alpha(cfg.alpha, self.state.global_step, horizon, cfg.alpha_p, cfg.alpha_q)

    # -- the loss ------------------------------------------------------------------------
    def compute_loss(
        self, model: nn.Module, inputs: dict, return_outputs: bool = False, num_items_in_batch: Any = None
    ):
        cfg = self.intra_distillation
        if not model.training or cfg.num_passes == 1:
            # Evaluation, prediction and K = 1: exactly the plain Trainer's loss.
            return super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )

        k = cfg.num_passes
        labels = inputs.get("labels")
        repeated_items = None if num_items_in_batch is None else num_items_in_batch * k
        loss, outputs = super().compute_loss(
            model, repeat_batch(inputs, k), return_outputs=True, num_items_in_batch=repeated_items
        )

        unwrapped = self.accelerator.unwrap_model(model)
        config = getattr(unwrapped, "config", None)
        divergence = output_divergence(
            outputs,
            labels,
            k,
            divergence=cfg.divergence,
            num_labels=getattr(config, "num_labels", None),
            causal_lm=unwrapped._get_name() in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values(),
            token_positions=cfg.token_positions,
        )
        alpha = self.intra_distillation_alpha()
        term = divergence.total * self._intra_scale(divergence.rows, num_items_in_batch, divergence.kind)
        loss = loss + alpha * term.to(loss.dtype)

        self._intra_sum += divergence.total.detach().to(torch.float64)
        self._intra_rows += divergence.rows.detach().to(torch.float64)
        self._intra_alpha = alpha
        if return_outputs:
            return loss, _first_copy(outputs, k)
        return loss

    def _intra_scale(self, rows: torch.Tensor, num_items_in_batch: Any, kind: str):
        """What multiplies the summed divergence so that its ratio to the task loss is the intended one.

        The task loss is a mean over this batch's rows, except where it is normalised over the
        whole accumulated (and, with ``average_tokens_across_devices``, global) batch with
        ``num_items_in_batch``: by a ``compute_loss_func``, or by the model itself, which among
        the supported kinds only causal language models do (the others accept the argument and
        ignore it).  Trainer multiplies the task loss by ``_trainer_loss_scale`` in both cases.

        ``mean`` normalises the divergence like the task loss.  ``sum`` keeps the authors' scale:
        the sum over the examples of one forward pass, averaged over the accumulation steps.  With
        N data-parallel processes, each process's forward holds 1/N of those examples and DDP
        averages the gradients, so the local sum is multiplied by N: one process and N processes
        with the same examples per update give the same loss and gradients (tested with 2).
        """
        if num_items_in_batch is None:
            normalised = False
        elif getattr(self, "loss_is_scaled_for_ga", None) is not None:
            normalised = bool(self.loss_is_scaled_for_ga)
        else:
            normalised = self.compute_loss_func is not None or (self.model_accepts_loss_kwargs and kind == "causal_lm")
        loss_scale = self._trainer_loss_scale(num_items_in_batch)
        if self.intra_distillation.divergence_reduction == "sum":
            if normalised:
                # The task loss is already a global mean; Trainer does not divide by the steps.
                return self._data_parallel_processes() / self.current_gradient_accumulation_steps
            # A per-batch task loss times loss_scale: the divergence gets the same factor.
            return self._data_parallel_processes() * loss_scale
        return loss_scale / (num_items_in_batch if normalised else rows.clamp(min=1))

    def _data_parallel_processes(self) -> int:
        """The processes that each see a different part of the batch (DataParallel: one, which sees it all)."""
        if self.args.n_gpu > 1:
            return 1
        tp_size = self.get_tp_size() if hasattr(self, "get_tp_size") else 1
        return max(1, self.accelerator.num_processes // tp_size)

    def _trainer_loss_scale(self, num_items_in_batch: Any) -> int:
        """The factor ``Trainer.compute_loss`` multiplies the task loss by, applied to the divergence too.

        With ``average_tokens_across_devices`` and a ``num_items_in_batch``, Transformers
        multiplies the task loss by the number of data-parallel processes (whether or not the
        model used the count), so that DDP's gradient averaging gives a global mean; without the
        same factor the divergence's weight would shrink with the number of processes.
        """
        if not (
            self.args.average_tokens_across_devices
            and num_items_in_batch is not None
            and (self.model_accepts_loss_kwargs or self.compute_loss_func is not None)
        ):
            return 1
        if self.args.n_gpu > 1:
            return self.args.n_gpu
        tp_size = self.get_tp_size() if hasattr(self, "get_tp_size") else 1
        return self.accelerator.num_processes // tp_size

    # -- logging -------------------------------------------------------------------------
    def log(self, logs: dict, *args: Any, **kwargs: Any) -> None:
        if "loss" in logs and self.intra_distillation.num_passes > 1:
            # Every process logs the training loss together, so the gather below is collective.
            totals = torch.stack([self._intra_sum, self._intra_rows]).to(self.args.device)
            if self.accelerator.num_processes > 1:
                totals = self.accelerator.gather(totals.unsqueeze(0)).sum(dim=0)
            total, rows = totals.tolist()
            logs["intra_distillation_loss"] = total / rows if rows > 0 else 0.0
            logs["alpha"] = self._intra_alpha
            self._intra_sum.zero_()
            self._intra_rows.zero_()
        super().log(logs, *args, **kwargs)


def _first_copy(outputs: Any, num_passes: int) -> Any:
    """The outputs of the first pass, so that callers see the batch size they passed in."""
    if isinstance(outputs, dict):
        return type(outputs)(**{k: _slice(v, num_passes) for k, v in outputs.items()})
    return tuple(_slice(v, num_passes) for v in outputs)


def _slice(value: Any, num_passes: int) -> Any:
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.size(0) % num_passes == 0:
        return value[: value.size(0) // num_passes]
    return value


class IntraDistillationTrainer(IntraDistillationMixin, Trainer):
    """``transformers.Trainer`` with intra-distillation; pass ``intra_distillation=IntraDistillationArguments(...)``."""


class IntraDistillationSeq2SeqTrainer(IntraDistillationMixin, Seq2SeqTrainer):
    """``transformers.Seq2SeqTrainer`` with intra-distillation (token distributions, padding masked)."""
