"""Intra-distillation for Hugging Face Transformers (``pip install -e .[hf]``); no fairseq import.

Five lines in one's own script::

    from fairseq_intradistill.hf import IntraDistillationArguments, IntraDistillationTrainer
    trainer = IntraDistillationTrainer(
        model=model, args=training_args, train_dataset=train, eval_dataset=dev,
        intra_distillation=IntraDistillationArguments(num_passes=3, alpha=5, adaptive_alpha=True))
    trainer.train()

``IntraDistillationSeq2SeqTrainer`` does the same for ``Seq2SeqTrainer``; ``IntraDistillationMixin``
adds it to any ``Trainer`` subclass.  Docs: docs/transformers.md.
"""

from __future__ import annotations

import importlib
from typing import Any, List

# Imported on first use (PEP 562), so that ``python -m fairseq_intradistill.hf.glue --help`` and
# the other submodules load neither torch nor Transformers until they need them; each module that
# imports Transformers first runs hide_broken_torchaudio() (see _torchaudio.py).
_LAZY = {
    "IntraDistillationArguments": "fairseq_intradistill.hf.config",
    "IntraDistillationMixin": "fairseq_intradistill.hf.trainer",
    "IntraDistillationTrainer": "fairseq_intradistill.hf.trainer",
    "IntraDistillationSeq2SeqTrainer": "fairseq_intradistill.hf.trainer",
}

__all__ = [
    "IntraDistillationArguments",
    "IntraDistillationMixin",
    "IntraDistillationTrainer",
    "IntraDistillationSeq2SeqTrainer",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
