"""Divergences between a student and a frozen teacher (pure torch, no fairseq).

Used by ``--criterion self_distillation``.  ``student`` and ``teacher`` are ``[N, V]``
log-probabilities (N target positions); the teacher is treated as a constant (its
gradient is never needed, so it is detached here).  Per row:

* ``kl``  (word-level knowledge distillation)  KL(p_T || p_S) = sum_v p_T (log p_T - log p_S)
* ``x``   (the paper's X-divergence for the pair, K = 2), with m = (p_S + p_T) / 2:
          (1/2) sum_v [(p_S - m)(log p_S - log m) + (p_T - m)(log p_T - log m)]

Computed in float32 (float64 stays float64), log m by ``logsumexp``.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from fairseq_intradistill.divergence import divergence_rows

KD_KINDS = ("kl", "x")


def teacher_divergence_rows(student: Tensor, teacher: Tensor, kind: str = "kl") -> Tensor:
    """The divergence of every row, shape ``[N]``, differentiable in ``student`` only."""
    if kind not in KD_KINDS:
        raise ValueError(f"unknown teacher divergence {kind!r}; choose one of {', '.join(KD_KINDS)}")
    if student.shape != teacher.shape or student.dim() != 2:
        raise ValueError(
            f"student and teacher must both have shape [N, V]; got {tuple(student.shape)} and {tuple(teacher.shape)}"
        )
    dtype = torch.promote_types(student.dtype, torch.float32)
    ls = student.to(dtype)
    lt = teacher.detach().to(dtype)
    if kind == "kl":
        return (lt.exp() * (lt - ls)).sum(dim=-1)
    return divergence_rows(torch.stack([ls, lt]), "x")  # the intra-distillation X-divergence, K = 2


def teacher_divergence(student: Tensor, teacher: Tensor, kind: str = "kl", pad_mask: Optional[Tensor] = None) -> Tensor:
    """The divergence summed over the rows not masked by ``pad_mask`` (``[N]``, True = ignore)."""
    rows = teacher_divergence_rows(student, teacher, kind)
    if pad_mask is not None:
        if pad_mask.shape != rows.shape:
            raise ValueError(f"pad_mask must have shape [N={rows.size(0)}], got {tuple(pad_mask.shape)}")
        rows = rows.masked_fill(pad_mask.bool(), 0.0)
    return rows.sum()
