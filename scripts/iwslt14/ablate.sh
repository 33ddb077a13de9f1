#!/usr/bin/env bash
# The paper's ablations on one IWSLT'14 pair: the number of passes K, fixed vs adaptive alpha.
# The options, --help and --dry-run are those of python -m fairseq_intradistill.recipes ablate
# (fairseq_intradistill/pipelines.py).
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/iwslt14/ablate.sh ablate "$@"
