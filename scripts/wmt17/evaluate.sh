#!/usr/bin/env bash
# Decode newstest2017 en→de; detokenised sacreBLEU plus tokenised compound-split BLEU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/wmt17/evaluate.sh --checkpoint CKPT [--out DIR] [--eval-dir DIR]
                                 [--beam N] [--lenpen X] [--max-tokens 4096] [--force]
                                 [FAIRSEQ-GENERATE OPTIONS...]

Translates newstest2017 (OUT/data/en-de/bin, test) with fairseq-generate (beam 4, lenpen 0.6,
SentencePiece removed), fails naming any sentence without a hypothesis, and writes into EVAL_DIR (default:
the checkpoint's folder):
  bleu-test.json            detokenised sacreBLEU (13a, case-sensitive) against the raw
                            references, with its signature: the number to report
  bleu-test-compound.json   tokenised compound-split BLEU (Moses tokens, a ##AT##-##AT## b),
                            only for comparison with older papers
  --out DIR    recipe folder (default: work/wmt17)
  --beam, --lenpen  default: the recipe's (recipes.py: beam 4, lenpen 0.6, the authors'
               inference settings)
  --force      decode again even if the results exist
Any other option goes to fairseq-generate after these (e.g. --max-len-b 50, --batch-size 64).
USAGE
}

checkpoint="" out="work/wmt17" eval_dir="" beam="" lenpen="" max_tokens=4096 force=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
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
require_value --checkpoint "$checkpoint"
require_value --out "$out"
[ -f "$checkpoint" ] || die "--checkpoint $checkpoint does not exist"
data="$out/data/en-de"
[ -f "$data/bin/done" ] || die "no prepared data in $data/bin: run scripts/wmt17/prepare.sh --out $out first"
eval_dir="${eval_dir:-$(dirname "$checkpoint")}"

# The recipe's decoding settings (recipes.py) unless given.
beam="${beam:-$(python -m fairseq_intradistill.recipes get --recipe wmt17 beam)}"
lenpen="${lenpen:-$(python -m fairseq_intradistill.recipes get --recipe wmt17 lenpen)}"
bash "$here/../common/evaluate.sh" --data "$data/bin" --checkpoint "$checkpoint" \
  --reference "$data/raw/test.de" --out "$eval_dir" \
  --beam "$beam" --lenpen "$lenpen" --max-tokens "$max_tokens" ${force[@]+"${force[@]}"} ${extra[@]+"${extra[@]}"}
if [ -f "$eval_dir/bleu-test-compound.json" ] && [ "${#force[@]}" -eq 0 ]; then
  log "$eval_dir/bleu-test-compound.json exists, skipping (use --force to redo)"
else
  python -m fairseq_intradistill.data.wmt17 compound-bleu --hypotheses "$eval_dir/hyp-test.txt" \
    --reference "$data/raw/test.de" --out "$eval_dir/bleu-test-compound.json"
fi
