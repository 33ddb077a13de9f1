"""The paper's training settings as fairseq-train flags, one place for the scripts and the configs.

    python -m fairseq_intradistill.data.recipes flags --recipe iwslt14 --method intra --gpus 2
    python -m fairseq_intradistill.data.recipes batch --recipe wmt17 --gpus 4

``flags`` prints one fairseq-train argument per line (``scripts/*/train.sh`` read them with
``mapfile``); the method's ``--task``/``--criterion`` come from ``scripts/common/train.sh``.
The effective batch (target tokens per update, summed over GPUs and ``--update-freq``) is
the paper's whatever the number of GPUs: :func:`batch_plan`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple


@dataclass(frozen=True)
class Recipe:
    arch: str
    max_update: int
    max_tokens: int  # per GPU and micro-batch, as in the paper's command
    update_freq: int  # of the paper's command, on ``paper_gpus`` GPUs
    paper_gpus: int
    common: Tuple[str, ...]
    intra: Tuple[str, ...]

    @property
    def effective_tokens(self) -> int:
        return self.max_tokens * self.update_freq * self.paper_gpus


_OPTIMISER = ("--optimizer", "adam", "--adam-betas", "(0.9,0.98)",
              "--lr-scheduler", "inverse_sqrt", "--lr", "5e-4")

RECIPES: Dict[str, Recipe] = {
    # METHOD.md: transformer_iwslt_de_en, Adam (0.9, 0.98) eps 1e-6, lr 5e-4, inverse_sqrt,
    # warmup 8000, dropout 0.3, attention dropout 0.1, weight decay 1e-4, label smoothing 0.1,
    # 4096 tokens on one GPU, 50k updates, seed 1, best checkpoint by validation loss.
    "iwslt14": Recipe(
        arch="transformer_iwslt_de_en",
        max_update=50000,
        max_tokens=4096,
        update_freq=1,
        paper_gpus=1,
        common=_OPTIMISER + (
            "--adam-eps", "1e-6", "--warmup-updates", "8000",
            "--dropout", "0.3", "--attention-dropout", "0.1", "--weight-decay", "1e-4",
            "--label-smoothing", "0.1", "--seed", "1",
            "--best-checkpoint-metric", "loss", "--no-epoch-checkpoints", "--log-interval", "100",
        ),
        intra=("--num-passes", "3", "--alpha", "5", "--adaptive-alpha",
               "--alpha-p", "5", "--alpha-q", "10", "--divergence", "x"),
    ),
    # METHOD.md, the authors' development command: transformer_vaswani_wmt_en_de_big, lr 5e-4,
    # warmup 4000, dropout 0.3, attention dropout 0.1, weight decay 1e-4, 4096 tokens x
    # update-freq 16, 80k updates, alpha 5, K 3, p 10, q 16.  Shared embeddings (joint
    # SentencePiece).  Not in the command, so fairseq's defaults: Adam eps 1e-8; label
    # smoothing 0.1 as in every fairseq Transformer recipe.  The command gives no GPU
    # count: we read it as one GPU, i.e. 65,536 target tokens per update.
    "wmt17": Recipe(
        arch="transformer_vaswani_wmt_en_de_big",
        max_update=80000,
        max_tokens=4096,
        update_freq=16,
        paper_gpus=1,
        common=_OPTIMISER + (
            "--share-all-embeddings", "--warmup-updates", "4000",
            "--dropout", "0.3", "--attention-dropout", "0.1", "--weight-decay", "1e-4",
            "--label-smoothing", "0.1", "--seed", "1",
            "--best-checkpoint-metric", "loss", "--no-epoch-checkpoints", "--log-interval", "100",
            "--save-interval-updates", "5000", "--keep-interval-updates", "1",
        ),
        intra=("--num-passes", "3", "--alpha", "5", "--adaptive-alpha",
               "--alpha-p", "10", "--alpha-q", "16", "--divergence", "x"),
    ),
}

METHODS = ("baseline", "intra")
ALPHA_MODES = ("fixed", "adaptive")


def batch_plan(target_tokens: int, max_tokens: int, gpus: int) -> Tuple[int, int]:
    """(max tokens per GPU, update frequency) giving ``target_tokens`` per update on ``gpus`` GPUs.

    Raises ``--update-freq`` until ``max_tokens`` per GPU covers the target, then spreads the
    target evenly (e.g. IWSLT on 2 GPUs: 2 × 2048 tokens; WMT on 3 GPUs: 3 × 3640 × 6).
    A CPU run (0 GPUs) counts as one device.
    """
    if target_tokens < 1 or max_tokens < 1:
        raise ValueError("token counts must be positive")
    devices = max(1, gpus)
    update_freq = math.ceil(target_tokens / (devices * max_tokens))
    # Spread the target evenly, so that e.g. 3 GPUs get 65,520 tokens rather than 73,728.
    return max(1, target_tokens // (devices * update_freq)), update_freq


def train_flags(
    recipe: str,
    method: str,
    gpus: int,
    arch: Optional[str] = None,
    max_update: Optional[int] = None,
    max_tokens: Optional[int] = None,
    num_passes: Optional[int] = None,
    alpha_mode: str = "adaptive",
) -> List[str]:
    """The fairseq-train flags of ``recipe`` for ``method`` on ``gpus`` GPUs (0 = CPU).

    ``max_tokens`` overrides the per-GPU micro-batch (the update frequency follows, so the
    effective batch stays the paper's).  For ``intra``, ``num_passes`` overrides K and
    ``alpha_mode`` "fixed" drops ``--adaptive-alpha`` (a constant α from the first update;
    fairseq cannot switch a store-true flag off later on the command line).
    """
    if alpha_mode not in ALPHA_MODES:
        raise ValueError(f"alpha mode must be fixed or adaptive (got {alpha_mode!r})")
    if num_passes is not None and num_passes < 1:
        raise ValueError(f"the number of passes must be >= 1 (got {num_passes})")
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r} (choose from {', '.join(RECIPES)})")
    if method not in METHODS:
        raise ValueError(f"--method must be baseline or intra (got {method!r})")
    r = RECIPES[recipe]
    per_gpu, update_freq = batch_plan(r.effective_tokens, max_tokens or r.max_tokens, gpus)
    flags = ["--arch", arch or r.arch, *r.common,
             "--max-tokens", str(per_gpu), "--update-freq", str(update_freq),
             "--max-update", str(max_update if max_update is not None else r.max_update)]
    if method == "intra":
        intra = list(r.intra)
        if num_passes is not None:
            intra[intra.index("--num-passes") + 1] = str(num_passes)
        if alpha_mode == "fixed":
            intra.remove("--adaptive-alpha")
        flags += intra
    return flags


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("flags", help="fairseq-train flags, one per line")
    p.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--gpus", type=int, required=True)
    p.add_argument("--arch")
    p.add_argument("--max-update", type=int)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--num-passes", type=int, help="K (intra only; default: the recipe's)")
    p.add_argument("--alpha-mode", choices=ALPHA_MODES, default="adaptive", help="intra only")
    p = sub.add_parser("batch", help="print the batch plan for this many GPUs")
    p.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    p.add_argument("--gpus", type=int, required=True)
    args = parser.parse_args(argv)
    if args.gpus < 0:
        parser.error(f"--gpus must be >= 0 (got {args.gpus})")
    if args.command == "flags":
        if args.max_update is not None and args.max_update < 1:
            parser.error(f"--max-update must be a positive integer (got {args.max_update})")
        if args.max_tokens is not None and args.max_tokens < 1:
            parser.error(f"--max-tokens must be a positive integer (got {args.max_tokens})")
        try:
            flags = train_flags(args.recipe, args.method, args.gpus, args.arch, args.max_update,
                                args.max_tokens, args.num_passes, args.alpha_mode)
        except ValueError as e:
            parser.error(str(e))
        print("\n".join(flags))
    else:
        r = RECIPES[args.recipe]
        per_gpu, update_freq = batch_plan(r.effective_tokens, r.max_tokens, args.gpus)
        print(f"{max(1, args.gpus)} device(s) x {per_gpu} tokens x update-freq {update_freq} "
              f"(paper: {r.effective_tokens} tokens per update)")


if __name__ == "__main__":
    main()
