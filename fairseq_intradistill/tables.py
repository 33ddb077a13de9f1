"""The one table layout of the package's reports: aligned plain text, or Markdown.

``results``, ``bench``, ``analysis compare`` and ``hf.results`` print tables.  Each knows how to
format its own numbers (precision, ``-`` or ``n/a`` for a missing value), so cells arrive here
as strings; this module only lays them out, the same way for every tool.

    from fairseq_intradistill.tables import Column, aligned, markdown
    aligned([Column("method", 10, "<"), Column("BLEU", 6)], [["baseline", "33.07"]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence


@dataclass(frozen=True)
class Column:
    heading: str
    width: int = 0  # the least width of the column's cells and heading (longer ones are kept whole)
    align: str = ">"  # ">" right (numbers), "<" left (names)
    gap: str = " "  # what separates the column from the one before it


def _line(columns: Sequence[Column], cells: Sequence[str]) -> str:
    if len(cells) > len(columns):
        raise ValueError(f"a row of {len(cells)} cells for {len(columns)} columns")
    parts = []
    for i, cell in enumerate(cells):
        column = columns[i]
        width = column.width
        if i == len(cells) - 1 and len(cells) < len(columns):
            # The last cell of a short row spans the columns left (e.g. a note in place of two numbers).
            width += sum(len(c.gap) + c.width for c in columns[i + 1 :])
        parts.append((column.gap if i else "") + format(cell, f"{column.align}{width}"))
    # Right-aligned columns end where their cells end; an empty last cell leaves no trailing spaces.
    return "".join(parts).rstrip()


def aligned(columns: Sequence[Column], rows: Sequence[Sequence[str]], rule_extra: int = 0) -> List[str]:
    """The heading line, a rule of dashes as long as it (plus ``rule_extra``), then one line per row."""
    header = _line(columns, [c.heading for c in columns])
    return [header, "-" * (len(header) + rule_extra)] + [_line(columns, row) for row in rows]


def markdown(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    """A Markdown table (GitHub's pipe tables): heading, ``|---|`` rule, one line per row."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    return [line(headings), "|" + "---|" * len(headings)] + [line(row) for row in rows]
