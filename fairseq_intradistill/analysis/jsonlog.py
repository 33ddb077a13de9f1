"""The one reader of fairseq ``--log-format json`` logs (results, ``analysis curves``, the tests).

A record is a line whose JSON object starts with ``{"``, in the forms that fairseq writes for
our scripts and tests:

* the ``--log-file`` (what ``scripts/common/train.sh`` writes as ``train.log``): the bare
  ``{...}``, without a tag or a timestamp; the tag is read from the keys (``valid_num_updates``
  -> ``valid``, ``train_num_updates`` -> ``train``, ``num_updates`` -> ``train_inner``);
* console output (``train.sh``'s stdout): ``2024-01-01 12:00:00 | INFO | train_inner | {"epoch": 1, ...}``;
* Python's default logging format (fairseq run in-process, as the tests run it):
  ``INFO:train_inner:{...}``.

Other consoles (``fairseq-hydra-train``'s, for one) are not read: give their ``--log-file``
(``common.log_file``), which is the bare form.

The rules, the same for every tool:

* Lines are split on ``"\\n"`` only (a record may hold U+2028 or \\x85 inside a string).
* Other lines (messages, the configuration dump ``{'_name': ...}``, a model summary) are not
  records and are passed over.
* A record line that is not a JSON object (a run killed while writing it) is a *bad line*:
  it is skipped and reported (a logging warning, on stderr) with the file and line number,
  never silently.
* A line that repeats an earlier record line exactly is a copy and counts once: fairseq
  (seen on ve-fairseq 0.12.3) adds a ``--log-file`` handler each time it makes a progress
  bar, so a log written before that bug is fixed holds every line of epoch *e* *e* times.

Wall-clock time (:func:`record_times`): fairseq's training records carry ``wall``
(``train_wall`` in the end-of-epoch ``train`` record), the seconds since the trainer
started, rounded to whole seconds; validation records carry none, and the ``--log-file``
has no timestamps.  So:

* a training record is timed by its own ``wall``;
* a validation record is timed at the ``wall`` of the first training record logged after
  it (the end-of-epoch record, or the next per-update record after a mid-epoch
  validation).  The run certainly had that validation loss by then: a run is never
  credited with a loss earlier than it had it, and at most ``--log-interval`` updates late.
  A validation with no training record after it (a run killed during it) is not timed;
* a resumed run appends to the same log and fairseq restarts its clock (a new process
  writes its configuration dump first, and ``wall`` starts again from 0).  Each later
  fairseq run of the log is offset by the time its earlier runs ended at, so times add up
  over the runs.  fairseq even stops its clock after a resume *mid-epoch* (it reloads the
  stopwatch without starting it: ``wall`` stays 0), so such a run's time is too short;
  :attr:`FairseqLog.runs` tells how many fairseq runs wrote the log.
"""

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

logger = logging.getLogger(__name__)

# "2024-01-01 12:00:00 | INFO | train_inner | {...}" and "INFO:train_inner:{...}".
_CONSOLE = re.compile(r"^(?:[^|{]* \| )?[A-Z]+ \| (?P<tag>[^|{]+?) \| (?P<json>\{\".*)$")
_PYTHON_LOGGING = re.compile(r"^[A-Z]+:(?P<tag>[^:{]+):(?P<json>\{\".*)$")
# fairseq-train's first line, in each of these forms: its configuration, a Python dict.
_CONFIG_DUMP = re.compile(r"^(?:.* \| |[A-Z]+:[^:{]+:)?\{'_name': ")
TRAINING_TAGS = ("train_inner", "train")


class LogError(ValueError):
    """A log that cannot give what was asked of it; the message names the file."""


