#!/usr/bin/env bash
# Decode the IWSLT'14 test set of one pair and score it with sacreBLEU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/iwslt14/evaluate.sh --lang de --checkpoint CKPT [--out DIR] [--eval-dir DIR]
                                   [--beam N] [--lenpen X] [--max-tokens 4096] [--force]
                                   [FAIRSEQ-GENERATE OPTIONS...]

Translates OUT/data/<lang>-en/bin's test set (dev2010+dev2012+tst2010+tst2011+tst2012) with
fairseq-generate (beam 5, lenpen 1.0, SentencePiece removed), puts the hypotheses back in
sentence order, fails naming any sentence without a hypothesis, and scores them with
sacreBLEU (13a) against the raw lowercased references OUT/data/<lang>-en/raw/test.en.
Writes into EVAL_DIR (default: the checkpoint's folder) generate-test.txt, hyp-test.txt and
bleu-test.json (BLEU with its sacreBLEU signature).
  --out DIR      recipe folder (default: work/iwslt14)
  --beam, --lenpen  default: the recipe's (recipes.py: beam 5, lenpen 1.0, as the paper)
  --force        decode again even if bleu-test.json exists
Any other option goes to fairseq-generate after these (e.g. --max-len-b 50, --batch-size 64).
USAGE
}

lang="" checkpoint="" out="work/iwslt14" eval_dir="" beam="" lenpen="" max_tokens=4096 force=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --lang) lang="${2:-}"; shift 2 ;;
    --checkpoint) checkpoint="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --eval-dir) eval_dir="${2:-}"; shift 2 ;;
    --beam) beam="${2:-}"; shift 2 ;;
    --lenpen) lenpen="${2:-}"; shift 2 ;;
    --max-tokens) max_tokens="${2:-}"; shift 2 ;;
    --force) force=(--force); shift ;;
    --) shift; extra+=("$@"); break ;;
    *) extra+=("$1"); shift ;;
  esac
done
require_value --lang "$lang"
require_value --checkpoint "$checkpoint"
require_value --out "$out"
[[ "$lang" =~ ^[a-z][a-z]$ ]] || die "--lang must be a two-letter source language code (got '$lang')"
[ -f "$checkpoint" ] || die "--checkpoint $checkpoint does not exist"
data="$out/data/$lang-en"
[ -f "$data/bin/done" ] || die "no prepared data in $data/bin: run scripts/iwslt14/prepare.sh --langs $lang --out $out first"

# The recipe's decoding settings (recipes.py) unless given.
beam="${beam:-$(python -m fairseq_intradistill.data.recipes get --recipe iwslt14 beam)}"
lenpen="${lenpen:-$(python -m fairseq_intradistill.data.recipes get --recipe iwslt14 lenpen)}"
bash "$here/../common/evaluate.sh" --data "$data/bin" --checkpoint "$checkpoint" \
  --reference "$data/raw/test.en" --out "${eval_dir:-$(dirname "$checkpoint")}" \
  --beam "$beam" --lenpen "$lenpen" --max-tokens "$max_tokens" ${force[@]+"${force[@]}"} ${extra[@]+"${extra[@]}"}
