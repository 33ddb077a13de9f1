"""Every recipe, stated once, and the one command line that trains and evaluates with them.

    python -m fairseq_intradistill.recipes train iwslt14 --lang de --method intra --dry-run
    python -m fairseq_intradistill.recipes train wmt17 --method intra [FAIRSEQ-TRAIN OPTIONS...]
    python -m fairseq_intradistill.recipes train custom --data DIR --method intra --save-dir DIR [--recipe NAME]
    python -m fairseq_intradistill.recipes evaluate iwslt14 --lang de --checkpoint CKPT
    python -m fairseq_intradistill.recipes run-all|ablate|self-distill ... [--dry-run] [-- TRAIN OPTIONS...]
    python -m fairseq_intradistill.recipes flags --recipe iwslt14 --method intra --gpus 2
    python -m fairseq_intradistill.recipes batch --recipe wmt17 --gpus 4
    python -m fairseq_intradistill.recipes get --recipe iwslt14-small vocab_size

``train`` and ``evaluate`` are what ``scripts/{iwslt14,wmt17,common}/{train,evaluate}.sh`` run
(they pass their options through; :mod:`fairseq_intradistill.launch` does the work): the
fairseq-train command is the method's task and criterion (:data:`METHOD_FLAGS`), the recipe's
training settings, its batch plan and, for ``intra``, its intra-distillation settings, then the
user's fairseq options, so that those override the recipe's; ``--dry-run`` prints it.
``run-all``, ``ablate`` and ``self-distill`` are ``scripts/iwslt14/{run_all,ablate,self_distill}.sh``
(:mod:`fairseq_intradistill.pipelines`): several of those trainings and evaluations in a row.
``flags`` prints the recipe's part, one argument per line; without ``--recipe`` only the
method's, with the paper's IWSLT'14 intra-distillation settings (:data:`DEFAULT_INTRA`, from
:data:`fairseq_intradistill.schedule.PAPER_SETTINGS`) for ``intra``.  The effective batch (target
tokens per update, summed over GPUs and ``--update-freq``) is the recipe's whatever the number
of GPUs: :func:`batch_plan`.  ``get`` prints one field of a recipe (for the bash scripts: the
quickstart's vocabulary size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Dict, List, Optional, Sequence, Tuple

from fairseq_intradistill.schedule import PAPER_SETTINGS, IntraSettings


@dataclass(frozen=True)
class Recipe:
    description: str
    arch: str
    max_update: int
    max_tokens: int  # per GPU and micro-batch, as in the paper's command
    update_freq: int  # of the paper's command, on ``paper_gpus`` GPUs
    paper_gpus: int
    common: Tuple[str, ...]
    intra: Tuple[str, ...]
    vocab_size: int  # joint SentencePiece pieces (the prepare scripts' default)
    beam: int  # decoding (the evaluate scripts' defaults)
    lenpen: float
    benchmark: Optional[str]  # the paper's table this recipe compares with (results.py), if any

    @property
    def effective_tokens(self) -> int:
        return self.max_tokens * self.update_freq * self.paper_gpus


# The task and criterion of each method; a recipe adds its own intra-distillation settings.
METHOD_FLAGS: Dict[str, Tuple[str, ...]] = {
    "baseline": ("--task", "translation", "--criterion", "label_smoothed_cross_entropy"),
    "intra": ("--task", "translation_intra_distillation", "--criterion", "intra_distillation"),
    # The case study's students (scripts/iwslt14/self_distill.sh adds the teacher's flags).
    "self_distillation": ("--task", "translation", "--criterion", "self_distillation"),
}
ALPHA_MODES = ("fixed", "adaptive")
# --preset of the IWSLT'14 scripts (prepare, train, evaluate) -> recipe.
IWSLT_PRESETS: Dict[str, str] = {"paper": "iwslt14", "small": "iwslt14-small"}


def _flags(text: str) -> Tuple[str, ...]:
    """fairseq-train flags written as one string (values contain no spaces)."""
    return tuple(text.split())


def _small_transformer(layers: int, dim: int, ffn: int, heads: int) -> Tuple[str, ...]:
    """The size flags of fairseq's plain ``transformer`` with the same encoder and decoder."""
    return _flags(
        f"--encoder-layers {layers} --decoder-layers {layers} --encoder-embed-dim {dim} --decoder-embed-dim {dim} "
        f"--encoder-ffn-embed-dim {ffn} --decoder-ffn-embed-dim {ffn} "
        f"--encoder-attention-heads {heads} --decoder-attention-heads {heads}"
    )


