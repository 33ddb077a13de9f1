"""``--criterion self_distillation``: label-smoothed cross-entropy + ``--kd-alpha`` × divergence to a frozen teacher.

The paper's case study (iterative self-distillation: model 1 teaches model 2, which teaches
model 3) as a fairseq criterion; ``scripts/iwslt14/self_distill.sh`` runs the chain.

The teacher is loaded from ``--teacher-path`` with fairseq's own checkpoint reader (the
plugin's weights_only allow-list applies), kept in eval mode and run under ``no_grad``.  It
is deliberately *not* a submodule of the criterion: fairseq's trainer hands the criterion's
parameters to the optimizer, saves them in every checkpoint (``"criterion"``) and wraps a
criterion that has parameters in DDP.  The teacher follows the student's device and dtype.

Training ``loss`` = cross-entropy + kd_alpha · KD; validation ``loss`` is the cross-entropy
alone, so that it compares with a baseline's and selects checkpoint_best the same way.
``kd_loss`` (base 2, per token) is logged in both.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path
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

from fairseq_intradistill.compat import metrics
from fairseq_intradistill.distillation import KD_KINDS, teacher_divergence

KD_DIVERGENCE_CHOICES = ChoiceEnum(list(KD_KINDS))


@dataclass
class SelfDistillationCriterionConfig(LabelSmoothedCrossEntropyCriterionConfig):
    teacher_path: str = field(
        default="",
        metadata={"help": "checkpoint of the frozen teacher (trained on the same data and dictionary)"},
    )
    kd_alpha: float = field(
        default=1.0,
        metadata={"help": "weight of the divergence to the teacher (0 = ordinary label-smoothed training)"},
    )
    kd_divergence: KD_DIVERGENCE_CHOICES = field(  # type: ignore[valid-type]
        default="kl",
        metadata={
            "help": "kl: KL(teacher || student), word-level distillation; x: the paper's X-divergence of the pair"
        },
    )


def check_config(cfg: SelfDistillationCriterionConfig) -> None:
    """Raise ValueError naming the flag for any setting the criterion cannot run with."""
    if not cfg.teacher_path:
        raise ValueError("--criterion self_distillation needs --teacher-path: the checkpoint of the teacher model")
    if not Path(cfg.teacher_path).is_file():
        raise ValueError(f"--teacher-path {cfg.teacher_path}: no such checkpoint")
    if not (cfg.kd_alpha >= 0 and math.isfinite(cfg.kd_alpha)):
        raise ValueError(f"--kd-alpha must be a finite number >= 0 (got {cfg.kd_alpha})")


def load_teacher(path: str, task: Any) -> torch.nn.Module:
    """The teacher model, frozen and in eval mode, built for ``task``'s dictionaries."""
    from fairseq import checkpoint_utils, models
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    try:
        state = checkpoint_utils.load_checkpoint_to_cpu(path)
    except Exception as e:
        raise ValueError(
            f"--teacher-path {path}: cannot read it as a fairseq checkpoint: {type(e).__name__}: {e}"
        ) from e
    if state.get("args") is not None:
        cfg = convert_namespace_to_omegaconf(state["args"])
    elif state.get("cfg") is not None:
        cfg = state["cfg"]
    else:
        raise ValueError(f"--teacher-path {path}: the checkpoint holds no model configuration")
    # fairseq.models.build_model, not task.build_model: with --eval-bleu the translation
    # task would point its validation generator at the teacher.
    teacher = models.build_model(cfg.model, task)
    try:
        teacher.load_state_dict(state["model"], strict=True, model_cfg=cfg.model)
    except RuntimeError as e:
        raise ValueError(
            f"--teacher-path {path}: its weights do not fit this task (another dictionary or data?): {e}"
        ) from e
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


@register_criterion("self_distillation", dataclass=SelfDistillationCriterionConfig)
class SelfDistillationCriterion(LabelSmoothedCrossEntropyCriterion):
    def __init__(self, task, cfg: SelfDistillationCriterionConfig):
        check_config(cfg)
        super().__init__(
            task,
            cfg.sentence_avg,
            cfg.label_smoothing,
            ignore_prefix_size=cfg.ignore_prefix_size,
            report_accuracy=cfg.report_accuracy,
        )
        self.kd_alpha = float(cfg.kd_alpha)
        self.kd_divergence = str(cfg.kd_divergence)
        self.teacher_path = cfg.teacher_path
        # Stored around nn.Module.__setattr__ so that the teacher is no submodule (see above).
        self.__dict__["teacher"] = load_teacher(cfg.teacher_path, task)

    @classmethod
    def build_criterion(cls, cfg: SelfDistillationCriterionConfig, task):
        return cls(task, cfg)

    def _teacher_like(self, model) -> torch.nn.Module:
        """The teacher on the student's device and in its floating dtype, in eval mode."""
        teacher = self.teacher
        ref = next(p for p in model.parameters() if p.is_floating_point())
        tp = next(teacher.parameters())
        if tp.device != ref.device or tp.dtype != ref.dtype:
            teacher.to(device=ref.device, dtype=ref.dtype)
        if teacher.training:  # nothing should switch it, but dropout in the teacher would be wrong
            teacher.eval()
        return teacher

    def forward(self, model, sample, reduce=True):
        net_output = model(**sample["net_input"])
        lprobs, target = self.get_lprobs_and_target(model, net_output, sample)
        loss, nll_loss = label_smoothed_nll_loss(lprobs, target, self.eps, ignore_index=self.padding_idx, reduce=reduce)
        teacher = self._teacher_like(model)
        with torch.no_grad():
            teacher_output = teacher(**sample["net_input"])
            teacher_lprobs, _ = self.get_lprobs_and_target(teacher, teacher_output, sample)
        pad_mask = target.view(-1).eq(self.padding_idx)
        train_kd = model.training and self.kd_alpha > 0
        # With kd_alpha = 0 (or in validation) the divergence is only logged: computed on a
        # detached student, so the graph and the gradients are exactly the baseline's.
        kd_loss = teacher_divergence(
            lprobs if train_kd else lprobs.detach(), teacher_lprobs, self.kd_divergence, pad_mask
        )
        if train_kd:
            loss = loss + self.kd_alpha * kd_loss

        sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data,
            "nll_loss": nll_loss.data,
            "kd_loss": kd_loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["target"].size(0),
            "sample_size": sample_size,
        }
        if self.report_accuracy:
            n_correct, total = self.compute_accuracy(model, net_output, sample)
            logging_output["n_correct"] = utils.item(n_correct.data)
            logging_output["total"] = utils.item(total.data)
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs: List[Dict[str, Any]]) -> None:
        super().reduce_metrics(logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        if sample_size == 0:
            return
        kd_loss = sum(log.get("kd_loss", 0) for log in logging_outputs)
        # Base 2 and per token (or sentence), like fairseq's loss, so the two compare.
        metrics.log_scalar("kd_loss", kd_loss / sample_size / math.log(2), sample_size, round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
