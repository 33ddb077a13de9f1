"""What the bash scripts' Python entry points share: the log line, ``--prog NAME``, the usage format.

Standard library only, so that every layer can use it (``data`` must not import ``launch``).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional, TextIO, Tuple


def log(message: str, file: Optional[TextIO] = None) -> None:
    """A timestamped line on stderr, or in ``file`` (a run's console log), as scripts/common/lib.sh's ``log``."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=file or sys.stderr, flush=True)


def split_prog(argv: List[str]) -> Tuple[Optional[str], List[str]]:
    """``--prog NAME`` first: the calling script's name, for its usage and error messages."""
    if argv[:1] == ["--prog"] and len(argv) >= 2:
        return argv[1], argv[2:]
    return None, argv


class ScriptFormatter(argparse.RawDescriptionHelpFormatter):
    """Help as the scripts printed it: "Usage: scripts/... ", the description as written."""

    def add_usage(self, usage, actions, groups, prefix=None):  # noqa: ANN001 (argparse's signature)
        super().add_usage(usage, actions, groups, "Usage: " if prefix is None else prefix)
