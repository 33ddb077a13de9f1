#!/usr/bin/env bash
# Train one IWSLT'14 xx→en model with the paper's settings, as a baseline or with intra-distillation.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/iwslt14/train.sh --lang de --method {baseline,intra} [--preset {paper,small}]
                                [--out DIR] [--save-dir DIR] [--arch ARCH] [--max-update N] [--max-tokens N]
                                [--num-passes K] [--alpha-mode {adaptive,fixed}] [--force]
                                [FAIRSEQ-TRAIN OPTIONS...] [-- FAIRSEQ-TRAIN OPTIONS...]

Trains on OUT/data/<lang>-en/bin (made by scripts/iwslt14/prepare.sh) with the paper's recipe:
transformer_iwslt_de_en, Adam (0.9,0.98) eps 1e-6, lr 5e-4, inverse_sqrt with 8000 warm-up
updates, dropout 0.3, attention dropout 0.1, weight decay 1e-4, label smoothing 0.1,
50k updates, seed 1, 4096 target tokens per update whatever the number of GPUs (the
per-GPU batch and --update-freq are set from the GPUs found), --fp16 on GPUs that support
it, --cpu with a warning without one.
  baseline  label_smoothed_cross_entropy (the plugin is loaded all the same)
  intra     intra_distillation, K=3, alpha 5 with the adaptive schedule p=5, q=10, X-divergence
Also the authors' --fp16-init-scale 16, --patience 40, 512 positions and
--skip-invalid-size-inputs-valid-test.  Every flag comes from recipes.py (recipe iwslt14).
  --preset small      the CPU preset (recipe iwslt14-small): a 2+2-layer, 128-dimensional
                      Transformer, 2,048 tokens per update, 2,500 updates, lr 1e-3 with 500
                      warm-up updates, the same dropout and schedule semantics (alpha 1 at
                      N/10, 5 at N/5); meant for data prepared with prepare.sh --train-pairs
                      5000 --vocab-size 4000 (docs/reproduction.md)
  --out DIR           recipe folder (default: work/iwslt14)
  --save-dir DIR      checkpoints and train.log (default: OUT/runs/<lang>-en/<method>)
  --arch, --max-update, --max-tokens   override the recipe's (e.g. for a quick test)
  --num-passes K, --alpha-mode fixed   intra only: K and a constant alpha (the ablations)
  --force             delete SAVE_DIR and train from scratch
Any other option goes to fairseq-train after the recipe's, so it overrides them.
A finished run (SAVE_DIR/train.done) is skipped; an interrupted one resumes from
SAVE_DIR/checkpoint_last.pt.  Validation loss picks SAVE_DIR/checkpoint_best.pt.
USAGE
}

lang="" method="" preset="paper" out="work/iwslt14" save_dir="" force=0
recipe_opts=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --lang) lang="${2:-}"; shift 2 ;;
    --method) method="${2:-}"; shift 2 ;;
    --preset) preset="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --save-dir) save_dir="${2:-}"; shift 2 ;;
    --arch|--max-update|--max-tokens|--num-passes|--alpha-mode)
      [ -n "${2:-}" ] || die "$1 needs a value"
      recipe_opts+=("$1" "$2"); shift 2 ;;
    --force) force=1; shift ;;
    --) shift; extra+=("$@"); break ;;
    *) extra+=("$1"); shift ;;
  esac
done
require_value --lang "$lang"
require_value --method "$method"
require_value --out "$out"
case "$method" in baseline|intra) ;; *) die "--method must be baseline or intra (got '$method')" ;; esac
[[ "$lang" =~ ^[a-z][a-z]$ ]] || die "--lang must be a two-letter source language code (got '$lang')"
case "$preset" in paper) recipe=iwslt14 ;; small) recipe=iwslt14-small ;;
  *) die "--preset must be paper or small (got '$preset')" ;; esac
pair="$lang-en"
data="$out/data/$pair/bin"
[ -f "$data/done" ] || die "no prepared data in $data: run scripts/iwslt14/prepare.sh --langs $lang --out $out first"
save_dir="${save_dir:-$out/runs/$pair/$method}"

if [ -f "$save_dir/train.done" ] && [ "$force" -eq 0 ]; then
  log "$save_dir/train.done exists: $pair $method is trained, skipping (use --force to retrain)"
  exit 0
fi
[ "$force" -eq 0 ] || rm -rf "$save_dir"

mkdir -p "$save_dir"
if [ "$save_dir" = "$out/runs/$pair/$method" ]; then
  # Tells python -m fairseq_intradistill.results which paper numbers this experiment compares
  # with (the small preset: none, so its table shows n/a), and on which corpus: one that is not
  # the paper's data (recorded by prepare.sh from the archive's sha256) is never set beside them.
  benchmark="$(python -m fairseq_intradistill.recipes get --recipe "$recipe" benchmark)"
  corpus="$(python -m fairseq_intradistill.data.iwslt14 corpus --orig "$out/orig" --langs "$lang")"
  corpus_field=""  # none for data prepared before the record existed (the IWSLT release)
  [ -z "$corpus" ] || corpus_field="$(printf ', "corpus": "%s"' "$corpus")"
  printf '{"benchmark": "%s", "pair": "%s"%s}\n' "${benchmark:-$recipe}" "$pair" "$corpus_field" \
    > "$out/runs/$pair/experiment.json"
fi
[ ! -f "$save_dir/checkpoint_last.pt" ] || log "resuming from $save_dir/checkpoint_last.pt"
bash "$here/../common/train.sh" --data "$data" --method "$method" --save-dir "$save_dir" --recipe "$recipe" \
  ${recipe_opts[@]+"${recipe_opts[@]}"} ${extra[@]+"${extra[@]}"}
printf '%s\n' "$(date -u +%FT%TZ) $method --recipe $recipe ${recipe_opts[*]:-} ${extra[*]:-}" > "$save_dir/train.done"
log "$pair $method: done, checkpoints in $save_dir"
