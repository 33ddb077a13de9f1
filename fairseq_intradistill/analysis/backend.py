"""The one interface ``sensitivity`` and ``prune`` use to read a model: load, score a subset, evaluate.

Two implementations: :class:`~.fairseq_io.FairseqBackend` (a fairseq translation checkpoint and
its binarised data; evaluated by decoding and sacreBLEU) and
:class:`~.hf_io.TransformersBackend` (a Transformers GLUE model folder and the task's local
data; evaluated with the recipe's metrics).  :func:`.arguments.backend_for` picks one from
``--path``.  The commands call only these methods, so a third kind of model is a third class.

Neither fairseq nor Transformers is imported here or when a backend is made: only
:meth:`Backend.load` imports them, so the argument checks fail fast.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Dict, Sequence, Tuple

import torch

from fairseq_intradistill.analysis.stats import SensitivityAccumulator

FAIRSEQ = "fairseq"
TRANSFORMERS = "transformers"


class Backend(ABC):
    """One kind of model, configured by the parsed options of :func:`.arguments.checkpoint_parent`."""

    kind: ClassVar[str]  # FAIRSEQ or TRANSFORMERS
    described: ClassVar[str]  # "a fairseq checkpoint", for messages naming the kind
    # The options only this kind understands (argparse dest -> default); given to the other kind
    # they are an error naming them.
    options: ClassVar[Dict[str, Any]]
    unit: ClassVar[str]  # what the loss is summed over: "tokens" or "examples"

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.model: Any = None  # set by load()

    @abstractmethod
    def check_inputs(self) -> None:
        """Fail early, before anything heavy is imported, on missing data, model or settings."""

    @abstractmethod
    def default_subset(self) -> str:
        """The subset scored when none is given (fairseq: valid; GLUE: its validation split)."""

    @abstractmethod
    def check_subset(self, subset: str, option: str) -> None:
        """Fail on a subset this kind does not have, naming ``option``."""

    @property
    @abstractmethod
    def metric(self) -> str:
        """The key of :meth:`evaluate`'s result that a pruning curve plots (bleu, accuracy, ...)."""

    @abstractmethod
    def load(self, subsets: Sequence[str], device: torch.device) -> torch.nn.Module:
        """Load the model onto ``device`` and the data of ``subsets``; return the model."""

    @abstractmethod
    def sensitivity(self, subset: str) -> Tuple[SensitivityAccumulator, Dict[str, Any]]:
        """``|θ ⊙ ∇θ L|`` accumulated over ``subset``, and what was measured (counts, mean loss, settings)."""

    @abstractmethod
    def evaluate(self, subset: str, desc: str) -> Dict[str, float]:
        """The model's scores on ``subset`` (its :attr:`metric` among them), as a pruning point records them."""

    @abstractmethod
    def shown(self, scores: Dict[str, float]) -> str:
        """:meth:`evaluate`'s scores as one line of the command's output."""

    @abstractmethod
    def prune_record(self) -> Dict[str, Any]:
        """This kind's fields of ``prune.json``: how the subset was scored."""
