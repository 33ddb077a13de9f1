#!/usr/bin/env bash
# The paper's case study: iterative self-distillation (model 1 -> model 2 -> model 3), then
# BLEU and parameter sensitivity of every generation in one table.  The options, --help and
# --dry-run are those of python -m fairseq_intradistill.recipes self-distill
# (fairseq_intradistill/pipelines.py).
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/iwslt14/self_distill.sh self-distill "$@"
