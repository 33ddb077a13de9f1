from fairseq_intradistill.tasks import translation_intra_distillation  # noqa: F401  (registers the task)
