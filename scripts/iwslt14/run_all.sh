#!/usr/bin/env bash
# IWSLT'14 xx→en end to end: prepare, train baseline and intra-distillation, evaluate, summarise.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/iwslt14/run_all.sh [--langs "SRC ..."] [--archive FILE] [--out DIR]
                                  [--methods "baseline intra"] [--preset {paper,small}]
                                  [--train-pairs N] [--subset-seed 1] [--vocab-size N] [--force]
                                  [-- TRAIN OPTIONS...]

For every source language: scripts/iwslt14/prepare.sh, scripts/iwslt14/train.sh for each
method, scripts/iwslt14/evaluate.sh on each checkpoint_best.pt, then the table of
python -m fairseq_intradistill.results over OUT/runs/<src>-en (also saved as
OUT/results.txt and OUT/results.json).  Options after -- go to every train.sh call
(e.g. --max-update 1000, or fairseq-train options).  Every step skips what is finished, so
running it again resumes an interrupted reproduction; --force redoes everything.
  --langs "..."   source languages (default: the paper's eight, as python -m
                  fairseq_intradistill.data.iwslt14 langs prints them); any the archive holds
  --archive FILE  the IWSLT 2014 release (downloaded without it), or another archive in its
                  layout, e.g. ../shared/data/l10n-fr-sv/2014-01.tgz with --langs "fr sv": real
                  fr/sv→en software messages, not the paper's data (docs/reproduction.md); the
                  table then names that corpus and shows no paper number
  --out DIR    recipe folder (default: work/iwslt14)
  --preset small   the CPU preset (train.sh --preset small; SentencePiece 4k unless
                   --vocab-size); use it with --train-pairs 8000 and its own --out
  --train-pairs N, --subset-seed S, --vocab-size N   go to prepare.sh
USAGE
}

langs="" langs_given=0 archive="" out="work/iwslt14" methods="baseline intra" preset=paper
force=() train_opts=() data_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --langs) langs="${2:-}"; langs_given=1; shift 2 ;;
    --archive) archive="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --methods) methods="${2:-}"; shift 2 ;;
    --preset) preset="${2:-}"; shift 2 ;;
    --vocab-size|--train-pairs|--subset-seed)
      [ -n "${2:-}" ] || die "$1 needs a value"
      data_opts+=("$1" "$2"); shift 2 ;;
    --force) force=(--force); shift ;;
    --) shift; train_opts=("$@"); break ;;
    *) die "unknown option '$1' (see --help; fairseq-train options go after --)" ;;
  esac
done
# The paper's source languages, from the one place that lists them (data/corpora.py).
[ "$langs_given" -eq 1 ] || langs="$(python -m fairseq_intradistill.data.iwslt14 langs)"
require_value --langs "$langs"
require_value --out "$out"
require_value --methods "$methods"
for method in $methods; do
  case "$method" in baseline|intra) ;; *) die "--methods: '$method' is not baseline or intra" ;; esac
done

case "$preset" in paper|small) ;; *) die "--preset must be paper or small (got '$preset')" ;; esac

prepare=(--langs "$langs" --out "$out" --preset "$preset" ${data_opts[@]+"${data_opts[@]}"})
[ -z "$archive" ] || prepare+=(--archive "$archive")
bash "$here/prepare.sh" "${prepare[@]}" ${force[@]+"${force[@]}"}

experiments=()
for lang in $langs; do
  for method in $methods; do
    log "== $lang-en $method: training"
    bash "$here/train.sh" --lang "$lang" --method "$method" --preset "$preset" --out "$out" ${force[@]+"${force[@]}"} \
      -- ${train_opts[@]+"${train_opts[@]}"}
    log "== $lang-en $method: evaluating"
    bash "$here/evaluate.sh" --lang "$lang" --out "$out" --preset "$preset" \
      --checkpoint "$out/runs/$lang-en/$method/checkpoint_best.pt" ${force[@]+"${force[@]}"}
  done
  experiments+=("$out/runs/$lang-en")
done

python -m fairseq_intradistill.results "${experiments[@]}" --json "$out/results.json" | tee "$out/results.txt"
