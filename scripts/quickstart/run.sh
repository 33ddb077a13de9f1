#!/usr/bin/env bash
# The quickstart: baseline vs intra-distillation on a small offline corpus, on the CPU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/quickstart/run.sh [--out DIR] [--max-update N] [--train-size N] [--force]

Builds a synthetic parallel corpus offline (fairseq_intradistill.data.toy_corpus), trains a
joint SentencePiece model, binarises with fairseq-preprocess, trains a baseline and an
intra-distillation Transformer with the same script a recipe uses (scripts/common/train.sh),
decodes the test set with fairseq-generate and prints BLEU (sacreBLEU), training time and
tokens/s for each.  About 7 minutes on 2 CPU cores.
  --out DIR         working folder (default: work/quickstart)
  --max-update N    updates per model (default: 800)
  --train-size N    training pairs (default: 8000)
  --force           start again from an empty working folder
Finished steps are skipped on a second run.
USAGE
}

out="work/quickstart" max_update=800 train_size=8000 force=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --out) out="${2:-}"; shift 2 ;;
    --max-update) max_update="${2:-}"; shift 2 ;;
    --train-size) train_size="${2:-}"; shift 2 ;;
    --force) force=1; shift ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
require_value --out "$out"
[[ "$max_update" =~ ^[1-9][0-9]*$ ]] || die "--max-update must be a positive integer (got '$max_update')"
[[ "$train_size" =~ ^[1-9][0-9]*$ ]] || die "--train-size must be a positive integer (got '$train_size')"
[ "$force" -eq 0 ] || rm -rf "$out"
mkdir -p "$out"

if [ ! -s "$out/raw/test.tgt" ]; then
  log "step 1/5: generating the toy corpus"
  python -m fairseq_intradistill.data.toy_corpus --out "$out/raw" --train "$train_size" --valid 300 --test 300
fi

if [ ! -s "$out/spm/test.tgt" ]; then
  log "step 2/5: joint SentencePiece model and encoding"
  python -m fairseq_intradistill.data.spm train --inputs "$out/raw/train.src" "$out/raw/train.tgt" \
    --model-prefix "$out/spm/spm" --vocab-size 500
  for split in train valid test; do
    for side in src tgt; do
      python -m fairseq_intradistill.data.spm encode --model "$out/spm/spm.model" \
        --input "$out/raw/$split.$side" --output "$out/spm/$split.$side.tmp"
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

# A small Transformer; the same recipe for both methods.
model=(--arch transformer --encoder-layers 2 --decoder-layers 2
       --encoder-embed-dim 64 --decoder-embed-dim 64 --encoder-ffn-embed-dim 128 --decoder-ffn-embed-dim 128
       --encoder-attention-heads 4 --decoder-attention-heads 4 --dropout 0.2 --attention-dropout 0.1
       --optimizer adam --adam-betas '(0.9,0.98)' --lr 2e-3 --lr-scheduler inverse_sqrt --warmup-updates 100
       --clip-norm 1.0 --label-smoothing 0.1 --max-tokens 2048 --max-update "$max_update" --seed 1
       --log-interval 50 --no-epoch-checkpoints --num-workers 0)
for method in baseline intra; do
  log "step 4/5: training $method ($max_update updates)"
  mkdir -p "$out/$method"
  # Show only fairseq's progress lines; the full output goes to console.log.
  status=0
  bash "$here/../common/train.sh" --data "$out/bin" --method "$method" --save-dir "$out/$method" "${model[@]}" 2>&1 \
    | tee "$out/$method/console.log" \
    | grep --line-buffered -E '\| (train_inner|train|valid) \||done training|Error' || status=${PIPESTATUS[0]}
  [ "$status" -eq 0 ] || die "training $method failed (exit $status), see $out/$method/console.log"
done

for method in baseline intra; do
  log "step 5/5: decoding the test set with the $method model"
  bash "$here/../common/evaluate.sh" --data "$out/bin" --checkpoint "$out/$method/checkpoint_last.pt" \
    --reference "$out/raw/test.tgt" --out "$out/$method" --beam 5
done

python -m fairseq_intradistill.results "$out"
