"""The Moses steps of the authors' pipelines, with ``sacremoses`` instead of the Perl scripts.

- :func:`tokenize_lines` is ``tokenizer.perl -l LANG`` (escaping on, no aggressive dash splits);
- :func:`clean_mask` is ``clean-corpus-n.perl -ratio R CORPUS SRC TGT OUT MIN MAX``;
- :func:`detokenize_lines` is ``detokenizer.perl -l LANG``;
- :func:`normalize_lines` is ``normalize-punctuation.perl -l LANG | remove-non-printing-char.perl``.

Long inputs are split over worker processes and show a progress bar (tqdm), since sacremoses runs a few
thousand sentences a second per core.
"""

from __future__ import annotations

from functools import partial
from multiprocessing import Pool
from typing import Callable, List, Optional, Sequence

from sacremoses import MosesDetokenizer, MosesPunctNormalizer, MosesTokenizer
from tqdm import tqdm

_CHUNK = 2000
PROGRESS_DELAY = 10  # seconds before a progress bar is shown


def _tokenize_chunk(lang: str, lines: List[str]) -> List[str]:
    tokenizer = MosesTokenizer(lang=lang)
    return [tokenizer.tokenize(line, return_str=True, escape=True) for line in lines]


def _detokenize_chunk(lang: str, lines: List[str]) -> List[str]:
    detokenizer = MosesDetokenizer(lang=lang)
    return [detokenizer.detokenize(line.split()) for line in lines]


def _normalize_chunk(lang: str, lines: List[str]) -> List[str]:
    normalizer = MosesPunctNormalizer(lang=lang, pre_replace_unicode_punct=False, post_remove_control_chars=True)
    return [normalizer.normalize(line) for line in lines]


def _map_chunks(
    function: Callable[[str, List[str]], List[str]],
    lang: str,
    lines: Sequence[str],
    workers: int,
    label: str,
) -> List[str]:
    """Apply ``function(lang, chunk)`` to chunks of ``lines`` in order, with a progress bar on stderr."""
    chunks = [list(lines[i : i + _CHUNK]) for i in range(0, len(lines), _CHUNK)]
    out: List[str] = []
    job = partial(function, lang)
    # The bar appears only for inputs that take a while (PROGRESS_DELAY seconds), not for every small file.
    with tqdm(total=len(lines), desc=f"  {label}", unit=" lines", unit_scale=True, delay=PROGRESS_DELAY) as bar:
        if workers > 1 and len(chunks) > 1:
            with Pool(workers) as pool:
                for chunk in pool.imap(job, chunks):
                    out.extend(chunk)
                    bar.update(len(chunk))
        else:
            for chunk in chunks:
                out.extend(job(chunk))
                bar.update(len(chunk))
    return out


def tokenize_lines(lines: Sequence[str], lang: str, workers: int = 1) -> List[str]:
    """Moses-tokenise each line (``tokenizer.perl -l LANG``: special characters escaped)."""
    return _map_chunks(_tokenize_chunk, lang, lines, workers, f"tokenising {lang}")


def detokenize_lines(lines: Sequence[str], lang: str, workers: int = 1) -> List[str]:
    """Moses-detokenise each whitespace-tokenised line (unescapes what the tokeniser escaped)."""
    return _map_chunks(_detokenize_chunk, lang, lines, workers, f"detokenising {lang}")


def normalize_lines(lines: Sequence[str], lang: str, workers: int = 1) -> List[str]:
    """Moses punctuation normalisation, then removal of non-printing characters."""
    return _map_chunks(_normalize_chunk, lang, lines, workers, f"normalising {lang}")


def clean_mask(
    source: Sequence[str],
    target: Sequence[str],
    ratio: float = 1.5,
    min_len: int = 1,
    max_len: int = 175,
) -> List[bool]:
    """Which tokenised pairs ``clean-corpus-n.perl -ratio RATIO ... MIN MAX`` keeps.

    A pair is dropped when either side has fewer than ``min_len`` or more than ``max_len``
    tokens, or when one side is more than ``ratio`` times longer than the other.
    """
    if len(source) != len(target):
        raise ValueError(f"the two sides have different lengths ({len(source)} and {len(target)} lines)")
    keep: List[bool] = []
    for src, tgt in zip(source, target):
        n_src, n_tgt = len(src.split()), len(tgt.split())
        ok = min_len <= n_src <= max_len and min_len <= n_tgt <= max_len
        if ok and n_src and n_tgt:
            ok = n_src / n_tgt <= ratio and n_tgt / n_src <= ratio
        keep.append(bool(ok and n_src and n_tgt))
    return keep


def filter_lines(lines: Sequence[str], mask: Sequence[bool]) -> List[str]:
    return [line for line, keep in zip(lines, mask) if keep]


def collapse_spaces(line: str) -> str:
    """What clean-corpus-n.perl does to each kept line: one space between tokens, none at the ends."""
    return " ".join(line.split())


def default_workers(requested: Optional[int] = None) -> int:
    import os

    return max(1, requested if requested else min(8, os.cpu_count() or 1))
