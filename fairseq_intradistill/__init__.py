"""Intra-distillation (Xu, Koehn & Murray, EMNLP 2022) as a fairseq plugin.

Hand this package's folder to fairseq with ``--user-dir`` (``python -m fairseq_intradistill
--user-dir`` prints it).  When fairseq imports it, it registers ``--criterion
intra_distillation`` and ``--task translation_intra_distillation`` and makes checkpoints
load and save under torch's ``weights_only`` default (:mod:`fairseq_intradistill.plugin`).

Registration happens only when fairseq is already imported, as it is under ``--user-dir``,
so that the tools that need no fairseq (``divergence``, ``schedule``, ``results``,
``data.*``) start fast.  In your own Python code, ``import fairseq_intradistill.plugin``.
"""

import sys

__version__ = "0.1.0"

if "fairseq" in sys.modules:
    from fairseq_intradistill import plugin  # noqa: F401
