"""The numbers behind the analysis commands, in plain torch/numpy (no fairseq, no plotting).

* :class:`SensitivityAccumulator`: per-parameter sensitivity ``|θ ⊙ ∇θ L|`` summed over
  batches into one flat float32 buffer (one extra copy of the parameters, whatever the
  number of batches).
* :func:`summarize`: count, mean, std (the degree of balance), quantiles and the share of the
  total held by the top 20%, computed in chunks so that no full-size temporary is made.
* :func:`log_histogram`: the distribution on log-spaced bins, as the paper plots it.
* :func:`module_statistics`: the same summary per module.
* :func:`pruning_thresholds` / :func:`prune_mask`: the global ranking used by ``prune``.
* :func:`parse_fractions`: ``0,0.1,...,0.9`` and friends.
* :func:`scored_parameters`: the parameters a model's analysis scores.
"""

import math
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

ArrayLike = Union[np.ndarray, Tensor]

QUANTILES: Tuple[float, ...] = (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
TOP_FRACTION = 0.2
# Elements per chunk in the chunked reductions (32 MiB of float64 temporaries).
CHUNK = 1 << 22

# Parameter names of the token embeddings, learned positions and (untied) output projection:
# fairseq's, then Transformers' BERT-style encoders' (word, position and token-type embeddings).
EMBEDDING_PATTERN = re.compile(
    r"(^|\.)(embed_tokens|embed_positions|output_projection"
    r"|word_embeddings|position_embeddings|token_type_embeddings)(\.|$)"
)

MODES = ("batch", "subset")


def is_embedding(name: str) -> bool:
    """True for embedding-like parameters (``--exclude-embeddings`` leaves them out)."""
    return bool(EMBEDDING_PATTERN.search(name))


def scored_parameters(model: torch.nn.Module, exclude_embeddings: bool) -> List[Tuple[str, torch.nn.Parameter]]:
    """The trainable parameters that are scored (and may be pruned), by name."""
    return [
        (name, p)
        for name, p in model.named_parameters()
        if p.requires_grad and not (exclude_embeddings and is_embedding(name))
    ]


def module_name(param_name: str) -> str:
    """The module that owns a parameter: ``encoder.layers.0.fc1.weight`` -> ``encoder.layers.0.fc1``."""
    return param_name.rsplit(".", 1)[0] if "." in param_name else param_name


# ---------------------------------------------------------------------------
# accumulation
# ---------------------------------------------------------------------------
class SensitivityAccumulator:
    """Sum ``|θ ⊙ g|`` (mode ``batch``) or ``g`` (mode ``subset``) over batches.

    ``named_parameters`` are the parameters to score (each once, even if shared).  After
    every backward, call :meth:`add` with the number of tokens the batch's summed loss
    covers; :meth:`scores` then gives, per parameter,

    * ``batch``  (default): ``Σ_b |θ ⊙ ∇θ L_b| / Σ_b n_b``, the token-weighted mean of the
      per-batch sensitivities (no cancellation between batches);
    * ``subset``: ``|θ ⊙ Σ_b ∇θ L_b| / Σ_b n_b``, the sensitivity of the loss of the whole
      subset, the literal first-order change of the subset's per-token loss.

    with ``L_b`` the loss *summed* over the ``n_b`` tokens of batch ``b``.  Both coincide for
    one batch.  Memory: one float32 buffer the size of the scored parameters.
    """

    def __init__(self, named_parameters: Iterable[Tuple[str, Tensor]], mode: str = "batch"):
        if mode not in MODES:
            raise ValueError(f"unknown sensitivity mode {mode!r}; choose one of {', '.join(MODES)}")
        self.mode = mode
        self.params: List[Tuple[str, Tensor]] = []
        seen = set()
        for name, p in named_parameters:
            if id(p) in seen:  # tied weights are one parameter
                continue
            seen.add(id(p))
            self.params.append((name, p))
        if not self.params:
            raise ValueError("no parameters to score")
        total = sum(p.numel() for _, p in self.params)
        device = self.params[0][1].device
        self.buffer = torch.zeros(total, dtype=torch.float32, device=device)
        self.views: Dict[str, Tensor] = {}
        offset = 0
        for name, p in self.params:
            self.views[name] = self.buffer[offset : offset + p.numel()].view(p.shape)
            offset += p.numel()
        self.tokens = 0
        self.batches = 0

    def add(self, num_tokens: int) -> None:
        """Fold in the gradients now in ``p.grad`` (of a loss summed over ``num_tokens`` tokens)."""
        if num_tokens <= 0:
            raise ValueError(f"num_tokens must be > 0 (got {num_tokens})")
        with torch.no_grad():
            for name, p in self.params:
                if p.grad is None:  # unused in this batch (e.g. a layer skipped): no contribution
                    continue
                view = self.views[name]
                if self.mode == "batch":
                    view.add_((p.detach().float() * p.grad.float()).abs_())
                else:
                    view.add_(p.grad.float())
        self.tokens += int(num_tokens)
        self.batches += 1

    def scores(self) -> Dict[str, Tensor]:
        """Per-parameter sensitivities (views into :attr:`buffer`, finalised in place, once)."""
        if self.batches == 0:
            raise ValueError("no batch was accumulated")
        if getattr(self, "_final", False):
            return self.views
        with torch.no_grad():
            if self.mode == "subset":
                for name, p in self.params:
                    self.views[name].mul_(p.detach().float()).abs_()
            self.buffer.div_(self.tokens)
        self._final = True
        return self.views


# ---------------------------------------------------------------------------
# summary statistics
# ---------------------------------------------------------------------------
def _as_numpy(values: ArrayLike) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu()
        if values.dtype not in (torch.float32, torch.float64):
            values = values.float()
        return values.reshape(-1).numpy()
    return np.asarray(values).reshape(-1)


def _chunks(arr: np.ndarray) -> Iterable[np.ndarray]:
    for start in range(0, arr.size, CHUNK):
        yield arr[start : start + CHUNK]


def _moments(arr: np.ndarray) -> Tuple[float, float, float]:
    """Total, mean and population std (two passes, float64, chunked)."""
    total = sum(float(c.sum(dtype=np.float64)) for c in _chunks(arr))
    mean = total / arr.size
    sq = sum(float(np.square(c.astype(np.float64) - mean).sum()) for c in _chunks(arr))
    return total, mean, math.sqrt(sq / arr.size)


def _sorted_quantile(sorted_arr: np.ndarray, q: float) -> float:
    """numpy's default ('linear') quantile of an already sorted array."""
    pos = q * (sorted_arr.size - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, sorted_arr.size - 1)
    frac = pos - lo
    return float(sorted_arr[lo]) + (float(sorted_arr[hi]) - float(sorted_arr[lo])) * frac


def top_count(n: int, fraction: float = TOP_FRACTION) -> int:
    """How many values "the top ``fraction``" of ``n`` values is: ceil, at least 1."""
    return max(1, math.ceil(fraction * n - 1e-9))


def summarize(
    values: ArrayLike,
    quantiles: Sequence[float] = QUANTILES,
    top_fraction: float = TOP_FRACTION,
    sort_in_place: bool = False,
) -> Dict[str, object]:
    """count, mean, std, min/max, quantiles, and the share of the total held by the top values.

    ``std`` is the population standard deviation (numpy's default), the paper's degree of
    contribution balance.  The quantiles need one sorted copy of the values; with
    ``sort_in_place=True`` the input itself is sorted instead (no copy; the caller's order
    is lost).
    """
    arr = _as_numpy(values)
    if arr.size == 0:
        raise ValueError("cannot summarise an empty set of values")
    total, mean, std = _moments(arr)
    if sort_in_place:
        arr.sort()
        sorted_arr = arr
    else:
        sorted_arr = np.sort(arr)
    k = top_count(arr.size, top_fraction)
    top_sum = float(sorted_arr[arr.size - k :].sum(dtype=np.float64))
    return {
        "count": int(arr.size),
        "sum": total,
        "mean": mean,
        "std": std,
        "min": float(sorted_arr[0]),
        "max": float(sorted_arr[-1]),
        "zeros": int(np.searchsorted(sorted_arr, 0.0, side="right") - np.searchsorted(sorted_arr, 0.0, side="left")),
        "quantiles": {f"{q:g}": _sorted_quantile(sorted_arr, q) for q in quantiles},
        "top_fraction": top_fraction,
        "top_share": top_sum / total if total > 0 else float("nan"),
    }


def log_histogram(values: ArrayLike, bins: int = 60) -> Dict[str, object]:
    """Counts on ``bins`` log10-spaced bins from the smallest to the largest positive value.

    Zeros (and negatives, which sensitivities never are) cannot sit on a log axis; they
    are counted apart in ``zeros``.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1 (got {bins})")
    arr = _as_numpy(values)
    lo, hi = math.inf, -math.inf
    zeros = 0
    for c in _chunks(arr):
        pos = c[c > 0]
        zeros += int(c.size - pos.size)
        if pos.size:
            lo, hi = min(lo, float(pos.min())), max(hi, float(pos.max()))
    if not math.isfinite(lo):
        return {"edges": [], "counts": [], "zeros": zeros, "count": int(arr.size)}
    if hi <= lo:  # one distinct positive value: one bin around it
        hi = lo * 10**0.05
        lo = lo / 10**0.05
    edges = np.logspace(math.log10(lo), math.log10(hi), bins + 1)
    edges[0], edges[-1] = min(edges[0], lo), max(edges[-1], hi)  # rounding of logspace
    counts = np.zeros(bins, dtype=np.int64)
    for c in _chunks(arr):
        counts += np.histogram(c[c > 0], bins=edges)[0]
    return {"edges": edges.tolist(), "counts": counts.tolist(), "zeros": zeros, "count": int(arr.size)}


def module_statistics(scores: Dict[str, Tensor], grand_total: Optional[float] = None) -> List[Dict[str, object]]:
    """Per-module count, mean, std, max and share of the grand total, in parameter order."""
    groups: Dict[str, List[Tensor]] = {}
    for name, s in scores.items():
        groups.setdefault(module_name(name), []).append(s.reshape(-1))
    if grand_total is None:
        grand_total = sum(float(s.double().sum()) for s in scores.values())
    rows = []
    for mod, parts in groups.items():
        arr = torch.cat(parts).double() if len(parts) > 1 else parts[0].double()
        total = float(arr.sum())
        rows.append(
            {
                "module": mod,
                "count": int(arr.numel()),
                "mean": float(arr.mean()),
                "std": float(arr.std(unbiased=False)) if arr.numel() > 0 else 0.0,
                "max": float(arr.max()),
                "share": total / grand_total if grand_total > 0 else float("nan"),
                "embedding": is_embedding(mod + ".weight"),
            }
        )
    return rows


# ---------------------------------------------------------------------------
# pruning
# ---------------------------------------------------------------------------
def parse_fractions(text: str) -> List[float]:
    """``"0,0.1,...,0.9"`` -> [0, 0.1, ..., 0.9]; plain lists too.  Each must lie in [0, 1].

    ``a,b,...,c`` continues the step ``b - a`` up to ``c``.  The result is sorted and
    without duplicates.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("no fraction given")
    values: List[float] = []
    i = 0
    while i < len(parts):
        if parts[i] == "...":
            if len(values) < 2 or i + 1 >= len(parts):
                raise ValueError(f"'...' needs two values before it and one after: {text!r}")
            step = values[-1] - values[-2]
            end = _fraction(parts[i + 1], text)
            if step <= 0:
                raise ValueError(f"'...' needs increasing values before it: {text!r}")
            base = values[-1]
            n = int(math.floor((end - base) / step + 1e-9))
            values.extend([round(base + step * j, 10) for j in range(1, n + 1)])
            if not values or abs(values[-1] - end) > 1e-9:
                values.append(end)
            i += 2
            continue
        values.append(_fraction(parts[i], text))
        i += 1
    return sorted(set(values))


def _fraction(token: str, text: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"{token!r} is not a number (in {text!r})") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{token} is outside [0, 1]: a fraction of the parameters")
    return value


def pruning_thresholds(sorted_scores: np.ndarray, fractions: Sequence[float]) -> List[Tuple[int, float]]:
    """For each fraction, (k, t): prune k = round(fraction · n) values, the k-th smallest being t."""
    n = sorted_scores.size
    out = []
    for f in fractions:
        k = int(round(f * n))
        out.append((k, float(sorted_scores[k - 1]) if k > 0 else -math.inf))
    return out


def prune_mask(scores: Tensor, threshold: float, ties_to_prune: int) -> Tuple[Tensor, int]:
    """Mask of ``scores`` < ``threshold``, plus at most ``ties_to_prune`` entries equal to it.

    Returns the mask and how many ties it took, so that the caller can spread an exact
    global count k over several tensors (ties are taken in parameter order).
    """
    flat = scores.reshape(-1)
    mask = flat < threshold
    taken = 0
    if ties_to_prune > 0:
        ties = torch.nonzero(flat == threshold, as_tuple=False).view(-1)[:ties_to_prune]
        mask[ties] = True
        taken = int(ties.numel())
    return mask.view(scores.shape), taken


def global_prune_masks(scores: Dict[str, Tensor], fraction: float) -> Dict[str, Tensor]:
    """Masks of the ``round(fraction · n)`` least-sensitive entries over all tensors together."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction {fraction} is outside [0, 1]")
    flat = torch.cat([s.reshape(-1).float().cpu() for s in scores.values()]).numpy()
    flat.sort()
    ((k, threshold),) = pruning_thresholds(flat, [fraction])
    below = int(np.searchsorted(flat, threshold, side="left")) if k > 0 else 0
    ties_left = k - below
    masks = {}
    for name, s in scores.items():
        m, taken = prune_mask(s, threshold, ties_left)
        ties_left -= taken
        masks[name] = m
    return masks
