# Helpers shared by the bash scripts; source it, do not run it.  (The training, evaluation and
# data preparation scripts are thin: their work, the fairseq and GPU checks included, is in
# fairseq_intradistill/launch.py, run through python -m fairseq_intradistill.recipes, and in
# fairseq_intradistill/data/prepare.py, run through python -m fairseq_intradistill.data.prepare.)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_value() {  # require_value FLAG VALUE
  [ -n "$2" ] || die "$1 is required (see --help)"
}
