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

from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio

hide_broken_torchaudio()  # before transformers is imported: see _torchaudio.py

from fairseq_intradistill.hf.config import IntraDistillationArguments  # noqa: E402
from fairseq_intradistill.hf.trainer import (  # noqa: E402
    IntraDistillationMixin,
    IntraDistillationSeq2SeqTrainer,
    IntraDistillationTrainer,
)

__all__ = [
    "IntraDistillationArguments",
    "IntraDistillationMixin",
    "IntraDistillationTrainer",
    "IntraDistillationSeq2SeqTrainer",
]
