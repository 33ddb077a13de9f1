"""The adaptive intra-distillation weight of Xu et al. (2022), section 3.3.

The intra-distillation term slows early convergence, so its weight ramps up:
with N the number of updates, t the current update and 0 < p < q,

    gamma   = log(1/alpha) / log(p/q)
    alpha_t = alpha * (p * t / N) ** gamma    for t < N/p,   alpha afterwards.

So alpha_0 = 0, alpha_t = 1 at t = N/q and alpha_t = alpha at t = N/p.  For alpha <= 1
the ramp is not defined (gamma <= 0) and the weight stays constant, as in the paper.

:data:`PAPER_SETTINGS` holds the paper's IWSLT'14 settings (K, alpha, p, q, divergence): the
one place the fairseq criterion's defaults, the Transformers arguments' defaults and the
recipes (:mod:`fairseq_intradistill.recipes`) take them from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class IntraSettings:
    """One intra-distillation setting: K passes, the weight alpha, its schedule and the divergence."""

    num_passes: int
    alpha: float
    adaptive: bool  # alpha ramps up with :func:`adaptive_alpha`; False: alpha from the first update
    p: float
    q: float
    divergence: str


# Xu et al. (2022) on IWSLT'14: K=3, alpha 5 reached with the adaptive schedule at N/5 (p=5),
# alpha 1 at N/10 (q=10), X-divergence.
PAPER_SETTINGS = IntraSettings(num_passes=3, alpha=5.0, adaptive=True, p=5.0, q=10.0, divergence="x")


def adaptive_alpha(alpha: float, num_updates: int, max_update: int, p: float, q: float) -> float:
    """The weight of the intra-distillation loss at update ``num_updates`` (0-based)."""
    if alpha <= 1:
        return float(alpha)
    if not 0 < p < q:
        raise ValueError(f"the schedule needs 0 < p < q (got p={p}, q={q})")
    if max_update <= 0:
        raise ValueError(f"the schedule needs max_update > 0 (got {max_update})")
    if num_updates <= 0:
        return 0.0
    progress = p * num_updates / max_update
    if progress >= 1.0:
        return float(alpha)
    gamma = math.log(1.0 / alpha) / math.log(p / q)
    return alpha * progress**gamma
