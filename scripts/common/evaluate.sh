#!/usr/bin/env bash
# Decode a test set with fairseq-generate and score it with sacreBLEU.
# --required-batch-size-multiple 1: with fairseq's default of 8, this fairseq drops the
# longest sentences of the last batch from the output (seen with ve-fairseq 0.12.3).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/common/evaluate.sh --data DIR --checkpoint CKPT --reference FILE --out DIR
                                  [--subset test] [--beam 5] [--lenpen 1.0] [--max-tokens 4096]
                                  [--lowercase] [--force] [FAIRSEQ-GENERATE OPTIONS...]

Decodes SUBSET of the binarised DATA with fairseq-generate (SentencePiece removed),
puts the hypotheses back in sentence order, checks that every sentence has one, and
scores them against the raw REFERENCE with sacreBLEU.  Writes into OUT:
  generate-SUBSET.txt  fairseq-generate's output (its log: generate-SUBSET.log)
  hyp-SUBSET.txt       the hypotheses, one per reference line
  bleu-SUBSET.json     {"bleu", "signature", "score_string", "num_sentences"}
Any other option (e.g. --max-len-b 50, --batch-size 64, --nbest 1) goes to fairseq-generate
after these, so it overrides them.  A finished evaluation is not redone unless --force is given.
USAGE
}

data="" checkpoint="" reference="" out="" subset="test" beam=5 lenpen=1.0 max_tokens=4096 force=0 lowercase=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --data) data="${2:-}"; shift 2 ;;
    --checkpoint) checkpoint="${2:-}"; shift 2 ;;
    --reference) reference="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --subset) subset="${2:-}"; shift 2 ;;
    --beam) beam="${2:-}"; shift 2 ;;
    --lenpen) lenpen="${2:-}"; shift 2 ;;
    --max-tokens) max_tokens="${2:-}"; shift 2 ;;
    --lowercase) lowercase=(--lowercase); shift ;;
    --force) force=1; shift ;;
    *) extra+=("$1"); shift ;;
  esac
done
require_value --data "$data"
require_value --checkpoint "$checkpoint"
require_value --reference "$reference"
require_value --out "$out"
[ -d "$data" ] || die "--data $data does not exist"
[ -f "$checkpoint" ] || die "--checkpoint $checkpoint does not exist"
[ -s "$reference" ] || die "--reference $reference is missing or empty"

json="$out/bleu-$subset.json"
if [ -f "$json" ] && [ "$force" -eq 0 ]; then
  log "$json exists, skipping (use --force to redo)"
  cat "$json"
  exit 0
fi
user_dir="$(plugin_dir)"
gpus="$(num_gpus)"
mkdir -p "$out"
cpu=()
[ "$gpus" -gt 0 ] || cpu=(--cpu)
log "decoding $subset with $checkpoint (beam $beam, lenpen $lenpen${extra[*]:+, ${extra[*]}})"
fairseq-generate "$data" --user-dir "$user_dir" --path "$checkpoint" --gen-subset "$subset" \
  --beam "$beam" --lenpen "$lenpen" --max-tokens "$max_tokens" --remove-bpe sentencepiece \
  --required-batch-size-multiple 1 ${cpu[@]+"${cpu[@]}"} ${extra[@]+"${extra[@]}"} \
  > "$out/generate-$subset.txt.tmp" 2> "$out/generate-$subset.log" \
  || die "fairseq-generate failed, see $out/generate-$subset.log"
mv "$out/generate-$subset.txt.tmp" "$out/generate-$subset.txt"
python -m fairseq_intradistill.evaluation --generate-output "$out/generate-$subset.txt" \
  --reference "$reference" --hypotheses "$out/hyp-$subset.txt" --out "$json" "${lowercase[@]}"
