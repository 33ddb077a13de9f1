#!/usr/bin/env bash
# Train one model with fairseq-train, as a baseline or with intra-distillation.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/common/train.sh --data DIR --method {baseline,intra} --save-dir DIR [--log FILE] [--fixed-alpha] [FAIRSEQ OPTIONS...]

Runs fairseq-train on binarised DATA with the plugin loaded (--user-dir), so that
baseline and intra-distillation checkpoints go through the same code and load anywhere.
  baseline  --task translation --criterion label_smoothed_cross_entropy
  intra     --task translation_intra_distillation --criterion intra_distillation
            with the paper's defaults (--num-passes 3 --alpha 5 --adaptive-alpha
            --alpha-p 5 --alpha-q 10 --divergence x); later options override them.
            --fixed-alpha drops --adaptive-alpha (a store-true flag that a later
            option cannot switch off): a constant alpha from the first update.
Every other option goes to fairseq-train unchanged (architecture, optimiser, ...).
Adds --cpu (with a warning) when no GPU is found.  Training resumes from
SAVE_DIR/checkpoint_last.pt when it exists, so a second run continues or does nothing.
The JSON log goes to --log (default SAVE_DIR/train.log) as well as to the terminal.
USAGE
}

data="" method="" save_dir="" log_file="" fixed_alpha=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --data) data="${2:-}"; shift 2 ;;
    --method) method="${2:-}"; shift 2 ;;
    --save-dir) save_dir="${2:-}"; shift 2 ;;
    --log) log_file="${2:-}"; shift 2 ;;
    --fixed-alpha) fixed_alpha=1; shift ;;
    *) extra+=("$1"); shift ;;
  esac
done
require_value --data "$data"
require_value --method "$method"
require_value --save-dir "$save_dir"
compgen -G "$data/dict.*.txt" > /dev/null \
  || die "--data $data holds no fairseq dictionary (dict.*.txt): binarise it with fairseq-preprocess first"

case "$method" in
  baseline) method_flags=(--task translation --criterion label_smoothed_cross_entropy) ;;
  intra) method_flags=(--task translation_intra_distillation --criterion intra_distillation
                       --num-passes 3 --alpha 5 --adaptive-alpha --alpha-p 5 --alpha-q 10 --divergence x) ;;
  *) die "--method must be baseline or intra (got '$method')" ;;
esac
if [ "$fixed_alpha" -eq 1 ]; then
  kept=()
  for flag in "${method_flags[@]}"; do [ "$flag" = --adaptive-alpha ] || kept+=("$flag"); done
  method_flags=("${kept[@]}")
fi

mkdir -p "$save_dir"
log_file="${log_file:-$save_dir/train.log}"
read -r -a dev_flags <<< "$(device_flags)"
log "training $method model in $save_dir (log: $log_file)"
fairseq-train "$data" --user-dir "$(plugin_dir)" "${method_flags[@]}" \
  --save-dir "$save_dir" --log-format json --log-file "$log_file" --no-progress-bar \
  "${dev_flags[@]}" "${extra[@]}"
