#!/usr/bin/env bash
# Decode the IWSLT'14 test set of one pair and score it with sacreBLEU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/iwslt14/evaluate.sh --lang de --checkpoint CKPT [--out DIR] [--eval-dir DIR]
                                   [--subset {test,valid}] [--preset {paper,small}] [--beam N] [--lenpen X] [--max-tokens 4096] [--force]
                                   [FAIRSEQ-GENERATE OPTIONS...]

Translates OUT/data/<lang>-en/bin's test set (dev2010+dev2012+tst2010+tst2011+tst2012) with
fairseq-generate (beam 5, lenpen 1.0, SentencePiece removed), puts the hypotheses back in
sentence order, fails naming any sentence without a hypothesis, and scores them with
sacreBLEU (13a) against the raw lowercased references OUT/data/<lang>-en/raw/test.en.
Writes into EVAL_DIR (default: the checkpoint's folder) generate-test.txt, hyp-test.txt and
bleu-test.json (BLEU with its sacreBLEU signature).
  --subset valid the validation set instead (every 23rd training line; references raw/valid.en),
                 to choose decoding settings or checkpoints without looking at the test set;
                 writes generate-valid.txt, hyp-valid.txt and bleu-valid.json
  --out DIR      recipe folder (default: work/iwslt14)
  --preset NAME  whose decoding settings are the defaults: paper (recipe iwslt14, the default)
                 or small (recipe iwslt14-small)
  --beam, --lenpen  default: the preset's (recipes.py; the paper's: beam 5, lenpen 1.0)
  --force        decode again even if bleu-test.json exists
Any other option goes to fairseq-generate after these (e.g. --max-len-b 50, --batch-size 64).
USAGE
}

lang="" checkpoint="" out="work/iwslt14" eval_dir="" subset=test preset=paper beam="" lenpen="" max_tokens=4096 force=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --lang) lang="${2:-}"; shift 2 ;;
    --checkpoint) checkpoint="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --eval-dir) eval_dir="${2:-}"; shift 2 ;;
    --subset) subset="${2:-}"; shift 2 ;;
    --preset) preset="${2:-}"; shift 2 ;;
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
case "$subset" in test|valid) ;; *) die "--subset must be test or valid (got '$subset')" ;; esac
case "$preset" in paper) recipe=iwslt14 ;; small) recipe=iwslt14-small ;;
  *) die "--preset must be paper or small (got '$preset')" ;; esac
data="$out/data/$lang-en"
[ -f "$data/bin/done" ] || die "no prepared data in $data/bin: run scripts/iwslt14/prepare.sh --langs $lang --out $out first"

# The recipe's decoding settings (recipes.py) unless given.
beam="${beam:-$(python -m fairseq_intradistill.recipes get --recipe "$recipe" beam)}"
lenpen="${lenpen:-$(python -m fairseq_intradistill.recipes get --recipe "$recipe" lenpen)}"
bash "$here/../common/evaluate.sh" --data "$data/bin" --checkpoint "$checkpoint" \
  --subset "$subset" --reference "$data/raw/$subset.en" --out "${eval_dir:-$(dirname "$checkpoint")}" \
  --beam "$beam" --lenpen "$lenpen" --max-tokens "$max_tokens" ${force[@]+"${force[@]}"} ${extra[@]+"${extra[@]}"}
