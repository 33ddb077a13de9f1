"""Lines of corpus and reference text, split on ``\\n`` only, as the Moses tools and fairseq split them.

``str.splitlines()`` and text files opened with Python's default (universal newlines) also
break lines on ``\\r``, ``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028 and U+2029.
Web-crawled text (WMT's Common Crawl corpus, for one) has some of these inside sentences;
split there, one side of a parallel corpus gains lines and stops aligning, or a reference
shifts by a line.  Here a line ends at ``\\n``; one ``\\r`` before it (a Windows line end) is
dropped; every other character stays in the line.

    from fairseq_intradistill.textio import iter_lines, read_lines, split_lines
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Union

PathLike = Union[str, Path]


def _without_line_end(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
    return line[:-1] if line.endswith("\r") else line


def split_lines(text: str) -> List[str]:
    """The lines of ``text`` without their line ends; a final ``\\n`` does not start an empty line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def iter_lines(path: PathLike, encoding: str = "utf-8", errors: str = "strict") -> Iterator[str]:
    """The lines of the file ``path`` one at a time (for corpora too large to hold twice)."""
    # newline="\n": Python splits only at "\n" and translates nothing.
    with open(path, encoding=encoding, errors=errors, newline="\n") as handle:
        for line in handle:
            yield _without_line_end(line)


def read_lines(path: PathLike, encoding: str = "utf-8", errors: str = "strict") -> List[str]:
    """All lines of the file ``path``, as :func:`split_lines` splits them."""
    return list(iter_lines(path, encoding, errors))
