"""Which corpus an IWSLT-layout archive holds, so that results never set another corpus beside the paper.

``scripts/iwslt14/prepare.sh`` reads any archive with the layout of the IWSLT 2014 release
(``2014-01/texts/<src>/en/<src>-en.tgz``).  Besides the release itself, this project uses a
real corpus in the same layout that is *not* the paper's data (``l10n-fr-sv``, see
:data:`KNOWN`).  Both are called ``2014-01.tgz``, so the file name says nothing: the archive's
sha256 does.  ``prepare.sh`` records the corpus of every pair it unpacks, ``train.sh`` copies
it into ``experiment.json`` and :mod:`fairseq_intradistill.results` shows the paper's numbers
only for the paper's data and pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

# The corpus name of the IWSLT 2014 release: what an archive is taken to be when its sha256 is
# not one of KNOWN (the release's own sha256 is not known to us: docs/reproduction.md).
IWSLT14 = "iwslt14"
# The paper's eight IWSLT'14 source languages (its Table 2); every pair is <src>-en.
PAPER_IWSLT14_LANGS: Tuple[str, ...] = ("ar", "de", "es", "fa", "he", "it", "nl", "pl")


@dataclass(frozen=True)
class Corpus:
    name: str  # short, as experiment.json and the results table show it
    description: str  # one line, for the results table's notes


KNOWN: Dict[str, Corpus] = {
    # ../shared/data/l10n-fr-sv/2014-01.tgz, sha256 from its README.md.
    "5dd3114a4e344d8cc04f2387410eaf9f08f27adc9ca6e55c3631978e3f0edc9f": Corpus(
        name="l10n-fr-sv",
        description=(
            "real fr->en and sv->en software messages (human translations from Debian 12's gettext catalogs), "
            "in the IWSLT 2014 layout; not the paper's data"
        ),
    ),
}
BY_NAME: Dict[str, Corpus] = {c.name: c for c in KNOWN.values()}


def identify(sha256: str) -> str:
    """The corpus name of an archive with this sha256: a known one, else the IWSLT 2014 release."""
    known = KNOWN.get(sha256.lower())
    return known.name if known else IWSLT14


def is_paper_data(corpus: Optional[str]) -> bool:
    """Whether runs on ``corpus`` may be set beside the paper's numbers.

    ``None`` (no record: a folder prepared before corpora were recorded, or a benchmark whose
    scripts do not record one) keeps the old behaviour; a known non-paper corpus is never
    compared with the paper.
    """
    return corpus is None or corpus not in BY_NAME
