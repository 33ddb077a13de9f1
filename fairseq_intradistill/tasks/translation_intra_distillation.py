"""``--task translation_intra_distillation``: ``translation`` that tells the criterion the update number.

fairseq hands the update count to ``Task.train_step`` but not to the criterion, and the
adaptive α schedule needs it.  Keeping the K passes in the criterion and only this hand-off
in the task keeps both small: data loading, generation and ``--eval-bleu`` are
``translation``'s own.  The count is the trainer's, so it is restored on ``--restore-file``
and resume like everything else.
"""

from dataclasses import dataclass

from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationConfig, TranslationTask


@dataclass
class TranslationIntraDistillationConfig(TranslationConfig):
    pass


@register_task("translation_intra_distillation", dataclass=TranslationIntraDistillationConfig)
class TranslationIntraDistillationTask(TranslationTask):
    # Read by the criterion's start-up checks (adaptive α needs the update number).
    feeds_num_updates_to_criterion = True

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        if hasattr(criterion, "set_num_updates"):
            criterion.set_num_updates(update_num)
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
