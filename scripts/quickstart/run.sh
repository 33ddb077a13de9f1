#!/usr/bin/env bash
# The quickstart: baseline vs intra-distillation on a small offline corpus, on the CPU.
# The options, --help and --dry-run are those of python -m fairseq_intradistill.recipes quickstart
# (fairseq_intradistill/quickstart.py).
set -euo pipefail
exec python -m fairseq_intradistill.recipes --prog scripts/quickstart/run.sh quickstart "$@"
