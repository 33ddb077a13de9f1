"""A synthetic parallel corpus, generated offline, for the quickstart and the tests.

The "source language" is a made-up language with its own words, subject-object-verb
order, adjectives after nouns and a plural suffix; the target is English-like with
subject-verb-object order.  Translating it needs a lexicon, reordering and agreement,
so a small Transformer learns it in minutes and BLEU separates models.

With ``--rare-words N`` the lexicon gains N invented content words (nouns, adjectives and
verbs, English-looking on the target side) and every word class is drawn with Zipfian
frequencies (``--zipf S``: the r-th most frequent word has weight 1/r^S), as words are in
real text: a few words are frequent and most are rare, so many test sentences hold words
seen a handful of times in training.  That long tail is what a model can overfit.

    python -m fairseq_intradistill.data.toy_corpus --out DIR [--train 8000 --valid 300 --test 300 --seed 1]
                                                   [--rare-words 0 --zipf 1.0]

writes DIR/{train,valid,test}.{src,tgt}, one sentence a line.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Dict, List, Optional, Tuple

NOUNS = (
    "cat dog bird child teacher farmer king queen doctor student river city garden "
    "house boat horse apple letter song story window table friend mother father "
    "baker sailor singer painter soldier judge nurse pilot driver writer village forest "
    "mountain bridge tower market school church castle island road field lake "
    "book lamp chair door key coin ring sword shield basket bottle candle"
).split()
ADJECTIVES = (
    "big small old young red green happy quiet clever tired brave strange "
    "blue black white golden silver hungry angry kind proud poor rich wild gentle"
).split()
VERBS = (
    "sees likes finds helps carries paints follows watches remembers builds "
    "hides sells buys opens pushes pulls greets calls visits forgets"
).split()
DETERMINERS = "the a this every".split()
PREPOSITIONS = "near under behind inside beside above".split()
ADVERBS = "today slowly often again quickly never".split()

_SYLLABLES = "ka lo mi nu pe ra si tu vo ze ba di fo gu he ji".split()
# Invented target-side words look English: these syllables never occur in the source.
_TARGET_SYLLABLES = "bar ben dor fen gal hom kin lar mor nel pim rot sen tal wen vik brin clo dra fro".split()


def _made_up_words(n: int, syllables: List[str], rng: random.Random, used: set) -> List[str]:
    """``n`` distinct made-up words of two or three syllables, none of them in ``used``."""
    words: List[str] = []
    while len(words) < n:
        made = "".join(rng.choice(syllables) for _ in range(rng.choice((2, 3))))
        if made not in used:
            used.add(made)
            words.append(made)
    return words


def _pseudo_lexicon(words: List[str], rng: random.Random) -> Dict[str, str]:
    """Map each English word to a distinct made-up word of two or three syllables."""
    return dict(zip(words, _made_up_words(len(words), _SYLLABLES, rng, set())))


class _WordClass:
    """The words of one class, drawn uniformly (the original toy) or with Zipfian weights."""

    def __init__(self, words: List[str], zipf: Optional[float]):
        self.words = words
        self.weights = None if zipf is None else [1.0 / (rank + 1) ** zipf for rank in range(len(words))]

    def draw(self, rng: random.Random, k: Optional[int] = None):
        if self.weights is None:
            return rng.choice(self.words) if k is None else rng.sample(self.words, k)
        if k is None:
            return rng.choices(self.words, self.weights)[0]
        chosen: List[str] = []
        while len(chosen) < k:  # k distinct words
            word = rng.choices(self.words, self.weights)[0]
            if word not in chosen:
                chosen.append(word)
        return chosen


class ToyLanguage:
    """A fixed pair of languages; the same seed and settings always give the same lexicon."""

    def __init__(self, seed: int = 0, rare_words: int = 0, zipf: float = 1.0):
        if rare_words < 0:
            raise ValueError(f"--rare-words must be >= 0 (got {rare_words})")
        if zipf <= 0:
            raise ValueError(f"--zipf must be > 0 (got {zipf})")
        rng = random.Random(seed)
        vocabulary = NOUNS + ADJECTIVES + VERBS + DETERMINERS + ["these"] + PREPOSITIONS + ADVERBS
        self.lexicon = _pseudo_lexicon(vocabulary, rng)
        self.plural_suffix = "en"
        nouns, adjectives, verbs = list(NOUNS), list(ADJECTIVES), list(VERBS)
        if rare_words:
            # Split the new words 6:2:1 between nouns, adjectives and verbs, as open classes are in text.
            n_adj, n_verb = rare_words * 2 // 9, rare_words // 9
            n_noun = rare_words - n_adj - n_verb
            used_src, used_tgt = set(self.lexicon.values()), set(vocabulary)
            new_src = _made_up_words(rare_words, _SYLLABLES, rng, used_src)
            new_tgt = _made_up_words(rare_words, _TARGET_SYLLABLES, rng, used_tgt)
            new_verbs = [w + "s" for w in new_tgt[n_noun + n_adj :]]  # third person, like VERBS
            self.lexicon.update(zip(new_tgt[: n_noun + n_adj] + new_verbs, new_src))
            nouns += new_tgt[:n_noun]
            adjectives += new_tgt[n_noun : n_noun + n_adj]
            verbs += new_verbs
        weighting = zipf if rare_words else None
        self.nouns = _WordClass(nouns, weighting)
        self.adjectives = _WordClass(adjectives, weighting)
        self.verbs = _WordClass(verbs, weighting)

    def _noun_phrase(self, rng: random.Random) -> Tuple[List[str], List[Tuple[str, str]]]:
        """Return (English words, source-language role tags) for one noun phrase."""
        det = rng.choice(DETERMINERS)
        adjectives = self.adjectives.draw(rng, rng.choice((0, 0, 1, 2)))
        noun = self.nouns.draw(rng)
        plural = det in ("the", "this") and rng.random() < 0.3
        if plural:
            det = "these" if det == "this" else det
        english = [det] + adjectives + [noun + ("s" if plural else "")]
        # Source: determiner, noun (+ plural suffix), then adjectives.
        source = [("DET", det), ("N", noun)] + ([("PL", "")] if plural else [])
        source += [("ADJ", a) for a in adjectives]
        return english, source

    def _render(self, tagged: List[Tuple[str, str]]) -> List[str]:
        words: List[str] = []
        for tag, word in tagged:
            if tag == "PL":
                words[-1] += self.plural_suffix
            else:
                words.append(self.lexicon[word])
        return words

    def sentence_pair(self, rng: random.Random) -> Tuple[str, str]:
        subj_en, subj_src = self._noun_phrase(rng)
        obj_en, obj_src = self._noun_phrase(rng)
        verb = self.verbs.draw(rng)
        plural_subject = len(subj_src) > 2 and subj_src[2][0] == "PL"
        verb_en = verb[:-1] if plural_subject else verb  # "sees" -> "see"
        english = subj_en + [verb_en] + obj_en
        source = subj_src + obj_src
        if rng.random() < 0.4:
            prep = rng.choice(PREPOSITIONS)
            place_en, place_src = self._noun_phrase(rng)
            english += [prep] + place_en
            # Source puts the place phrase first, with a postposition.
            source = place_src + [("P", prep)] + source
        source += [("V", verb)]
        if rng.random() < 0.3:
            adverb = rng.choice(ADVERBS)
            english.append(adverb)
            source = [("ADV", adverb)] + source
        # The period sticks to the last word, as in detokenised text (what sacreBLEU expects).
        return " ".join(self._render(source)), " ".join(english) + "."


def generate(
    out_dir: Path, sizes: Dict[str, int], seed: int = 1, rare_words: int = 0, zipf: float = 1.0
) -> Dict[str, Path]:
    """Write `{split}.src` / `{split}.tgt` for each split; return the paths' common prefix per split."""
    language = ToyLanguage(seed=0, rare_words=rare_words, zipf=zipf)
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    prefixes = {}
    for split, n in sizes.items():
        if n < 1:
            raise ValueError(f"--{split} must be >= 1 (got {n})")
        pairs = [language.sentence_pair(rng) for _ in range(n)]
        prefix = out_dir / split
        for suffix, column in (("src", 0), ("tgt", 1)):
            with open(f"{prefix}.{suffix}", "w", encoding="utf-8") as f:
                f.writelines(pair[column] + "\n" for pair in pairs)
        prefixes[split] = prefix
    return prefixes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.data.toy_corpus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--train", type=int, default=8000, help="training pairs")
    parser.add_argument("--valid", type=int, default=300, help="validation pairs")
    parser.add_argument("--test", type=int, default=300, help="test pairs")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (the lexicon is fixed)")
    parser.add_argument(
        "--rare-words",
        type=int,
        default=0,
        help="invented content words added to the lexicon; > 0 draws words with Zipfian frequencies",
    )
    parser.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent S of the word frequencies (> 0)")
    args = parser.parse_args(argv)
    try:
        generate(
            args.out,
            {"train": args.train, "valid": args.valid, "test": args.test},
            args.seed,
            args.rare_words,
            args.zipf,
        )
    except ValueError as e:
        parser.error(str(e))
    print(f"toy corpus written to {args.out}: train={args.train} valid={args.valid} test={args.test}")


if __name__ == "__main__":
    main()
