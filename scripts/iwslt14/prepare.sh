#!/usr/bin/env bash
# IWSLT'14 xx→en: the release → cleaned text → joint SentencePiece → fairseq binaries, per pair.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/iwslt14/prepare.sh [--langs "SRC ..."] [--archive FILE] [--out DIR]
                                  [--train-pairs N] [--subset-seed 1] [--preset {paper,small}]
                                  [--vocab-size N] [--workers N] [--force]

Prepares IWSLT'14 xx→en as the paper's authors did (docs/reproduction.md), for each source
language of --langs (any source language the archive holds, not only the paper's eight):
  OUT/orig/<src>-en.tgz            the pair's archive, taken out of the release 2014-01.tgz
  OUT/orig/<src>-en.source.json    which archive (sha256) and corpus it came from: the IWSLT
                                   release, or a known corpus in its layout that is not the
                                   paper's data (l10n-fr-sv: docs/reproduction.md)
  OUT/data/<src>-en/raw/           train/valid/test.{<src>,en}: Moses-tokenised, cleaned (ratio 1.5,
                                   1-175 tokens), lowercased, detokenised; valid = every 23rd
                                   training line; test = dev2010+dev2012+tst2010+tst2011+tst2012
  OUT/data/<src>-en/subset/        with --train-pairs: the training pairs kept
  OUT/data/<src>-en/preparation.json  the subset and vocabulary size this pair was prepared with
  OUT/data/<src>-en/spm/           joint SentencePiece model (12k pieces) and the encoded text
  OUT/data/<src>-en/bin/           fairseq-preprocess output with one joint dictionary
  --langs "..."     source languages (default: the paper's eight, as
                    python -m fairseq_intradistill.data.iwslt14 langs prints them)
  --archive FILE    a local copy of 2014-01.tgz, or another archive in its layout (e.g.
                    ../shared/data/l10n-fr-sv/2014-01.tgz: real fr/sv→en, not the paper's data);
                    without it the release is downloaded into OUT/downloads/ and checked (see
                    docs/reproduction.md for the checksum)
  --out DIR         working folder (default: work/iwslt14)
  --train-pairs N   train on a random subset of N training pairs (valid and test unchanged),
                    chosen before SentencePiece is trained, so the vocabulary is the subset's
  --subset-seed S   the subset's random seed (default: 1)
  --preset NAME     sets the --vocab-size default: paper 12000, small 4000 (recipes.py)
  --vocab-size N    SentencePiece pieces per pair (default: the preset's)
  --workers N       processes for tokenisation and fairseq-preprocess (default: up to 8 cores)
  --force           redo every step for these languages
Finished steps are skipped on a second run; an interrupted step is redone.  A pair prepared
with another --train-pairs, --subset-seed or --vocab-size, or taken from another --archive
(another sha256), is refused (use --force or another --out).
USAGE
}

langs="" langs_given=0 archive="" out="work/iwslt14" vocab_size="" workers=0 force=0
train_pairs=0 subset_seed=1 preset=paper
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --langs) langs="${2:-}"; langs_given=1; shift 2 ;;
    --archive) archive="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --vocab-size) vocab_size="${2:-}"; shift 2 ;;
    --train-pairs) train_pairs="${2:-}"; shift 2 ;;
    --subset-seed) subset_seed="${2:-}"; shift 2 ;;
    --preset) preset="${2:-}"; shift 2 ;;
    --workers) workers="${2:-}"; shift 2 ;;
    --force) force=1; shift ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
# The paper's source languages, from the one place that lists them (data/corpora.py).
[ "$langs_given" -eq 1 ] || langs="$(python -m fairseq_intradistill.data.iwslt14 langs)"
require_value --langs "$langs"
require_value --out "$out"
case "$preset" in paper) recipe=iwslt14 ;; small) recipe=iwslt14-small ;;
  *) die "--preset must be paper or small (got '$preset')" ;; esac
vocab_size="${vocab_size:-$(python -m fairseq_intradistill.recipes get --recipe "$recipe" vocab_size)}"
[[ "$train_pairs" =~ ^[0-9]+$ ]] || die "--train-pairs must be a positive integer (got '$train_pairs')"
[[ "$subset_seed" =~ ^[0-9]+$ ]] || die "--subset-seed must be a non-negative integer (got '$subset_seed')"
[[ "$vocab_size" =~ ^[1-9][0-9]*$ ]] || die "--vocab-size must be a positive integer (got '$vocab_size')"
[[ "$workers" =~ ^[0-9]+$ ]] || die "--workers must be a non-negative integer (got '$workers')"
for lang in $langs; do
  [[ "$lang" =~ ^[a-z][a-z]$ ]] || die "--langs: '$lang' is not a two-letter language code"
  [ "$lang" != en ] || die "--langs: en is the target side of every pair; give source languages"
done
if [ "$workers" -eq 0 ]; then workers="$(python -c 'import os; print(min(8, os.cpu_count() or 1))')"; fi
if [ -n "$archive" ] && [ ! -f "$archive" ]; then die "--archive $archive does not exist"; fi