@dataclass(frozen=True)
class Record:
    tag: str  # train_inner, train, valid (or another validation subset)
    values: Dict[str, Any]  # the JSON object as logged (fairseq logs numbers as strings)
    line: int  # 1-based line number in the log
    run: int = 0  # which fairseq run (process) wrote it: 0, then 1 after a resume, ...

    def number(self, key: str) -> Optional[float]:
        try:
            return float(self.values[key])
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def prefix(self) -> str:
        """The prefix of this record's keys: '' for train_inner, 'train_', 'valid_', ..."""
        return "" if self.tag == "train_inner" else f"{self.tag}_"

    @property
    def update(self) -> Optional[int]:
        value = self.number(f"{self.prefix}num_updates")
        return None if value is None else int(value)

    @property
    def wall(self) -> Optional[float]:
        """fairseq's wall clock of a training record (seconds since the trainer started)."""
        return self.number(f"{self.prefix}wall") if self.tag in TRAINING_TAGS else None


@dataclass
class FairseqLog:
    source: str
    records: List[Record] = field(default_factory=list)
    copies: int = 0  # record lines dropped as exact repeats
    bad_lines: List[Tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    runs: int = 1  # fairseq runs that wrote the log (more than one: the run was resumed)

    def tagged(self, tag: str) -> List[Record]:
        return [r for r in self.records if r.tag == tag]


def _tag_of(values: Dict[str, Any]) -> Optional[str]:
    """The tag of a bare ``--log-file`` record, from its keys."""
    if "num_updates" in values:
        return "train_inner"
    for key in values:
        if key.endswith("_num_updates"):
            return key[: -len("_num_updates")]
    return None


def parse(text: str, source: str = "<text>") -> FairseqLog:
    """The records of a fairseq JSON log given as text (see the module's rules)."""
    log = FairseqLog(source)
    seen = set()
    run = 0
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        tag = None
        if _CONFIG_DUMP.match(line):
            run += 1 if log.records else 0  # a new fairseq run appends to the log
            continue
        if line.startswith('{"'):
            payload = line
        else:
            match = _CONSOLE.match(line) or _PYTHON_LOGGING.match(line)
            if match is None:
                continue
            tag, payload = match.group("tag").strip(), match.group("json")
        if line in seen:
            log.copies += 1
            continue
        seen.add(line)
        try:
            values = json.loads(payload)
        except json.JSONDecodeError as e:
            log.bad_lines.append((number, f"not JSON ({e.msg} at column {e.colno})"))
            continue
        if not isinstance(values, dict):
            log.bad_lines.append((number, "not a JSON object"))
            continue
        tag = tag or _tag_of(values)
        if tag is not None:
            log.records.append(Record(tag, values, number, run))
    log.runs = run + 1
    if log.bad_lines:
        shown = ", ".join(f"line {n} ({why})" for n, why in log.bad_lines[:5])
        more = f" and {len(log.bad_lines) - 5} more" if len(log.bad_lines) > 5 else ""
        logger.warning("%s: skipped %d unreadable record line(s): %s%s", source, len(log.bad_lines), shown, more)
    return log


def read_log(path: Union[str, Path]) -> FairseqLog:
    """The records of the fairseq JSON log at ``path`` (see the module's rules)."""
    path = Path(path)
    if not path.is_file():
        raise LogError(f"{path}: log not found")
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        return parse(f.read(), str(path))


def record_times(log: FairseqLog) -> Dict[int, float]:
    """Seconds of training at which each record's numbers were known, by index in ``log.records``.

    The module's rule: a training record's own ``wall``, a validation the ``wall`` of the
    first training record after it (none after it: left out); later fairseq runs of a
    resumed log are offset by the time the earlier runs ended at.
    """
    times: Dict[int, float] = {}
    pending: List[int] = []
    offset, run, last_wall = 0.0, 0, 0.0
    for index, record in enumerate(log.records):
        if record.run != run:
            offset, run, last_wall = offset + last_wall, record.run, 0.0
            pending = []  # validations of a run killed before its next training record
        if record.tag not in TRAINING_TAGS:
            pending.append(index)
            continue
        wall = record.wall
        if wall is None:
            continue
        if wall < last_wall:  # a new run whose configuration line is not in this log
            offset += last_wall
        last_wall = wall
        times[index] = offset + wall
        for waiting in pending:
            times[waiting] = offset + wall
        pending = []
    return times
