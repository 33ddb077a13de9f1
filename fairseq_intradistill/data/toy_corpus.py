"""A synthetic parallel corpus, generated offline, for the quickstart and the tests.

The "source language" is a made-up language with its own words, subject-object-verb
order, adjectives after nouns and a plural suffix; the target is English-like with
subject-verb-object order.  Translating it needs a lexicon, reordering and agreement,
so a small Transformer learns it in minutes and BLEU separates models.

    python -m fairseq_intradistill.data.toy_corpus --out DIR [--train 8000 --valid 300 --test 300 --seed 1]

writes DIR/{train,valid,test}.{src,tgt}, one sentence a line.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Dict, List, Tuple

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


def _pseudo_lexicon(words: List[str], rng: random.Random) -> Dict[str, str]:
    """Map each English word to a distinct made-up word of two or three syllables."""
    lexicon: Dict[str, str] = {}
    used = set()
    for word in words:
        while True:
            made = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3))))
            if made not in used:
                used.add(made)
                lexicon[word] = made
                break
    return lexicon


def _noun_phrase(rng: random.Random) -> Tuple[List[str], List[str]]:
    """Return (English words, source-language role tags) for one noun phrase."""
    det = rng.choice(DETERMINERS)
    adjectives = rng.sample(ADJECTIVES, rng.choice((0, 0, 1, 2)))
    noun = rng.choice(NOUNS)
    plural = det in ("the", "this") and rng.random() < 0.3
    if plural:
        det = "these" if det == "this" else det
    english = [det] + adjectives + [noun + ("s" if plural else "")]
    # Source: determiner, noun (+ plural suffix), then adjectives.
    source = [("DET", det), ("N", noun)] + ([("PL", "")] if plural else [])
    source += [("ADJ", a) for a in adjectives]
    return english, source


class ToyLanguage:
    """A fixed pair of languages; the same seed always gives the same lexicon."""

    def __init__(self, seed: int = 0):
        rng = random.Random(seed)
        vocabulary = NOUNS + ADJECTIVES + VERBS + DETERMINERS + ["these"] + PREPOSITIONS + ADVERBS
        self.lexicon = _pseudo_lexicon(vocabulary, rng)
        self.plural_suffix = "en"

    def _render(self, tagged: List[Tuple[str, str]]) -> List[str]:
        words: List[str] = []
        for tag, word in tagged:
            if tag == "PL":
                words[-1] += self.plural_suffix
            else:
                words.append(self.lexicon[word])
        return words

    def sentence_pair(self, rng: random.Random) -> Tuple[str, str]:
        subj_en, subj_src = _noun_phrase(rng)
        obj_en, obj_src = _noun_phrase(rng)
        verb = rng.choice(VERBS)
        plural_subject = subj_en[-1].endswith("s") and subj_en[-1][:-1] in NOUNS
        verb_en = verb[:-1] if plural_subject else verb  # "sees" -> "see"
        english = subj_en + [verb_en] + obj_en
        source = subj_src + obj_src
        if rng.random() < 0.4:
            prep = rng.choice(PREPOSITIONS)
            place_en, place_src = _noun_phrase(rng)
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


def generate(out_dir: Path, sizes: Dict[str, int], seed: int = 1) -> Dict[str, Path]:
    """Write `{split}.src` / `{split}.tgt` for each split; return the paths' common prefix per split."""
    language = ToyLanguage(seed=0)
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--train", type=int, default=8000, help="training pairs")
    parser.add_argument("--valid", type=int, default=300, help="validation pairs")
    parser.add_argument("--test", type=int, default=300, help="test pairs")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (the lexicon is fixed)")
    args = parser.parse_args(argv)
    try:
        generate(args.out, {"train": args.train, "valid": args.valid, "test": args.test}, args.seed)
    except ValueError as e:
        parser.error(str(e))
    print(f"toy corpus written to {args.out}: train={args.train} valid={args.valid} test={args.test}")


if __name__ == "__main__":
    main()