if [ "$force" -eq 1 ]; then
  for lang in $langs; do rm -rf "$out/data/$lang-en" "$out/orig/$lang-en.tgz" "$out/orig/$lang-en.source.json"; done
fi

# Step 1: the pairs' archives out of the release (one pass over it for all missing languages).
missing=() present=()
for lang in $langs; do
  if [ -f "$out/orig/$lang-en.tgz" ]; then present+=("$lang"); else missing+=("$lang"); fi
done
# A pair already taken out of another archive (e.g. the IWSLT release's fr-en when this is
# another corpus's fr-en) is refused rather than silently reused.
if [ -n "$archive" ] && [ "${#present[@]}" -gt 0 ]; then
  python -m fairseq_intradistill.data.iwslt14 corpus --orig "$out/orig" --langs "${present[*]}" \
    --archive "$archive" > /dev/null || die "$out/orig holds pairs of another archive (above)"
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ -z "$archive" ]; then
    archive="$out/downloads/2014-01.tgz"
    log "step 1: fetching the IWSLT 2014 release into $archive"
    python -m fairseq_intradistill.data.iwslt14 fetch --target "$archive"
  fi
  log "step 1: taking ${missing[*]} out of $archive"
  python -m fairseq_intradistill.data.iwslt14 unpack --archive "$archive" --langs "${missing[*]}" --out "$out/orig"
else
  log "step 1: pair archives present in $out/orig, skipping"
fi

for lang in $langs; do
  pair="$lang-en" data="$out/data/$lang-en"
  if [ -f "$data/raw/stats.json" ]; then
    log "$pair: step 2 (cleaned text) done, skipping"
  else
    log "$pair: step 2: tokenising, cleaning, lowercasing, detokenising"
    rm -rf "$data/raw" "$data/subset" "$data/spm" "$data/bin" "$data/preparation.json"
    python -m fairseq_intradistill.data.iwslt14 raw --pair-archive "$out/orig/$pair.tgz" --lang "$lang" \
      --out "$data/raw" --workers "$workers"
  fi

  # Which training pairs, and the record that makes a rerun with other settings fail.
  selected="$(python -m fairseq_intradistill.data.iwslt14 select --pair-dir "$data" --lang "$lang" \
    --train-pairs "$train_pairs" --subset-seed "$subset_seed" --vocab-size "$vocab_size")"
  train_dir="$data/raw"
  if [ "$train_pairs" -gt 0 ]; then
    train_dir="$data/subset"
    log "$pair: training on $train_pairs pairs drawn with seed $subset_seed ($train_dir)"
  fi
  if [ "$selected" = written ]; then rm -rf "$data/spm" "$data/bin"; fi

  if [ -f "$data/spm/done" ]; then
    log "$pair: step 3 (SentencePiece) done, skipping"
  else
    log "$pair: step 3: joint SentencePiece model ($vocab_size pieces) and encoding"
    rm -rf "$data/spm" "$data/bin"
    python -m fairseq_intradistill.data.spm train --inputs "$train_dir/train.$lang" "$train_dir/train.en" \
      --model-prefix "$data/spm/spm" --vocab-size "$vocab_size" --character-coverage 0.99999995 \
      --input-sentence-size 1000000
    for side in "$lang" en; do
      python -m fairseq_intradistill.data.spm encode --model "$data/spm/spm.model" \
        --input "$train_dir/train.$side" --output "$data/spm/train.$side"
      for split in valid test; do
        python -m fairseq_intradistill.data.spm encode --model "$data/spm/spm.model" \
          --input "$data/raw/$split.$side" --output "$data/spm/$split.$side"
      done
    done
    touch "$data/spm/done"
  fi

  if [ -f "$data/bin/done" ]; then
    log "$pair: step 4 (binarising) done, skipping"
  else
    log "$pair: step 4: fairseq-preprocess with a joint dictionary"
    rm -rf "$data/bin"
    mkdir -p "$data/bin"
    fairseq-preprocess --source-lang "$lang" --target-lang en --joined-dictionary \
      --trainpref "$data/spm/train" --validpref "$data/spm/valid" --testpref "$data/spm/test" \
      --destdir "$data/bin" --workers "$workers" > "$data/preprocess.log" 2>&1 \
      || die "fairseq-preprocess failed for $pair, see $data/preprocess.log"
    touch "$data/bin/done"
  fi
  corpus="$(python -m fairseq_intradistill.data.iwslt14 corpus --orig "$out/orig" --langs "$lang")"
  # What fairseq-preprocess binarised (the subset, with --train-pairs), then the cleaned corpus.
  binarised="train $(($(wc -l < "$data/spm/train.en"))), valid $(($(wc -l < "$data/spm/valid.en")))"
  binarised+=", test $(($(wc -l < "$data/spm/test.en")))"
  subset_note=""  # stats.json counts the cleaned corpus, before any subset (issue 15)
  [ "$train_pairs" -eq 0 ] || subset_note="; training on a subset of $train_pairs of those pairs"
  log "$pair: ready in $data/bin (corpus ${corpus:-unrecorded}; binarised $binarised pairs;" \
    "cleaned corpus $(tr -d '\n ' < "$data/raw/stats.json")$subset_note)"
done
