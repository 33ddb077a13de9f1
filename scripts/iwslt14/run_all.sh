#!/usr/bin/env bash
# IWSLT'14 xx→en end to end: prepare, train baseline and intra-distillation, evaluate, summarise.
# The options, --help and --dry-run are those of python -m fairseq_intradistill.recipes run-all
# (fairseq_intradistill/pipelines.py).
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/iwslt14/run_all.sh run-all "$@"
