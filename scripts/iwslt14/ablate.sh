#!/usr/bin/env bash
# The paper's ablations on one IWSLT'14 pair: the number of passes K, fixed vs adaptive alpha.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/iwslt14/ablate.sh --lang de [--passes "1 2 3 4 5"] [--alpha-modes "fixed adaptive"]
                                 [--preset {paper,small}] [--out DIR] [--force] [--dry-run]
                                 [-- TRAIN OPTIONS...]

Trains one intra-distillation model per K in --passes and alpha mode in --alpha-modes
(adaptive: the recipe's schedule, alpha reached at N/p; fixed: the recipe's alpha from the
first update; train.sh --help states them) with the recipe of scripts/iwslt14/train.sh,
evaluates each, and writes
  OUT/ablation/<lang>-en/<run>/            checkpoints, train.log (fairseq's JSON log, what the
                                           analysis tools plot), bleu-test.json
  OUT/ablation/<lang>-en/table.txt, .json  BLEU, training time and tokens/s per run
Runs are named K<k>-<mode>; K=1 is a single run "K1" (one pass has no divergence, so alpha
does not matter).  The pair must be prepared (scripts/iwslt14/prepare.sh).  Finished runs
are skipped; --force redoes them.  Options after -- go to every train.sh call.
--dry-run prints each run's fairseq-train command (train.sh --dry-run), one line per run, and
runs nothing: it works before the data is prepared.
  --out DIR   recipe folder (default: work/iwslt14)
  --preset    train.sh's recipe (default: paper; small: the CPU preset)
USAGE
}

lang="" passes="1 2 3 4 5" modes="fixed adaptive" out="work/iwslt14" preset=paper force=() dry_run=() train_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --lang) lang="${2:-}"; shift 2 ;;
    --passes) passes="${2:-}"; shift 2 ;;
    --alpha-modes) modes="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --preset) preset="${2:-}"; shift 2 ;;
    --force) force=(--force); shift ;;
    --dry-run) dry_run=(--dry-run); shift ;;
    --) shift; train_opts=("$@"); break ;;
    *) die "unknown option '$1' (see --help; fairseq-train options go after --)" ;;
  esac
done
require_value --lang "$lang"
require_value --passes "$passes"
require_value --alpha-modes "$modes"
case "$preset" in paper|small) ;; *) die "--preset must be paper or small (got '$preset')" ;; esac
for k in $passes; do [[ "$k" =~ ^[1-9][0-9]*$ ]] || die "--passes: '$k' is not a positive integer"; done
for mode in $modes; do
  case "$mode" in fixed|adaptive) ;; *) die "--alpha-modes: '$mode' is not fixed or adaptive" ;; esac
done
[ ${#dry_run[@]} -gt 0 ] || [ -f "$out/data/$lang-en/bin/done" ] \
  || die "no prepared data in $out/data/$lang-en/bin: run scripts/iwslt14/prepare.sh --langs $lang --out $out first"

dir="$out/ablation/$lang-en"
done_names=" "
for k in $passes; do
  for mode in $modes; do
    if [ "$k" -eq 1 ]; then name="K1"; else name="K$k-$mode"; fi
    [[ "$done_names" != *" $name "* ]] || continue  # K1 once, whatever the modes
    done_names+="$name "
    log "== ablation $lang-en $name"
    bash "$here/train.sh" --lang "$lang" --method intra --preset "$preset" --out "$out" --save-dir "$dir/$name" \
      --num-passes "$k" --alpha-mode "$mode" ${force[@]+"${force[@]}"} ${dry_run[@]+"${dry_run[@]}"} \
      -- ${train_opts[@]+"${train_opts[@]}"}
    [ ${#dry_run[@]} -eq 0 ] || continue
    bash "$here/evaluate.sh" --lang "$lang" --out "$out" --preset "$preset" --checkpoint "$dir/$name/checkpoint_best.pt" \
      ${force[@]+"${force[@]}"}
  done
done
[ ${#dry_run[@]} -gt 0 ] || python -m fairseq_intradistill.results "$dir" --json "$dir/table.json" | tee "$dir/table.txt"
