"""Options of intra-distillation for Hugging Face Transformers (no fairseq import).

The fields mirror the fairseq criterion's options (``--num-passes``, ``--alpha``, ...) with
Transformers' spelling, so that ``HfArgumentParser((TrainingArguments,
IntraDistillationArguments))`` gives a training script the flags ``--num_passes``,
``--alpha``, ``--adaptive_alpha``, ``--alpha_p``, ``--alpha_q``, ``--alpha_max_steps``,
``--divergence``, ``--divergence_reduction`` and ``--token_positions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fairseq_intradistill.divergence import KINDS
from fairseq_intradistill.schedule import PAPER_SETTINGS

REDUCTIONS = ("mean", "sum")
# Which positions of a token-classification batch the divergence compares (hf/loss.py).
TOKEN_POSITIONS = ("labelled", "all")


@dataclass
class IntraDistillationArguments:
    num_passes: int = field(
        default=PAPER_SETTINGS.num_passes,
        metadata={
            "help": "forward passes K per batch (run as one forward over the batch repeated K times); "
            "1 is ordinary training"
        },
    )
    alpha: float = field(
        default=PAPER_SETTINGS.alpha,
        metadata={"help": "weight of the divergence between the K passes (the final weight with --adaptive_alpha)"},
    )
    adaptive_alpha: bool = field(
        default=False,
        metadata={
            "help": "ramp the weight: alpha_t = alpha*(p*t/N)^gamma for t < N/p, then alpha "
            "(constant alpha when alpha <= 1)"
        },
    )
    alpha_p: float = field(default=PAPER_SETTINGS.p, metadata={"help": "the weight reaches alpha at step N/p"})
    alpha_q: float = field(
        default=PAPER_SETTINGS.q, metadata={"help": "the weight reaches 1 at step N/q; needs 0 < p < q"}
    )
    alpha_max_steps: int = field(
        default=0,
        metadata={"help": "horizon N of the schedule; 0 uses the trainer's max_steps (from --max_steps or the epochs)"},
    )
    divergence: str = field(
        default=PAPER_SETTINGS.divergence,
        metadata={
            "help": "divergence between the K output distributions: x (the paper's), js, sym_kl. "
            "Regression outputs (num_labels = 1) always use mse, the squared distance to the mean output; "
            "mse is rejected for distributions",
            "choices": list(KINDS),
        },
    )
    divergence_reduction: str = field(
        default="mean",
        metadata={
            "help": "mean: the divergence per example (per labelled token for token tasks), normalised like the task "
            "loss; sum: summed over the batch, as the authors' GLUE and NER scripts do",
            "choices": list(REDUCTIONS),
        },
    )

    token_positions: str = field(
        default="labelled",
        metadata={
            "help": "token classification: labelled compares the positions whose label is not -100; all compares "
            "every position, padding and -100 included, as the authors' NER script (pad to the maximum length too "
            "to match it exactly)",
            "choices": list(TOKEN_POSITIONS),
        },
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the option when a setting is out of range."""
        if isinstance(self.num_passes, bool) or not isinstance(self.num_passes, int) or self.num_passes < 1:
            raise ValueError(f"--num_passes must be an integer >= 1, got {self.num_passes!r}")
        if not self.alpha >= 0:  # also rejects NaN
            raise ValueError(f"--alpha must be >= 0, got {self.alpha!r}")
        if self.divergence not in KINDS:
            raise ValueError(f"--divergence must be one of {', '.join(KINDS)}, got {self.divergence!r}")
        if self.divergence_reduction not in REDUCTIONS:
            raise ValueError(
                f"--divergence_reduction must be one of {', '.join(REDUCTIONS)}, got {self.divergence_reduction!r}"
            )
        if self.token_positions not in TOKEN_POSITIONS:
            raise ValueError(
                f"--token_positions must be one of {', '.join(TOKEN_POSITIONS)}, got {self.token_positions!r}"
            )
        if self.alpha_max_steps < 0:
            raise ValueError(
                f"--alpha_max_steps must be >= 0 (0: the trainer's max_steps), got {self.alpha_max_steps!r}"
            )
        if self.adaptive_alpha:
            if not self.alpha_p > 0:
                raise ValueError(f"--alpha_p must be > 0 with --adaptive_alpha, got {self.alpha_p!r}")
            if not self.alpha_p < self.alpha_q:
                raise ValueError(
                    f"--alpha_q must be greater than --alpha_p with --adaptive_alpha "
                    f"(got --alpha_p {self.alpha_p}, --alpha_q {self.alpha_q})"
                )
