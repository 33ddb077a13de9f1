from fairseq_intradistill.criterions import intra_distillation  # noqa: F401  (registers the criterion)
from fairseq_intradistill.criterions import self_distillation  # noqa: F401  (registers the criterion)
