#!/usr/bin/env bash
# Train the WMT'17 en→de Transformer-big with the authors' settings, baseline or intra-distillation.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/wmt17/train.sh --method {baseline,intra} [--out DIR] [--save-dir DIR]
                              [--arch ARCH] [--max-update N] [--max-tokens N] [--force]
                              [FAIRSEQ-TRAIN OPTIONS...] [-- FAIRSEQ-TRAIN OPTIONS...]

Trains on OUT/data/en-de/bin (scripts/wmt17/prepare.sh) with the authors' development
settings: transformer_vaswani_wmt_en_de_big (embeddings not shared), Adam (0.9,0.98) eps 1e-6,
lr 5e-4, inverse_sqrt with 4000 warm-up updates, dropout 0.3, attention dropout 0.1, weight
decay 1e-4, label smoothing 0.1, 80k updates, 65,536 target tokens per update (4096 x
update-freq 16 on one GPU; the per-GPU batch and --update-freq follow the GPUs found),
--fp16 where supported (initial loss scale 16), 512 positions, too-long validation
sentences skipped, validation and a checkpoint every 300 updates (the last one kept).
Every flag comes from recipes.py (recipe wmt17).
  intra   K=3, alpha 5, adaptive schedule p=10, q=16, X-divergence
  --out DIR        recipe folder (default: work/wmt17)
  --save-dir DIR   checkpoints and train.log (default: OUT/runs/en-de/<method>)
  --arch, --max-update, --max-tokens   override the recipe's (e.g. for a quick test)
  --force          delete SAVE_DIR and train from scratch
Other options go to fairseq-train after the recipe's.  A finished run (SAVE_DIR/train.done)
is skipped; an interrupted one resumes from SAVE_DIR/checkpoint_last.pt.
USAGE
}

method="" out="work/wmt17" save_dir="" force=0 recipe_opts=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --method) method="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --save-dir) save_dir="${2:-}"; shift 2 ;;
    --arch|--max-update|--max-tokens)
      [ -n "${2:-}" ] || die "$1 needs a value"
      recipe_opts+=("$1" "$2"); shift 2 ;;
    --force) force=1; shift ;;
    --) shift; extra+=("$@"); break ;;
    *) extra+=("$1"); shift ;;
  esac
done
require_value --method "$method"
require_value --out "$out"
case "$method" in baseline|intra) ;; *) die "--method must be baseline or intra (got '$method')" ;; esac
data="$out/data/en-de/bin"
[ -f "$data/done" ] || die "no prepared data in $data: run scripts/wmt17/prepare.sh --out $out first"
save_dir="${save_dir:-$out/runs/en-de/$method}"

if [ -f "$save_dir/train.done" ] && [ "$force" -eq 0 ]; then
  log "$save_dir/train.done exists: en-de $method is trained, skipping (use --force to retrain)"
  exit 0
fi
[ "$force" -eq 0 ] || rm -rf "$save_dir"

mkdir -p "$save_dir"
if [ "$save_dir" = "$out/runs/en-de/$method" ]; then
  printf '{"benchmark": "wmt17", "pair": "en-de"}\n' > "$out/runs/en-de/experiment.json"
fi
[ ! -f "$save_dir/checkpoint_last.pt" ] || log "resuming from $save_dir/checkpoint_last.pt"
bash "$here/../common/train.sh" --data "$data" --method "$method" --save-dir "$save_dir" --recipe wmt17 \
  ${recipe_opts[@]+"${recipe_opts[@]}"} ${extra[@]+"${extra[@]}"}
printf '%s\n' "$(date -u +%FT%TZ) $method --recipe wmt17 ${recipe_opts[*]:-} ${extra[*]:-}" > "$save_dir/train.done"
log "en-de $method: done, checkpoints in $save_dir"
