#!/usr/bin/env bash
# Train one model with fairseq-train, as a baseline or with intra-distillation.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/common/train.sh --data DIR --method {baseline,intra,self_distillation} --save-dir DIR
                               [--recipe NAME [--arch A] [--max-update N] [--max-tokens N]]
                               [--num-passes K] [--alpha-mode {adaptive,fixed}] [--log FILE]
                               [FAIRSEQ OPTIONS...]

Runs fairseq-train on binarised DATA with the plugin loaded (--user-dir), so that
baseline and intra-distillation checkpoints go through the same code and load anywhere.
Every recipe flag comes from python -m fairseq_intradistill.recipes (recipes.py):
  baseline           --task translation --criterion label_smoothed_cross_entropy
  intra              --task translation_intra_distillation --criterion intra_distillation
                     and the recipe's K, alpha and schedule (without --recipe: the paper's
                     IWSLT'14 ones, --num-passes 3 --alpha 5 --adaptive-alpha --alpha-p 5
                     --alpha-q 10 --divergence x)
  self_distillation  --task translation --criterion self_distillation (add --teacher-path ...)
  --recipe NAME      also the recipe's training flags and its batch plan for the GPUs found
                     (iwslt14, iwslt14-small, wmt17); --arch, --max-update and --max-tokens
                     then replace the recipe's (the update frequency follows --max-tokens)
  --num-passes K     intra: K passes instead of the recipe's
  --alpha-mode fixed intra: a constant alpha from the first update (drops --adaptive-alpha)
Every other option goes to fairseq-train after these, so it overrides them.
Adds --fp16 on GPUs that support it and --cpu (with a warning) when no GPU is found; a
broken fairseq or torch stops the script with its error.  Training resumes from
SAVE_DIR/checkpoint_last.pt when it exists, so a second run continues or does nothing.
The JSON log goes to --log (default SAVE_DIR/train.log) as well as to the terminal.
USAGE
}

data="" method="" save_dir="" log_file="" recipe=""
method_opts=() recipe_opts=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --data) data="${2:-}"; shift 2 ;;
    --method) method="${2:-}"; shift 2 ;;
    --save-dir) save_dir="${2:-}"; shift 2 ;;
    --log) log_file="${2:-}"; shift 2 ;;
    --recipe) recipe="${2:-}"; [ -n "$recipe" ] || die "--recipe needs a value"; shift 2 ;;
    --num-passes|--alpha-mode)
      [ -n "${2:-}" ] || die "$1 needs a value"
      method_opts+=("$1" "$2"); shift 2 ;;
    --arch|--max-update|--max-tokens)
      # A recipe's settings when --recipe is given (wherever it stands); fairseq's otherwise.
      [ -n "${2:-}" ] || die "$1 needs a value"
      recipe_opts+=("$1" "$2"); shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
require_value --data "$data"
require_value --method "$method"
require_value --save-dir "$save_dir"
compgen -G "$data/dict.*.txt" > /dev/null \
  || die "--data $data holds no fairseq dictionary (dict.*.txt): binarise it with fairseq-preprocess first"

user_dir="$(plugin_dir)"
gpus="$(num_gpus)"
query=(--method "$method" --gpus "$gpus" ${method_opts[@]+"${method_opts[@]}"})
if [ -n "$recipe" ]; then
  query+=(--recipe "$recipe" ${recipe_opts[@]+"${recipe_opts[@]}"})
else
  extra=(${recipe_opts[@]+"${recipe_opts[@]}"} ${extra[@]+"${extra[@]}"})
fi
# One flag per line; recipes.py explains a bad value (its message names the flag).
recipe_flags="$(python -m fairseq_intradistill.recipes flags "${query[@]}")" \
  || die "invalid options: ${query[*]}"
mapfile -t flags <<< "$recipe_flags"
dev="$(device_flags "$gpus")"
read -r -a dev_flags <<< "$dev"

mkdir -p "$save_dir"
log_file="${log_file:-$save_dir/train.log}"
log "training $method model in $save_dir (log: $log_file)"
fairseq-train "$data" --user-dir "$user_dir" "${flags[@]}" \
  --save-dir "$save_dir" --log-format json --log-file "$log_file" --no-progress-bar \
  ${dev_flags[@]+"${dev_flags[@]}"} ${extra[@]+"${extra[@]}"}
