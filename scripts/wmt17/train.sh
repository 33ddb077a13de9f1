#!/usr/bin/env bash
# Train the WMT'17 en→de Transformer-big with the authors' settings, baseline or intra-distillation.
# The options, --help and --dry-run are those of
# python -m fairseq_intradistill.recipes train wmt17 (fairseq_intradistill/recipes/__init__.py).
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/wmt17/train.sh train wmt17 "$@"
