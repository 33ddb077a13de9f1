"""Divergences between the K outputs of intra-distillation (pure torch, no fairseq).

``lprobs`` is a ``[K, N, V]`` tensor: K passes, N rows (target positions), V classes,
holding log-probabilities.  With p_i the distribution of pass i, l_i = log p_i,
m = (1/K) sum_i p_i and l̄ = (1/K) sum_i l_i, for every row:

* ``x``      (the paper's X-divergence)  (1/K) sum_i sum_v (p_i - m)(l_i - log m)
* ``js``     (Jensen-Shannon-like)       (1/K) sum_i KL(p_i || m)
* ``sym_kl`` (R-Drop for K = 2)          mean over ordered pairs i != j of KL(p_i || p_j)
* ``mse``    (regression outputs y)      (1/K) sum_i ||y_i - ȳ||²

Two implementations give the same numbers:

* ``plain``: the definitions above, written directly and differentiated by autograd.
  Autograd keeps p, m, log m and the differences for the backward: several extra
  ``[K, N, V]`` tensors.
* ``lean`` (default): a custom autograd function that computes the value and its analytic
  gradient in one sweep over chunks of rows.  It keeps one ``[K, N, V]`` tensor, the
  gradient, for the backward (the buffer a backward pass would allocate anyway), and
  otherwise only chunk-sized temporaries.
  It uses two identities: because sum_i (p_i - m) = 0 and sum_i (l_i - l̄) = 0,

      x      = (1/K)     sum_i sum_v (p_i - m)(l_i - l̄)         (no log m needed)
      sym_kl = (1/(K-1)) sum_i sum_v (p_i - m)(l_i - l̄) = K/(K-1) · x
      d x / d l_i = (1/K) [p_i (l_i - l̄) + p_i - m]
      d js / d l_i = (1/K) p_i (l_i - log m)

Everything is computed in float32 (float64 stays float64) and in log space: log m comes
from ``logsumexp``, so logits of ±1e4 and half-precision inputs give finite values.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Optional

import torch
from torch import Tensor

KINDS = ("x", "js", "sym_kl", "mse")
IMPLEMENTATIONS = ("lean", "plain")

# Rows per chunk are chosen so that one chunk holds about this many elements per
# [K, rows, V] temporary (16 MiB in float32): small next to the full tensors, large
# enough that the per-chunk kernel launches do not matter.
CHUNK_ELEMENTS = 1 << 22


def _compute_dtype(x: Tensor) -> torch.dtype:
    return torch.promote_types(x.dtype, torch.float32)


def _log_mean(lp: Tensor) -> Tensor:
    """log of the mean distribution, log m = logsumexp_i(l_i) - log K, over dim 0."""
    return torch.logsumexp(lp, dim=0) - math.log(lp.size(0))


# ---------------------------------------------------------------------------
# plain: the definitions, for reference and for the tests
# ---------------------------------------------------------------------------
def _plain_x(lp: Tensor) -> Tensor:
    log_m = _log_mean(lp)
    p, m = lp.exp(), log_m.exp()
    return ((p - m) * (lp - log_m)).sum(dim=-1).mean(dim=0)


def _plain_js(lp: Tensor) -> Tensor:
    log_m = _log_mean(lp)
    return (lp.exp() * (lp - log_m)).sum(dim=-1).mean(dim=0)


def _plain_sym_kl(lp: Tensor) -> Tensor:
    k = lp.size(0)
    if k == 1:
        return lp.new_zeros(lp.shape[1:-1])
    p = lp.exp()
    total = sum((p[i] * (lp[i] - lp[j])).sum(dim=-1) for i in range(k) for j in range(k) if i != j)
    return total / (k * (k - 1))


_PLAIN_ROWS: Dict[str, Callable[[Tensor], Tensor]] = {
    "x": _plain_x,
    "js": _plain_js,
    "sym_kl": _plain_sym_kl,
}


def divergence_rows(lprobs: Tensor, kind: str = "x") -> Tensor:
    """The divergence of every row, shape ``[N]``, from the definitions (autograd, no chunking)."""
    if kind not in _PLAIN_ROWS:
        raise ValueError(f"unknown divergence {kind!r}; choose one of {', '.join(_PLAIN_ROWS)}")
    return _PLAIN_ROWS[kind](lprobs.to(_compute_dtype(lprobs)))


def mse_rows(outputs: Tensor) -> Tensor:
    """(1/K) sum_i ||y_i - ȳ||² per row, for outputs of shape [K, N] or [K, N, D]."""
    y = outputs.to(_compute_dtype(outputs))
    if y.dim() == 2:
        y = y.unsqueeze(-1)
    return (y - y.mean(dim=0, keepdim=True)).pow(2).sum(dim=-1).mean(dim=0)


# ---------------------------------------------------------------------------
# lean: analytic gradient computed with the value, chunked over rows
# ---------------------------------------------------------------------------
def _lean_chunk(lp: Tensor, kind: str, need_grad: bool):
    """Per-row divergence of a chunk ``lp`` [K, n, V] and, if asked, d(sum of rows)/d lp."""
    k = lp.size(0)
    p = lp.exp()
    if kind == "js":
        weighted = (lp - _log_mean(lp)).mul_(p)  # p_i (l_i - log m)
        rows = weighted.sum(dim=-1).sum(dim=0) / k
        return rows, (weighted.div_(k) if need_grad else None)
    # x and sym_kl share the centred form; they differ by the factor 1/K vs 1/(K-1).
    scale = 1.0 / k if kind == "x" else 1.0 / (k - 1)
    centred = lp - lp.mean(dim=0)
    spread = p - p.mean(dim=0)  # p_i - m
    grad = torch.addcmul(spread, p, centred).mul_(scale) if need_grad else None  # (p_i (l_i - l̄) + p_i - m) / ...
    rows = spread.mul_(centred).sum(dim=-1).sum(dim=0) * scale
    return rows, grad


def _lean_sweep(lprobs: Tensor, pad_mask: Optional[Tensor], kind: str, need_grad: bool):
    """Sum of the per-row divergences and, if asked, its gradient, chunk by chunk."""
    k, n, v = lprobs.shape
    dtype = _compute_dtype(lprobs)
    grad = torch.empty_like(lprobs) if need_grad else None
    total = lprobs.new_zeros((), dtype=dtype)
    step = _chunk_rows(k, v)
    for start in range(0, n, step):
        end = min(n, start + step)
        rows, g = _lean_chunk(lprobs[:, start:end].to(dtype), kind, need_grad)
        if pad_mask is not None:
            rows = rows.masked_fill(pad_mask[start:end], 0.0)
            if need_grad:
                g.masked_fill_(pad_mask[start:end].view(1, -1, 1), 0.0)
        if need_grad:
            grad[:, start:end].copy_(g)
        total = total + rows.sum()
    return total, grad


class _LeanDivergence(torch.autograd.Function):
    """Value and gradient in one chunked sweep; the gradient is the one tensor kept for backward.

    Computing the gradient with the value avoids a second pass over ``[K, N, V]`` in the
    backward; the cost is one ``[K, N, V]`` buffer between forward and backward, the same
    buffer that the backward would otherwise allocate for its result.  The backward scales
    it in place; a second backward through the same graph (``retain_graph``) recomputes it.
    """

    @staticmethod
    def forward(ctx, lprobs: Tensor, pad_mask: Optional[Tensor], kind: str) -> Tensor:  # type: ignore[override]
        total, ctx.grad = _lean_sweep(lprobs, pad_mask, kind, need_grad=ctx.needs_input_grad[0])
        ctx.kind = kind
        ctx.save_for_backward(lprobs, pad_mask)  # no cost: log_softmax keeps lprobs anyway
        return total

    @staticmethod
    def backward(ctx, grad_output: Tensor):  # type: ignore[override]
        grad, ctx.grad = ctx.grad, None
        if grad is None:  # a second backward through the same graph
            lprobs, pad_mask = ctx.saved_tensors
            grad = _lean_sweep(lprobs, pad_mask, ctx.kind, need_grad=True)[1]
        return grad.mul_(grad_output.to(grad.dtype)), None, None


def _chunk_rows(k: int, v: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(1, k * v))


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------
def intra_distillation_loss(
    lprobs: Tensor,
    kind: str = "x",
    pad_mask: Optional[Tensor] = None,
    implementation: str = "lean",
) -> Tensor:
    """Divergence between the K passes, summed over the rows not masked by ``pad_mask``.

    Args:
        lprobs: ``[K, N, V]`` log-probabilities (for ``mse``: ``[K, N]`` or ``[K, N, D]`` outputs).
        kind: one of ``x``, ``js``, ``sym_kl``, ``mse``.
        pad_mask: optional ``[N]`` bool tensor, True for rows to ignore (padding).
        implementation: ``lean`` (default, memory-saving) or ``plain`` (the definitions).

    Returns:
        A scalar tensor (float32, or float64 for float64 input).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown divergence {kind!r}; choose one of {', '.join(KINDS)}")
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {implementation!r}; choose one of {', '.join(IMPLEMENTATIONS)}")
    if lprobs.dim() != 3 and not (kind == "mse" and lprobs.dim() == 2):
        raise ValueError(f"lprobs must have shape [K, N, V], got {tuple(lprobs.shape)}")
    if pad_mask is not None and (pad_mask.dim() != 1 or pad_mask.size(0) != lprobs.size(1)):
        raise ValueError(f"pad_mask must have shape [N={lprobs.size(1)}], got {tuple(pad_mask.shape)}")
    if pad_mask is not None:
        pad_mask = pad_mask.bool()

    if kind == "mse":
        rows = mse_rows(lprobs)
    elif lprobs.size(0) == 1:  # one pass: nothing to compare
        return (lprobs.sum() * 0).to(_compute_dtype(lprobs))
    elif implementation == "lean":
        return _LeanDivergence.apply(lprobs, pad_mask, kind)
    else:
        rows = divergence_rows(lprobs, kind)
    if pad_mask is not None:
        rows = rows.masked_fill(pad_mask, 0.0)
    return rows.sum()
