"""``--criterion intra_distillation``: label-smoothed cross-entropy over K passes + α_t · divergence.

Design: the criterion owns the K passes, because it is the one piece that sees both the
model and the loss; the task only tells it the update number (see
``tasks/translation_intra_distillation.py``).  Validation (``model.eval()``) runs one pass,
so its ``loss``/``nll_loss`` compare with a baseline's.
"""

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List

import torch
from fairseq import utils
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
    label_smoothed_nll_loss,
)
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks.translation import TranslationTask
from omegaconf import II

from fairseq_intradistill.compat import metrics
from fairseq_intradistill.divergence import divergence_rows, intra_distillation_loss, mse_rows
from fairseq_intradistill.schedule import PAPER_SETTINGS, adaptive_alpha

DIVERGENCE_CHOICES = ChoiceEnum(["x", "js", "sym_kl", "mse"])
PASS_MODE_CHOICES = ChoiceEnum(["batched", "sequential"])


@dataclass
class IntraDistillationCriterionConfig(LabelSmoothedCrossEntropyCriterionConfig):
    num_passes: int = field(
        default=PAPER_SETTINGS.num_passes,
        metadata={"help": "K, the number of forward passes per batch (1 = ordinary training)"},
    )
    alpha: float = field(
        default=PAPER_SETTINGS.alpha,
        metadata={"help": "weight of the intra-distillation loss (the final weight with --adaptive-alpha)"},
    )
    adaptive_alpha: bool = field(
        default=False,
        metadata={"help": "ramp the weight from 0 to --alpha with the paper's schedule (needs --alpha > 1)"},
    )
    alpha_p: float = field(
        default=PAPER_SETTINGS.p,
        metadata={"help": "p of the schedule: the weight reaches --alpha at update N/p"},
    )
    alpha_q: float = field(
        default=PAPER_SETTINGS.q,
        metadata={"help": "q of the schedule: the weight reaches 1 at update N/q (needs p < q)"},
    )
    alpha_max_update: int = field(
        default=0,
        metadata={"help": "N of the schedule; 0 uses --max-update"},
    )
    divergence: DIVERGENCE_CHOICES = field(  # type: ignore[valid-type]
        default=PAPER_SETTINGS.divergence,
        metadata={"help": "x (the paper's X-divergence), js, sym_kl (R-Drop for K=2), mse (regression)"},
    )
    pass_mode: PASS_MODE_CHOICES = field(  # type: ignore[valid-type]
        default="batched",
        metadata={
            "help": "batched: one forward over the batch repeated K times (one forward per backward, "
            "as DDP expects); sequential: K forwards of the batch. Both keep the activations of all "
            "K passes for the one backward; docs/benchmarks.md measured a higher peak memory for "
            "sequential at K=3 and K=4 (CPU)"
        },
    )
    max_update: int = II("optimization.max_update")


def check_config(cfg: IntraDistillationCriterionConfig, task: Any) -> None:
    """Raise ValueError naming the flag for any setting the method cannot run with."""
    if cfg.num_passes < 1:
        raise ValueError(f"--num-passes must be >= 1 (got {cfg.num_passes})")
    if cfg.alpha < 0:
        raise ValueError(f"--alpha must be >= 0 (got {cfg.alpha})")
    if str(cfg.divergence) == "mse" and isinstance(task, TranslationTask):
        raise ValueError("--divergence mse is for regression outputs; a translation task needs x, js or sym_kl")
    if cfg.adaptive_alpha:
        if cfg.alpha_p <= 0:
            raise ValueError(f"--alpha-p must be > 0 with --adaptive-alpha (got {cfg.alpha_p})")
        if cfg.alpha_p >= cfg.alpha_q:
            raise ValueError(
                f"--alpha-p must be < --alpha-q with --adaptive-alpha (got p={cfg.alpha_p}, q={cfg.alpha_q})"
            )
        if cfg.alpha_max_update < 0:
            raise ValueError(f"--alpha-max-update must be >= 0 (got {cfg.alpha_max_update})")
        if cfg.alpha_max_update == 0 and (cfg.max_update or 0) <= 0:
            raise ValueError("--adaptive-alpha needs a horizon: set --max-update > 0 or --alpha-max-update > 0")
        if not getattr(task, "feeds_num_updates_to_criterion", False):
            raise ValueError(
                "--adaptive-alpha needs --task translation_intra_distillation, which tells the "
                "criterion the update number"
            )


def repeat_batch(net_input: Dict[str, Any], k: int) -> Dict[str, Any]:
    """A new net_input with every tensor repeated K times along the batch dimension."""
    return {
        key: value.repeat(k, *([1] * (value.dim() - 1))) if torch.is_tensor(value) else value
        for key, value in net_input.items()
    }


