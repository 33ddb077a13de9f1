#!/usr/bin/env bash
# Train one IWSLT'14 xx→en model with the paper's settings (or the CPU preset), as a baseline or
# with intra-distillation.  The options, --help and --dry-run are those of
# python -m fairseq_intradistill.recipes train iwslt14 (fairseq_intradistill/recipes/__init__.py).
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/iwslt14/train.sh train iwslt14 "$@"
