"""The paper's numbers, and which of our runs may be set beside them.

Only the numbers we could source are here (see docs/reproduction.md); a cell without one reads
:data:`MISSING`, never a guess, or :data:`NOT_IN_PAPER` where the paper has no such result: a pair
outside its pairs, or a corpus that is not its data (:mod:`~fairseq_intradistill.data.corpora`).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from fairseq_intradistill.data import corpora

# The published numbers we could source (see docs/reproduction.md); nothing else is shown.
PAPER_BLEU: Dict[Tuple[str, str], Dict[str, float]] = {
    # Xu et al. 2022, Table 2, as quoted by a public reproduction.
    ("iwslt14", "de-en"): {"baseline": 33.07, "intra": 36.10},
}
# An independent reproduction (1 V100, 50k updates), shown as a note.
REPRODUCTION_BLEU: Dict[Tuple[str, str], Dict[str, float]] = {
    ("iwslt14", "de-en"): {"baseline": 32.90, "intra": 35.11},
}
# The paper's abstract: mean gain of intra-distillation over the 8 IWSLT'14 pairs.
PAPER_MEAN_GAIN: Dict[str, Tuple[float, int]] = {"iwslt14": (3.54, 8)}
# The pairs the paper has a result for, per benchmark (its presets share the paper's pairs).
PAPER_PAIRS: Dict[str, Tuple[str, ...]] = {
    "iwslt14": tuple(f"{lang}-en" for lang in corpora.PAPER_IWSLT14_LANGS),
    "wmt17": ("en-de",),
}
MISSING = "n/a"  # the paper has this result; we could not source its number
NOT_IN_PAPER = "none"  # the paper has no such result (another pair, or not its data)


def in_paper(benchmark: Optional[str], pair: Optional[str], corpus: Optional[str]) -> Optional[bool]:
    """Whether the paper has a result for this pair and corpus (None: no benchmark, nothing to say)."""
    if not benchmark:
        return None
    if not corpora.is_paper_data(corpus):
        return False
    # "iwslt14-small" is a preset of the paper's benchmark: it has the same pairs.
    family = next((b for b in PAPER_PAIRS if benchmark == b or benchmark.startswith(b + "-")), None)
    return family is None or pair in PAPER_PAIRS[family]


def paper_bleu(benchmark: Optional[str], pair: Optional[str], method: str) -> Optional[float]:
    """The paper's BLEU for this run's benchmark, pair and method, where we have it."""
    return PAPER_BLEU.get((benchmark, pair), {}).get(method)


def corpus_key(corpus: Optional[str]) -> Optional[str]:
    """The corpus as results group runs by it: None for the paper's data, recorded or not."""
    return None if corpora.is_paper_data(corpus) else corpus


def label(benchmark: Optional[str], corpus: Optional[str]) -> str:
    """The benchmark as the per-pair table names it; with the corpus when that is not the paper's data."""
    return str(benchmark) if corpora.is_paper_data(corpus) else f"{benchmark}:{corpus}"
