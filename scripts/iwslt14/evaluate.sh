#!/usr/bin/env bash
# Decode the IWSLT'14 test (or validation) set of one pair and score it with sacreBLEU.
# The options and --help are those of python -m fairseq_intradistill.recipes evaluate iwslt14.
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/iwslt14/evaluate.sh evaluate iwslt14 "$@"
