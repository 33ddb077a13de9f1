"""``length DATA --path CKPT [--path CKPT ...]``: where a model's hypotheses end, read off the references.

Beam search ends a hypothesis when end-of-sentence (EOS) wins, so a model that ends too
early either puts probability on EOS before the reference ends, or spreads its probability
so thinly that a short hypothesis scores better than a long one.  With the references fed
to the decoder (teacher forcing, dropout off, no label smoothing) this command measures,
per target position, by its distance d to the reference's end (d = 0 is the reference's
EOS):

  entropy        of the output distribution, in bits
  P(EOS)         mean probability of EOS, by distance (1, 2, 3, 4, 5+ tokens early, and at d=0)
  EOS argmax     how often EOS is the most probable token before the end (a greedy decoder
                 would stop there) and at the end (it would stop correctly)
  nll            negative log-likelihood of the reference tokens (bits), for scale

With ``--passes K`` (K >= 2) it also runs K forward passes in training mode (dropout on, as
intra-distillation trains) and reports the X-divergence between them at the EOS positions
and at the others: the term's pull on EOS compared with its pull elsewhere.

Writes ``--out/length.json`` (one record per model) and prints a table.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from torch import Tensor

from fairseq_intradistill.divergence import divergence_rows

# Distances to the reference's end that get their own P(EOS) column; larger ones share "5+".
DISTANCES = (0, 1, 2, 3, 4, 5)
LOG2 = 0.6931471805599453


def distance_to_end(target: Tensor, pad: int) -> Tensor:
    """For a right-padded ``[B, T]`` target: tokens left before the end (0 at the last real token).

    Padding positions get -1.  fairseq's targets end with EOS, so d = 0 is EOS.
    """
    mask = target.ne(pad)
    lengths = mask.sum(dim=1, keepdim=True)
    positions = torch.arange(target.size(1), device=target.device).unsqueeze(0)
    return (lengths - 1 - positions).masked_fill(~mask, -1)


@dataclass
class LengthStatistics:
    """Sums over target positions, split by the distance to the reference's end."""

    sentences: int = 0
    tokens: int = 0
    nll_bits: float = 0.0
    entropy_end: float = 0.0  # sums of entropy (bits) at d = 0 and d > 0
    entropy_before: float = 0.0
    eos_prob: Dict[int, float] = field(default_factory=lambda: {d: 0.0 for d in DISTANCES})
    positions: Dict[int, int] = field(default_factory=lambda: {d: 0 for d in DISTANCES})
    eos_argmax_before: int = 0
    eos_argmax_end: int = 0
    divergence_end: float = 0.0  # X-divergence sums (bits) at d = 0 and d > 0, with --passes
    divergence_before: float = 0.0
    divergence_positions_end: int = 0
    divergence_positions_before: int = 0

    def add(self, lprobs: Tensor, target: Tensor, eos: int, pad: int) -> None:
        """Accumulate one batch: ``lprobs`` [B, T, V] log-probabilities, ``target`` [B, T]."""
        lprobs = lprobs.float()
        dist = distance_to_end(target, pad)
        real = dist.ge(0)
        end = dist.eq(0)
        before = dist.gt(0)
        probs = lprobs.exp()
        entropy = -(probs * lprobs).sum(dim=-1) / LOG2
        nll = -lprobs.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1) / LOG2
        p_eos = probs[..., eos]
        eos_wins = lprobs.argmax(dim=-1).eq(eos)
        self.sentences += int(target.size(0))
        self.tokens += int(real.sum())
        self.nll_bits += float(nll[real].sum())
        self.entropy_end += float(entropy[end].sum())
        self.entropy_before += float(entropy[before].sum())
        for d in DISTANCES:
            at = dist.ge(d) if d == DISTANCES[-1] else dist.eq(d)
            self.eos_prob[d] += float(p_eos[at].sum())
            self.positions[d] += int(at.sum())
        self.eos_argmax_before += int(eos_wins[before].sum())
        self.eos_argmax_end += int(eos_wins[end].sum())

    def add_divergence(self, passes: Tensor, target: Tensor, pad: int) -> None:
        """Accumulate the X-divergence between ``passes`` [K, B, T, V] log-probabilities."""
        k, b, t, v = passes.shape
        rows = divergence_rows(passes.reshape(k, b * t, v), "x").view(b, t) / LOG2
        dist = distance_to_end(target, pad)
        self.divergence_end += float(rows[dist.eq(0)].sum())
        self.divergence_before += float(rows[dist.gt(0)].sum())
        self.divergence_positions_end += int(dist.eq(0).sum())
        self.divergence_positions_before += int(dist.gt(0).sum())

    def summary(self) -> Dict[str, Any]:
        """Means per position (the JSON record and the table's row)."""

        def mean(total: float, count: int) -> Optional[float]:
            return total / count if count else None

        before = self.tokens - self.sentences
        out: Dict[str, Any] = {
            "sentences": self.sentences,
            "tokens": self.tokens,
            "nll_bits": mean(self.nll_bits, self.tokens),
            "entropy_before_bits": mean(self.entropy_before, before),
            "entropy_end_bits": mean(self.entropy_end, self.sentences),
            "eos_prob_by_distance": {
                (f"{d}+" if d == DISTANCES[-1] else str(d)): mean(self.eos_prob[d], self.positions[d])
                for d in DISTANCES
            },
            "eos_argmax_before": mean(self.eos_argmax_before, before),
            "eos_argmax_end": mean(self.eos_argmax_end, self.sentences),
        }
        if self.divergence_positions_end:
            out["divergence_end_bits"] = mean(self.divergence_end, self.divergence_positions_end)
            out["divergence_before_bits"] = mean(self.divergence_before, self.divergence_positions_before)
        return out