def intra_flags(settings: IntraSettings) -> Tuple[str, ...]:
    """The criterion's flags for ``settings`` (numbers as written by hand: 5, not 5.0)."""
    adaptive = ("--adaptive-alpha",) if settings.adaptive else ()
    return (
        ("--num-passes", str(settings.num_passes), "--alpha", f"{settings.alpha:g}")
        + adaptive
        + ("--alpha-p", f"{settings.p:g}", "--alpha-q", f"{settings.q:g}", "--divergence", settings.divergence)
    )


def describe_intra(flags: Sequence[str]) -> str:
    """A recipe's intra-distillation flags in words, for the scripts' --help."""

    def value(name: str) -> str:
        return flags[list(flags).index(name) + 1]

    schedule = (
        f"with the adaptive schedule p={value('--alpha-p')}, q={value('--alpha-q')}"
        if "--adaptive-alpha" in flags
        else "from the first update"
    )
    return f"K={value('--num-passes')}, alpha {value('--alpha')} {schedule}, divergence {value('--divergence')}"


# The paper, IWSLT'14 (schedule.PAPER_SETTINGS).
DEFAULT_INTRA = intra_flags(PAPER_SETTINGS)

_OPTIMISER = _flags("--optimizer adam --adam-betas (0.9,0.98) --adam-eps 1e-6 --lr-scheduler inverse_sqrt")
# Both of the authors' commands (their IWSLT'14 script, their WMT'17 command): fp16 starting
# at loss scale 16, at most 512 positions, too-long validation sentences skipped, not fatal.
_AUTHORS = _flags(
    "--fp16-init-scale 16 --max-source-positions 512 --max-target-positions 512 --skip-invalid-size-inputs-valid-test"
)
_IWSLT_COMMON = (
    _OPTIMISER
    + _AUTHORS
    + _flags(
        "--dropout 0.3 --attention-dropout 0.1 --weight-decay 1e-4 --label-smoothing 0.1 --seed 1 --patience 40 "
        "--best-checkpoint-metric loss --no-epoch-checkpoints"
    )
)

