#!/usr/bin/env bash
# The quickstart: baseline vs intra-distillation on a small offline corpus, on the CPU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/quickstart/run.sh [--out DIR] [--seeds N [N ...]] [--jobs N] [--valid-bleu]
                                 [--train-size N] [--rare-words N] [--eval-size N] [--max-update N]
                                 [--patience N] [--max-len-b N] [--force]

Baseline vs intra-distillation in the paper's regime, in miniature and offline: a synthetic
parallel corpus (fairseq_intradistill.data.toy_corpus) with a long tail of rare words and
few training pairs, so that the baseline overfits; the `quickstart` recipe of
fairseq_intradistill/recipes/__init__.py (a 3+3-layer, 128-dimensional Transformer, dropout 0.3,
at most 1,000 updates, stopped 10 validations after the best validation loss);
checkpoint_best by validation loss; beam 5.  Steps: corpus, joint
SentencePiece, fairseq-preprocess, fairseq-train for each method and seed
(scripts/common/train.sh), fairseq-generate on the validation and test sets
(scripts/common/evaluate.sh), then `python -m fairseq_intradistill.results`: test BLEU and
length ratio, sacreBLEU's paired bootstrap (p-value, 95% confidence intervals), training
cost, the best validation loss within the baseline's time, and mean +- std over seeds.
One seed took 14 min 48 s on 2 CPU cores (9 min 25 s before the patience on a faster machine;
docs/fidelity.md).
  --out DIR         working folder (default: work/quickstart); runs go to DIR/seed-S/METHOD
  --seeds N...      training seeds, one comparison each (default: 1); the corpus is the same
  --jobs N          trainings run at once, one CPU thread each (default: 2 on 2+ cores, else 1)
  --valid-bleu      also log validation BLEU (greedy) at every epoch, for the curves
                    (costs time; does not change training or the chosen checkpoint)
  --train-size N    training pairs (default: 500)
  --rare-words N    invented rare words in the corpus' long tail (default: 1500)
  --eval-size N     validation and test pairs each (default: 300)
  --max-update N    updates per model (default: the recipe's 1000; the schedule follows)
  --patience N      stop after N validations without a better loss (default: the recipe's 10;
                    -1 trains every update, as the runs of docs/fidelity.md before the patience)
  --max-len-b N     hypotheses end after at most N tokens (fairseq-generate's --max-len-b; default:
                    fairseq's 200), in the decoding and in --valid-bleu: for smoke runs, where a
                    barely trained model writes every hypothesis to the limit
  --force           start again from an empty working folder
Finished steps are skipped on a second run (the corpus is checked against its settings).
USAGE
}

out="work/quickstart" seeds=() jobs="" valid_bleu=0 train_size=500 rare_words=1500 eval_size=300 max_update="" patience=""
max_len_b="" force=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --out) out="${2:-}"; shift 2 ;;
    --seeds)
      shift
      while [ $# -gt 0 ] && [[ "$1" != --* ]]; do seeds+=("$1"); shift; done
      [ ${#seeds[@]} -gt 0 ] || die "--seeds needs at least one seed" ;;
    --jobs) jobs="${2:-}"; shift 2 ;;
    --valid-bleu) valid_bleu=1; shift ;;
    --train-size) train_size="${2:-}"; shift 2 ;;
    --rare-words) rare_words="${2:-}"; shift 2 ;;
    --eval-size) eval_size="${2:-}"; shift 2 ;;
    --max-update) max_update="${2:-}"; shift 2 ;;
    --patience) patience="${2:-}"; shift 2 ;;
    --max-len-b) max_len_b="${2:-}"; shift 2 ;;
    --force) force=1; shift ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[ ${#seeds[@]} -gt 0 ] || seeds=(1)
[ -n "$jobs" ] || { [ "$(nproc)" -ge 2 ] && jobs=2 || jobs=1; }
require_value --out "$out"
for seed in "${seeds[@]}"; do
  [[ "$seed" =~ ^[0-9]+$ ]] || die "--seeds takes non-negative integers (got '$seed')"
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer (got '$jobs')"
[[ "$train_size" =~ ^[1-9][0-9]*$ ]] || die "--train-size must be a positive integer (got '$train_size')"
[[ "$rare_words" =~ ^[0-9]+$ ]] || die "--rare-words must be a non-negative integer (got '$rare_words')"
[[ "$eval_size" =~ ^[1-9][0-9]*$ ]] || die "--eval-size must be a positive integer (got '$eval_size')"
[ -z "$max_update" ] || [[ "$max_update" =~ ^[1-9][0-9]*$ ]] \
  || die "--max-update must be a positive integer (got '$max_update')"
[ -z "$patience" ] || [[ "$patience" =~ ^(-1|[1-9][0-9]*)$ ]] \
  || die "--patience must be a positive integer or -1 (got '$patience')"
[ -z "$max_len_b" ] || [[ "$max_len_b" =~ ^[1-9][0-9]*$ ]] \
  || die "--max-len-b must be a positive integer (got '$max_len_b')"
[ "$force" -eq 0 ] || rm -rf "$out"
mkdir -p "$out"

# A corpus made with other settings must not be reused silently.
corpus="train=$train_size rare-words=$rare_words valid=$eval_size test=$eval_size seed=1"
if [ -f "$out/corpus.txt" ] && [ "$(cat "$out/corpus.txt")" != "$corpus" ]; then
  die "$out holds a corpus made with '$(cat "$out/corpus.txt")', not '$corpus': use --force or another --out"
fi
if [ ! -s "$out/raw/test.tgt" ]; then
  log "step 1/5: generating the toy corpus ($corpus)"
  python -m fairseq_intradistill.data.toy_corpus --out "$out/raw" --train "$train_size" --valid "$eval_size" --test "$eval_size" \
    --rare-words "$rare_words" --seed 1
  echo "$corpus" > "$out/corpus.txt"
fi

if [ ! -s "$out/spm/test.tgt" ]; then
  log "step 2/5: joint SentencePiece model and encoding (log: $out/spm.log)"
  vocab="$(python -m fairseq_intradistill.recipes get --recipe quickstart vocab_size)"
  python -m fairseq_intradistill.data.spm train --inputs "$out/raw/train.src" "$out/raw/train.tgt" \
    --model-prefix "$out/spm/spm" --vocab-size "$vocab" > "$out/spm.log" 2>&1 \
    || die "SentencePiece training failed, see $out/spm.log"
  for split in train valid test; do
    for side in src tgt; do
      python -m fairseq_intradistill.data.spm encode --model "$out/spm/spm.model" \
        --input "$out/raw/$split.$side" --output "$out/spm/$split.$side.tmp" >> "$out/spm.log" 2>&1
      mv "$out/spm/$split.$side.tmp" "$out/spm/$split.$side"
    done
  done
fi

if [ ! -f "$out/bin/test.src-tgt.tgt.bin" ]; then
  log "step 3/5: binarising with fairseq-preprocess"
  rm -rf "$out/bin"
  fairseq-preprocess --source-lang src --target-lang tgt --joined-dictionary \
    --trainpref "$out/spm/train" --validpref "$out/spm/valid" --testpref "$out/spm/test" \
    --destdir "$out/bin" --workers 2 > "$out/preprocess.log" 2>&1 \
    || die "fairseq-preprocess failed, see $out/preprocess.log"
fi

# One run: train (resumes or skips when finished), then decode valid and test with checkpoint_best.
# One CPU thread per run, so that parallel runs do not fight over the cores.
run_one() {  # run_one SEED METHOD
  local dir="$out/seed-$1/$2" extra=() decoding=() bleu_args='{"beam": 1}'
  [ -z "$max_update" ] || extra+=(--max-update "$max_update")
  [ -z "$patience" ] || extra+=(--patience "$patience")
  [ -z "$max_len_b" ] || { decoding+=(--max-len-b "$max_len_b"); bleu_args="{\"beam\": 1, \"max_len_b\": $max_len_b}"; }
  [ "$valid_bleu" -eq 0 ] || extra+=(--eval-bleu --eval-bleu-args "$bleu_args"
                                     --eval-bleu-remove-bpe sentencepiece)
  mkdir -p "$dir"
  if [ ! -f "$dir/train.done" ]; then
    OMP_NUM_THREADS=1 bash "$here/../common/train.sh" --data "$out/bin" --method "$2" --recipe quickstart \
      --save-dir "$dir" --seed "$1" "${extra[@]}" > "$dir/console.log" 2>&1 || return 1
    touch "$dir/train.done"
  fi
  for split in valid test; do
    OMP_NUM_THREADS=1 bash "$here/../common/evaluate.sh" --data "$out/bin" --checkpoint "$dir/checkpoint_best.pt" \
      --subset "$split" --reference "$out/raw/$split.tgt" --out "$dir" --beam 5 "${decoding[@]}" \
      >> "$dir/console.log" 2>&1 \
      || return 1
  done
}

log "step 4/5 and 5/5: training and decoding, seeds ${seeds[*]}, $jobs at a time (logs: $out/seed-*/*/console.log)"
pids=() names=()
for seed in "${seeds[@]}"; do
  for method in baseline intra; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
    log "  started seed $seed $method"
    run_one "$seed" "$method" &
    pids+=($!) names+=("seed-$seed/$method")
  done
done
failed=()
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then log "  finished ${names[$i]}"; else failed+=("${names[$i]}"); fi
done
[ ${#failed[@]} -eq 0 ] || die "failed: ${failed[*]} (see $out/<run>/console.log)"

folders=()
for seed in "${seeds[@]}"; do folders+=("$out/seed-$seed"); done
python -m fairseq_intradistill.results "${folders[@]}" --json "$out/results.json"
