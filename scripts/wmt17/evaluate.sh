#!/usr/bin/env bash
# Decode newstest2017 en→de; detokenised sacreBLEU plus tokenised compound-split BLEU.
# The options and --help are those of python -m fairseq_intradistill.recipes evaluate wmt17.
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/wmt17/evaluate.sh evaluate wmt17 "$@"