def measure(model: Any, task: Any, subset: str, max_tokens: int, passes: int, seed: int) -> LengthStatistics:
    """Teacher-forced statistics of ``model`` on ``subset`` (and the K-pass divergence with ``passes`` > 1)."""
    from fairseq_intradistill.analysis.fairseq_io import batches

    stats = LengthStatistics()
    eos, pad = task.target_dictionary.eos(), task.target_dictionary.pad()
    torch.manual_seed(seed)  # the dropout masks of --passes
    with torch.no_grad():
        for sample in batches(task, model, subset, max_tokens, shuffle=False):
            model.eval()
            out = model(**sample["net_input"])
            stats.add(model.get_normalized_probs(out, log_probs=True), sample["target"], eos, pad)
            if passes > 1:
                model.train()  # dropout on: the passes intra-distillation compares
                lps = [model.get_normalized_probs(model(**sample["net_input"]), log_probs=True) for _ in range(passes)]
                stats.add_divergence(torch.stack(lps), sample["target"], pad)
    model.eval()
    return stats


# (heading, width, decimals); the first column is the model's label.
COLUMNS = (
    ("nll", 6, 3),
    ("H<end", 6, 3),
    ("H@end", 6, 3),
    ("P(eos)@5+", 9, 5),
    ("@4", 7, 5),
    ("@3", 7, 5),
    ("@2", 7, 5),
    ("@1", 7, 5),
    ("@end", 7, 4),
    ("argmax<end", 10, 5),
    ("argmax@end", 10, 4),
)


def _row(statistics: Dict[str, Any]) -> List[float]:
    p = statistics["eos_prob_by_distance"]
    return [
        statistics["nll_bits"],
        statistics["entropy_before_bits"],
        statistics["entropy_end_bits"],
        p["5+"],
        p["4"],
        p["3"],
        p["2"],
        p["1"],
        p["0"],
        statistics["eos_argmax_before"],
        statistics["eos_argmax_end"],
    ]


def table(records: List[Dict[str, Any]]) -> str:
    """The printed table: one row per model."""
    width = max([len("model")] + [len(r["label"]) for r in records])
    head = f"{'model':<{width}} " + " ".join(f"{name:>{w}}" for name, w, _ in COLUMNS)
    lines = [head, "-" * len(head)]
    for r in records:
        cells = " ".join(f"{v:>{w}.{d}f}" for (_, w, d), v in zip(COLUMNS, _row(r["statistics"])))
        lines.append(f"{r['label']:<{width}} {cells}")
    with_divergence = [r for r in records if "divergence_end_bits" in r["statistics"]]
    if with_divergence:
        lines += ["", f"{'model':<{width}} {'X-div<end':>10} {'X-div@end':>10}  (bits per position, K dropout passes)"]
        for r in with_divergence:
            s = r["statistics"]
            lines.append(
                f"{r['label']:<{width}} {s['divergence_before_bits']:>10.5f} {s['divergence_end_bits']:>10.5f}"
            )
    lines.append(
        "nll, H (entropy): bits per position; P(eos)@d: mean probability of EOS d tokens before the reference "
        "ends (@end: at its EOS); argmax: share of positions where EOS is the most probable token"
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="binarised data folder (fairseq-preprocess output)")
    parser.add_argument(
        "--path", type=Path, action="append", required=True, help="a fairseq checkpoint; repeat for several models"
    )
    parser.add_argument("--labels", help="comma-separated names of the models (default: the checkpoints' paths)")
    parser.add_argument("--subset", default="valid", help="subset whose references are fed (default: valid)")
    parser.add_argument("--max-tokens", type=int, default=4096, help="tokens per batch (default: 4096)")
    parser.add_argument(
        "--passes", type=int, default=1, help="K >= 2: also the X-divergence between K dropout passes (default: 1)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the dropout masks with --passes (default: 1)")
    parser.add_argument("--out", type=Path, help="folder for length.json (default: print only)")


def run(args: argparse.Namespace) -> None:
    from fairseq_intradistill.analysis import AnalysisError
    from fairseq_intradistill.analysis.fairseq_io import check_inputs, load

    labels = args.labels.split(",") if args.labels else [str(p) for p in args.path]
    if len(labels) != len(args.path):
        raise AnalysisError(f"--labels names {len(labels)} models but --path gives {len(args.path)}")
    if args.max_tokens < 1:
        raise AnalysisError(f"--max-tokens must be >= 1 (got {args.max_tokens})")
    if args.passes < 1:
        raise AnalysisError(f"--passes must be >= 1 (got {args.passes})")
    for path in args.path:
        check_inputs(args.data, path)
    records = []
    for label, path in zip(labels, args.path):
        model, task, _ = load(args.data, path, args.subset, torch.device("cpu"))
        stats = measure(model, task, args.subset, args.max_tokens, args.passes, args.seed)
        records.append({"label": label, "path": str(path), "subset": args.subset, "statistics": stats.summary()})
        records[-1]["raw"] = asdict(stats)
    print(table(records))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "length.json").write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out / 'length.json'}")
