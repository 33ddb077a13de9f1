#!/usr/bin/env bash
# IWSLT'14 xx→en: the release → cleaned text → joint SentencePiece → fairseq binaries, per pair.
# The options, --help and the steps are those of
# python -m fairseq_intradistill.data.prepare iwslt14 (fairseq_intradistill/data/prepare.py).
set -euo pipefail
exec python -m fairseq_intradistill.data.prepare --prog scripts/iwslt14/prepare.sh iwslt14 "$@"