RECIPES: Dict[str, Recipe] = {
    # The paper and the authors' script: transformer_iwslt_de_en, Adam (0.9, 0.98) eps 1e-6,
    # lr 5e-4, inverse_sqrt, warmup 8000, dropout 0.3, attention dropout 0.1, weight decay 1e-4,
    # label smoothing 0.1, 4096 tokens on one GPU, 50k updates, seed 1, best checkpoint by
    # validation loss; the authors' script also passes fp16 init scale 16, patience 40, 512
    # positions and skips too-long validation sentences.  Decoding: beam 5, lenpen 1.0.
    "iwslt14": Recipe(
        description="IWSLT'14 xx->en, the paper's settings",
        arch="transformer_iwslt_de_en",
        max_update=50000,
        max_tokens=4096,
        update_freq=1,
        paper_gpus=1,
        common=_IWSLT_COMMON + _flags("--lr 5e-4 --warmup-updates 8000 --log-interval 100"),
        intra=DEFAULT_INTRA,
        vocab_size=12000,
        beam=5,
        lenpen=1.0,
        benchmark="iwslt14",
    ),
    # The CPU preset for real text (issue 13), chosen on the validation sets of the l10n-fr-sv
    # corpus (docs/fidelity.md, "Regime C": chosen on fr, checked on sv, seed 1) and never on
    # a test set: 8,000 training pairs (prepare.sh --train-pairs 8000), a 2+2-layer,
    # 128-dimensional Transformer (about 2.5M parameters with a 4k vocabulary), dropout 0.3,
    # 2,048 tokens per update, 3,000 updates (33 epochs, where the baseline's validation loss
    # has nearly stopped falling).  Intra-distillation: K=3, X-divergence, alpha 1 from the
    # first update; the paper's alpha 5 (adaptive, p=5, q=10) lost 3.9 validation BLEU here,
    # its output flat and short, while alpha 1 was ahead at the same length ratio.  Decoding:
    # beam 5, lenpen 1.5, which gave both methods the higher mean validation BLEU over fr and sv.  One pair takes
    # about an hour on one core per run, side by side (intra-distillation the longer).  The
    # short run needs a short warm-up and a larger peak learning rate (our choice).
    "iwslt14-small": Recipe(
        description="IWSLT'14 xx->en, small CPU preset for real text (use with prepare.sh --train-pairs 8000)",
        arch="transformer",
        max_update=3000,
        max_tokens=2048,
        update_freq=1,
        paper_gpus=1,
        common=_IWSLT_COMMON
        + _small_transformer(layers=2, dim=128, ffn=512, heads=4)
        + _flags("--lr 1e-3 --warmup-updates 500 --log-interval 50"),
        intra=intra_flags(replace(PAPER_SETTINGS, alpha=1.0, adaptive=False)),
        vocab_size=4000,
        beam=5,
        lenpen=1.5,
        benchmark=None,
    ),
    # The quickstart (scripts/quickstart/run.sh, docs/fidelity.md): the paper's regime in
    # miniature.  500 pairs of the toy corpus with a long tail of rare words, a 3+3-layer,
    # 128-dimensional Transformer (1.7M parameters) that can memorise them, dropout 0.3, and
    # 1,000 updates (84 epochs): the baseline's validation loss bottoms out at about update 350
    # and then rises.  Chosen on the validation set (docs/fidelity.md lists the regimes tried).
    # --patience 10 (validations, one an epoch of 12 updates) ends a run 120 updates after its
    # best validation loss, as the IWSLT'14 recipes' patience 40 does: checkpoint_best is the
    # one all 1,000 updates choose, at about half the time (checked on the validation curves
    # of 1,000-update runs, where no stretch without a new best before the best exceeded 4
    # validations: docs/fidelity.md, "Early stopping").
    "quickstart": Recipe(
        description="the quickstart's toy corpus, CPU-sized (minutes)",
        arch="transformer",
        max_update=1000,
        max_tokens=1024,
        update_freq=1,
        paper_gpus=1,
        common=_small_transformer(layers=3, dim=128, ffn=512, heads=4)
        + _flags(
            "--dropout 0.3 --attention-dropout 0.1 --label-smoothing 0.1 --optimizer adam --adam-betas (0.9,0.98) "
            "--clip-norm 1.0 --lr 2e-3 --lr-scheduler inverse_sqrt --warmup-updates 100 --seed 1 "
            "--best-checkpoint-metric loss --patience 10 --no-epoch-checkpoints --log-interval 50 --num-workers 0"
        ),
        intra=DEFAULT_INTRA,
        vocab_size=1000,
        beam=5,
        lenpen=1.0,
        benchmark=None,
    ),
    # The authors' development command (README of fe1ixxu/Self-Distillation, commit 19a86b2):
    # transformer_vaswani_wmt_en_de_big (their _IN variant; embeddings not shared), Adam
    # (0.9, 0.98) eps 1e-6, lr 5e-4, warmup 4000, dropout 0.3, attention dropout 0.1, weight
    # decay 1e-4, label smoothing 0.1, 4096 tokens x update-freq 16, 80k updates, fp16 init
    # scale 16, 512 positions, too-long validation sentences skipped, a checkpoint (and
    # validation) every 300 updates, the last one kept; alpha 5, K 3, p 10, q 16.  The command
    # gives no GPU count: we read it as one GPU, i.e. 65,536 target tokens per update, and no
    # seed: fairseq's default is 1.  Decoding: the authors' inference script (for WMT'14) used
    # beam 4 and length penalty 0.6.
    "wmt17": Recipe(
        description="WMT'17 en->de, the authors' development command",
        arch="transformer_vaswani_wmt_en_de_big",
        max_update=80000,
        max_tokens=4096,
        update_freq=16,
        paper_gpus=1,
        common=_OPTIMISER
        + _AUTHORS
        + _flags(
            "--lr 5e-4 --warmup-updates 4000 --dropout 0.3 --attention-dropout 0.1 --weight-decay 1e-4 "
            "--label-smoothing 0.1 --seed 1 --best-checkpoint-metric loss --no-epoch-checkpoints --log-interval 100 "
            "--save-interval-updates 300 --keep-interval-updates 1"
        ),
        intra=intra_flags(replace(PAPER_SETTINGS, p=10.0, q=16.0)),
        vocab_size=32000,
        beam=4,
        lenpen=0.6,
        benchmark="wmt17",
    ),
}


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


