#!/usr/bin/env bash
# WMT'17 en→de: corpora → cleaned text → joint SentencePiece (32k) → fairseq binaries.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/wmt17/prepare.sh [--archive-dir DIR] [--out DIR] [--vocab-size 32000]
                                [--spm-sentences 2000000] [--workers N] [--force]

  OUT/data/en-de/raw/   train/valid/test.{en,de}: Europarl v7 + Common Crawl + News Commentary
                        v12 + Rapid 2016, punctuation-normalised, pairs with a side outside
                        1-250 Moses tokens or a length ratio over 1.5 dropped (about 4.5M pairs
                        kept); valid = newstest2016, test = newstest2017 (raw references)
  OUT/data/en-de/spm/   joint SentencePiece model (32k pieces) and the encoded text
  OUT/data/en-de/bin/   fairseq-preprocess output, one joint dictionary (embeddings not shared)
  --archive-dir DIR     the downloaded files (names in docs/reproduction.md); without it they
                        are downloaded into OUT/downloads/
  --out DIR             working folder (default: work/wmt17)
  --vocab-size N        SentencePiece pieces (default: 32000)
  --spm-sentences N     sentences sampled to train SentencePiece (default: 2000000)
  --workers N           processes for Moses and fairseq-preprocess (default: up to 8 cores)
  --force               redo every step
Finished steps are skipped on a second run; an interrupted step is redone.
USAGE
}

archive_dir="" out="work/wmt17" vocab_size="" spm_sentences=2000000 workers=0 force=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --archive-dir) archive_dir="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --vocab-size) vocab_size="${2:-}"; shift 2 ;;
    --spm-sentences) spm_sentences="${2:-}"; shift 2 ;;
    --workers) workers="${2:-}"; shift 2 ;;
    --force) force=1; shift ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
require_value --out "$out"
vocab_size="${vocab_size:-$(python -m fairseq_intradistill.recipes get --recipe wmt17 vocab_size)}"
[[ "$vocab_size" =~ ^[1-9][0-9]*$ ]] || die "--vocab-size must be a positive integer (got '$vocab_size')"
[[ "$spm_sentences" =~ ^[1-9][0-9]*$ ]] || die "--spm-sentences must be a positive integer (got '$spm_sentences')"
[[ "$workers" =~ ^[0-9]+$ ]] || die "--workers must be a non-negative integer (got '$workers')"
if [ "$workers" -eq 0 ]; then workers="$(python -c 'import os; print(min(8, os.cpu_count() or 1))')"; fi
if [ -n "$archive_dir" ] && [ ! -d "$archive_dir" ]; then die "--archive-dir $archive_dir is not a folder"; fi
data="$out/data/en-de"
[ "$force" -eq 0 ] || rm -rf "$data"

if [ -f "$data/raw/stats.json" ]; then
  log "step 1 (cleaned text) done, skipping"
else
  if [ -z "$archive_dir" ]; then
    archive_dir="$out/downloads"
    log "step 1: downloading the corpora into $archive_dir"
    python -m fairseq_intradistill.data.wmt17 fetch --archive-dir "$archive_dir"
  fi
  log "step 1: normalising and cleaning the corpora of $archive_dir (long: about 6M pairs)"
  rm -rf "$data"
  python -m fairseq_intradistill.data.wmt17 raw --archive-dir "$archive_dir" --out "$data/raw" --workers "$workers"
fi

if [ -f "$data/spm/done" ]; then
  log "step 2 (SentencePiece) done, skipping"
else
  log "step 2: joint SentencePiece model ($vocab_size pieces) and encoding"
  rm -rf "$data/spm" "$data/bin"
  python -m fairseq_intradistill.data.spm train --inputs "$data/raw/train.en" "$data/raw/train.de" \
    --model-prefix "$data/spm/spm" --vocab-size "$vocab_size" --input-sentence-size "$spm_sentences"
  for split in train valid test; do
    for side in en de; do
      python -m fairseq_intradistill.data.spm encode --model "$data/spm/spm.model" \
        --input "$data/raw/$split.$side" --output "$data/spm/$split.$side"
    done
  done
  touch "$data/spm/done"
fi

if [ -f "$data/bin/done" ]; then
  log "step 3 (binarising) done, skipping"
else
  log "step 3: fairseq-preprocess with a joint dictionary"
  rm -rf "$data/bin"
  mkdir -p "$data/bin"
  fairseq-preprocess --source-lang en --target-lang de --joined-dictionary \
    --trainpref "$data/spm/train" --validpref "$data/spm/valid" --testpref "$data/spm/test" \
    --destdir "$data/bin" --workers "$workers" > "$data/preprocess.log" 2>&1 \
    || die "fairseq-preprocess failed, see $data/preprocess.log"
  touch "$data/bin/done"
fi
log "en-de: ready in $data/bin ($(tr -d '\n ' < "$data/raw/stats.json"))"
