"""Analysis tools for fairseq translation checkpoints and Transformers GLUE models
(``python -m fairseq_intradistill.analysis``).

* ``sensitivity``: per-parameter sensitivity |θ·∂L/∂θ|, its balance (std, top-20% share),
  per-module statistics and a log-scale histogram.
* ``prune``: BLEU (a GLUE model: the task's metric) after zeroing the least-sensitive
  fraction of the parameters.
* ``compare``: overlays and a table from several ``sensitivity``/``prune`` output folders.
* ``curves``: training curves (loss, its cross-entropy part, intra-distillation loss, alpha) from fairseq JSON logs.
* ``length``: entropy and end-of-sentence probability by distance to the reference's end (teacher forcing).

Logs are read by :mod:`.jsonlog`, the one reader of fairseq JSON logs (also used by
``fairseq_intradistill.results`` and the tests).  The math lives in :mod:`.stats` (torch/numpy only).
``sensitivity`` and ``prune`` read a model through one interface, :class:`.backend.Backend` (load,
score a subset's sensitivity, evaluate), implemented by :mod:`.fairseq_io` (fairseq, imported only
when a checkpoint is loaded) and :mod:`.hf_io` (Transformers, only for a model folder); matplotlib
only when a plot is drawn.
"""


class AnalysisError(Exception):
    """A user error whose message is shown as it is (exit status 2)."""