def method_flags(
    method: str, intra: Tuple[str, ...] = DEFAULT_INTRA, num_passes: Optional[int] = None, alpha_mode: str = "adaptive"
) -> List[str]:
    """The task and criterion of ``method``, plus ``intra`` (K, alpha, schedule) for ``intra``.

    ``num_passes`` overrides K; ``alpha_mode`` "fixed" drops ``--adaptive-alpha`` (a constant
    alpha from the first update; fairseq cannot switch a store-true flag off later on the
    command line, so this is the one place that does it).
    """
    if method not in METHOD_FLAGS:
        raise ValueError(f"--method must be {' or '.join(METHOD_FLAGS)} (got {method!r})")
    if alpha_mode not in ALPHA_MODES:
        raise ValueError(f"--alpha-mode must be fixed or adaptive (got {alpha_mode!r})")
    if num_passes is not None and num_passes < 1:
        raise ValueError(f"--num-passes: the number of passes must be >= 1 (got {num_passes})")
    if method != "intra" and (num_passes is not None or alpha_mode != "adaptive"):
        raise ValueError(f"--num-passes and --alpha-mode are for --method intra (got --method {method})")
    flags = list(METHOD_FLAGS[method])
    if method == "intra":
        settings = list(intra)
        if num_passes is not None:
            settings[settings.index("--num-passes") + 1] = str(num_passes)
        if alpha_mode == "fixed" and "--adaptive-alpha" in settings:
            settings.remove("--adaptive-alpha")
        flags += settings
    return flags


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
    """Every fairseq-train flag of ``recipe`` for ``method`` on ``gpus`` GPUs (0 = CPU).

    ``max_tokens`` overrides the per-GPU micro-batch (the update frequency follows, so the
    effective batch stays the recipe's); ``max_update`` overrides N, and the adaptive
    schedule follows it (its horizon is ``--max-update``).  ``num_passes`` and
    ``alpha_mode``: see :func:`method_flags`.
    """
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r} (choose from {', '.join(RECIPES)})")
    r = RECIPES[recipe]
    flags = method_flags(method, r.intra, num_passes, alpha_mode)
    per_gpu, update_freq = batch_plan(r.effective_tokens, max_tokens or r.max_tokens, gpus)
    flags += [
        "--arch",
        arch or r.arch,
        *r.common,
        "--max-tokens",
        str(per_gpu),
        "--update-freq",
        str(update_freq),
        "--max-update",
        str(max_update if max_update is not None else r.max_update),
    ]
    return flags


def recipe_field(recipe: str, name: str) -> str:
    """One field of a recipe as the scripts read it (``vocab_size``, ``beam``, ``lenpen``, ...)."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r} (choose from {', '.join(RECIPES)})")
    names = [f.name for f in fields(Recipe) if f.name not in ("common", "intra")] + ["effective_tokens"]
    if name not in names:
        raise ValueError(f"unknown field {name!r} (choose from {', '.join(names)})")
    value = getattr(RECIPES[recipe], name)
    return "" if value is None else str(value)
