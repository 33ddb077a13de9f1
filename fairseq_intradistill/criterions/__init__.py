from fairseq_intradistill.criterions import (
    intra_distillation,  # noqa: F401  (registers the criterion)
    self_distillation,  # noqa: F401  (registers the criterion)
)