@register_criterion("intra_distillation", dataclass=IntraDistillationCriterionConfig)
class IntraDistillationCriterion(LabelSmoothedCrossEntropyCriterion):
    def __init__(self, task, cfg: IntraDistillationCriterionConfig):
        check_config(cfg, task)
        super().__init__(
            task,
            cfg.sentence_avg,
            cfg.label_smoothing,
            ignore_prefix_size=cfg.ignore_prefix_size,
            report_accuracy=cfg.report_accuracy,
        )
        self.num_passes = cfg.num_passes
        self.alpha = cfg.alpha
        self.adaptive = cfg.adaptive_alpha
        self.alpha_p = cfg.alpha_p
        self.alpha_q = cfg.alpha_q
        self.horizon = cfg.alpha_max_update or cfg.max_update
        self.divergence = str(cfg.divergence)
        self.pass_mode = str(cfg.pass_mode)
        self.num_updates = 0

    @classmethod
    def build_criterion(cls, cfg: IntraDistillationCriterionConfig, task):
        return cls(task, cfg)

    def set_num_updates(self, num_updates: int) -> None:
        """Called by the task before every training step with the trainer's update count."""
        self.num_updates = num_updates

    def current_alpha(self) -> float:
        if not self.adaptive:
            return float(self.alpha)
        return adaptive_alpha(self.alpha, self.num_updates, self.horizon, self.alpha_p, self.alpha_q)

    def forward(self, model, sample, reduce=True):
        k = self.num_passes if model.training else 1
        alpha = self.current_alpha()
        if k == 1:
            net_output = model(**sample["net_input"])
            loss, nll_loss = self.compute_loss(model, net_output, sample, reduce=reduce)
            id_loss = torch.zeros_like(loss)
            n_correct = total = None
            if self.report_accuracy:
                n_correct, total = self.compute_accuracy(model, net_output, sample)
        else:
            loss, nll_loss, id_loss, (n_correct, total) = self._k_pass_loss(model, sample, k, reduce)
            loss = loss + alpha * id_loss

        sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data,
            "nll_loss": nll_loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["target"].size(0),
            "sample_size": sample_size,
        }
        if model.training:
            logging_output["intra_distillation_loss"] = id_loss.data
            # Weighted by sample size so that summing over workers and --update-freq
            # micro-batches and dividing back in reduce_metrics gives α itself.
            logging_output["alpha_weighted"] = alpha * sample_size
        if self.report_accuracy:
            logging_output["n_correct"] = utils.item(n_correct.data)
            logging_output["total"] = utils.item(total.data)
        return loss, sample_size, logging_output

    def _k_pass_loss(self, model, sample, k: int, reduce: bool):
        """Mean cross-entropy over K passes, the divergence between them, and the first pass' accuracy.

        With ``reduce=False`` the three losses are per target position of one copy of the
        batch (``[rows, 1]``, as fairseq's criterion returns them), and their sums are the
        reduced values.  Accuracy counts the first pass only, in both pass modes, so that
        ``n_correct`` and ``total`` count one copy of the batch like ``ntokens``.
        """
        if self.pass_mode == "batched":
            # Dropout draws independent masks for every row, so one forward over the
            # batch repeated K times is K independent passes, with a single forward
            # per backward (what DDP expects) and better use of the device.
            repeated = {
                "net_input": repeat_batch(sample["net_input"], k),
                "target": sample["target"].repeat(k, 1),
            }
            net_output = model(**repeated["net_input"])
            lprobs, target = self.get_lprobs_and_target(model, net_output, repeated)
        else:
            outputs = [model(**sample["net_input"]) for _ in range(k)]
            pairs = [self.get_lprobs_and_target(model, out, sample) for out in outputs]
            lprobs = torch.cat([lp for lp, _ in pairs])
            target = torch.cat([t for _, t in pairs])

        # Both modes stack the passes along the rows: pass i holds rows [i*rows, (i+1)*rows).
        rows = lprobs.size(0) // k
        pad_mask = target[:rows].eq(self.padding_idx)
        ce_loss, nll_loss = label_smoothed_nll_loss(
            lprobs, target, self.eps, ignore_index=self.padding_idx, reduce=reduce
        )
        if reduce:
            id_loss = intra_distillation_loss(lprobs.view(k, rows, -1), kind=self.divergence, pad_mask=pad_mask)
            ce_loss, nll_loss = ce_loss / k, nll_loss / k
        else:
            passes = lprobs.view(k, rows, -1)
            id_loss = mse_rows(passes) if self.divergence == "mse" else divergence_rows(passes, self.divergence)
            id_loss = id_loss.masked_fill(pad_mask, 0.0).unsqueeze(-1)
            ce_loss, nll_loss = ce_loss.view(k, rows, 1).mean(0), nll_loss.view(k, rows, 1).mean(0)

        n_correct = total = None
        if self.report_accuracy:
            first, first_target = lprobs[:rows], target[:rows]
            n_correct = first.argmax(-1).eq(first_target).masked_fill(pad_mask, False).sum()
            total = (~pad_mask).sum()
        return ce_loss, nll_loss, id_loss, (n_correct, total)

    @classmethod
    def reduce_metrics(cls, logging_outputs: List[Dict[str, Any]]) -> None:
        super().reduce_metrics(logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        if sample_size == 0 or not any("alpha_weighted" in log for log in logging_outputs):
            return  # validation: one pass, nothing to report beyond the cross-entropy
        id_loss = sum(log.get("intra_distillation_loss", 0) for log in logging_outputs)
        alpha_weighted = sum(log.get("alpha_weighted", 0) for log in logging_outputs)
        # Base 2 and per token (or sentence), like fairseq's loss, so the two compare.
        metrics.log_scalar("intra_distillation_loss", id_loss / sample_size / math.log(2), sample_size, round=4)
        metrics.log_scalar("alpha", alpha_weighted / sample_size, sample_size, round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
