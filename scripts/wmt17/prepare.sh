#!/usr/bin/env bash
# WMT'17 en→de: corpora → cleaned text → joint SentencePiece (32k) → fairseq binaries.
# The options, --help and the steps are those of
# python -m fairseq_intradistill.data.prepare wmt17 (fairseq_intradistill/data/prepare.py).
set -euo pipefail
exec python -m fairseq_intradistill.data.prepare --prog scripts/wmt17/prepare.sh wmt17 "$@"
