"""Analysis tools for fairseq translation checkpoints (``python -m fairseq_intradistill.analysis``).

* ``sensitivity``: per-parameter sensitivity |θ·∂L/∂θ|, its balance (std, top-20% share),
  per-module statistics and a log-scale histogram.
* ``prune``: BLEU after zeroing the least-sensitive fraction of the parameters.
* ``compare``: overlays and a table from several ``sensitivity``/``prune`` output folders.
* ``curves``: training curves (loss, intra-distillation loss, alpha) from fairseq JSON logs.

Logs are read by :mod:`.jsonlog`, the one reader of fairseq JSON logs (also used by
``fairseq_intradistill.results`` and the tests).  The math lives in :mod:`.stats` (torch/numpy only); fairseq is imported only by the
commands that load a checkpoint, matplotlib only when a plot is drawn.
"""


class AnalysisError(Exception):
    """A user error whose message is shown as it is (exit status 2)."""
