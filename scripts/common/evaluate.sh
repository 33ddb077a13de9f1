#!/usr/bin/env bash
# Decode a test set of any binarised data with fairseq-generate and score it with sacreBLEU.
# The options and --help are those of python -m fairseq_intradistill.recipes evaluate custom.
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/common/evaluate.sh evaluate custom "$@"
