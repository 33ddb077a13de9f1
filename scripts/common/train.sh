#!/usr/bin/env bash
# Train one model with fairseq-train on any binarised data, as a baseline, with
# intra-distillation or self-distillation, with or without a recipe's settings.  The options,
# --help and --dry-run are those of python -m fairseq_intradistill.recipes train custom.
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/common/train.sh train custom "$@"
