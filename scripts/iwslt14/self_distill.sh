#!/usr/bin/env bash
# The paper's case study: iterative self-distillation (model 1 -> model 2 -> model 3), then
# BLEU and parameter sensitivity of every generation in one table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/iwslt14/self_distill.sh --data DIR --reference FILE --out DIR
                                       [--generations 3] [--kd-alpha 1] [--kd-divergence kl]
                                       [--subset test] [--sensitivity-subset valid] [--max-batches N]
                                       [--beam 5] [--lowercase] [-- FAIRSEQ-TRAIN OPTIONS...]

Trains model 1 with label-smoothed cross-entropy, then model g+1 with
--criterion self_distillation and model g (its checkpoint_best.pt) as the frozen teacher,
all with the same recipe; decodes SUBSET of every model and scores it against the raw
REFERENCE (scripts/common/evaluate.sh), measures each model's parameter sensitivity on
--sensitivity-subset (python -m fairseq_intradistill.analysis sensitivity), and writes the
case-study table: BLEU and sensitivity std per generation.
  --data DIR            binarised data (fairseq-preprocess output, e.g. from scripts/iwslt14/prepare.sh)
  --reference FILE      raw references of SUBSET, one per line
  --out DIR             OUT/model<g>/ holds each model, its BLEU and sensitivity;
                        OUT/case_study/ the table (compare.md/.csv/.json) and overlaid histograms
  --generations N       models in the chain (default: 3)
  --kd-alpha A          weight of the divergence to the teacher (default: 1)
  --kd-divergence KIND  kl (KL(teacher || student), default) or x (the paper's X-divergence)
  --max-batches N       batches for the sensitivity (default: the whole subset)
  --beam, --lowercase   decoding and scoring (default: beam 5, case-sensitive)
The recipe is the paper's IWSLT'14 one, the same as scripts/iwslt14/train.sh's (recipes.py:
transformer_iwslt_de_en, 4096 target tokens per update whatever the number of GPUs, 50k
updates, ...); options after '--' go to fairseq-train after it, so they override it (e.g.
a tiny model for a test); --arch, --max-update and --max-tokens there replace the recipe's.
Finished steps are skipped when the script runs again.
USAGE
}

data="" reference="" out="" generations=3 kd_alpha=1 kd_divergence=kl subset=test sens_subset=valid
max_batches="" beam=5 lowercase=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --data) data="${2:-}"; shift 2 ;;
    --reference) reference="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --generations) generations="${2:-}"; shift 2 ;;
    --kd-alpha) kd_alpha="${2:-}"; shift 2 ;;
    --kd-divergence) kd_divergence="${2:-}"; shift 2 ;;
    --subset) subset="${2:-}"; shift 2 ;;
    --sensitivity-subset) sens_subset="${2:-}"; shift 2 ;;
    --max-batches) max_batches="${2:-}"; shift 2 ;;
    --beam) beam="${2:-}"; shift 2 ;;
    --lowercase) lowercase=(--lowercase); shift ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option '$1' (fairseq-train options go after '--'; see --help)" ;;
  esac
done
require_value --data "$data"
require_value --reference "$reference"
require_value --out "$out"
[ -d "$data" ] || die "--data $data does not exist"
compgen -G "$data/dict.*.txt" > /dev/null || die "--data $data holds no fairseq dictionary (dict.*.txt)"
[ -s "$reference" ] || die "--reference $reference is missing or empty"
[[ "$generations" =~ ^[1-9][0-9]*$ ]] || die "--generations must be a positive integer (got '$generations')"
[[ -z "$max_batches" || "$max_batches" =~ ^[1-9][0-9]*$ ]] || die "--max-batches must be a positive integer (got '$max_batches')"
case "$kd_divergence" in kl|x) ;; *) die "--kd-divergence must be kl or x (got '$kd_divergence')" ;; esac

sens_flags=()
[ -z "$max_batches" ] || sens_flags=(--max-batches "$max_batches")

mkdir -p "$out"
dirs=() labels=""
for g in $(seq 1 "$generations"); do
  dir="$out/model$g"
  if [ "$g" -eq 1 ]; then
    method=baseline teacher_flags=()
    what="model 1 (label-smoothed cross-entropy)"
  else
    teacher="$out/model$((g - 1))/checkpoint_best.pt"
    [ -f "$teacher" ] || die "the teacher $teacher is missing"
    method=self_distillation
    teacher_flags=(--teacher-path "$teacher" --kd-alpha "$kd_alpha" --kd-divergence "$kd_divergence")
    what="model $g (self-distillation from model $((g - 1)), kd-alpha $kd_alpha)"
  fi
  if [ -f "$dir/train.done" ]; then
    log "$what: trained, skipping"
  else
    log "training $what"
    mkdir -p "$dir"
    # The IWSLT'14 recipe and its batch plan (recipes.py), as scripts/iwslt14/train.sh trains.
    bash "$here/../common/train.sh" --data "$data" --method "$method" --recipe iwslt14 --save-dir "$dir" \
      ${teacher_flags[@]+"${teacher_flags[@]}"} ${extra[@]+"${extra[@]}"} > "$dir/console.log" 2>&1 \
      || die "training model $g failed, see $dir/console.log"
    touch "$dir/train.done"
  fi
  bash "$here/../common/evaluate.sh" --data "$data" --checkpoint "$dir/checkpoint_best.pt" \
    --reference "$reference" --subset "$subset" --out "$dir" --beam "$beam" "${lowercase[@]}" > /dev/null
  if [ -f "$dir/sensitivity.json" ]; then
    log "model $g: sensitivity measured, skipping"
  else
    log "model $g: parameter sensitivity on $sens_subset"
    python -m fairseq_intradistill.analysis sensitivity "$data" --path "$dir/checkpoint_best.pt" \
      --subset "$sens_subset" --label "model $g" --out "$dir" --no-progress "${sens_flags[@]}" \
      2> "$dir/sensitivity.log" || die "sensitivity of model $g failed, see $dir/sensitivity.log"
  fi
  dirs+=("$dir")
  labels="${labels:+$labels,}model $g"
done

log "case-study table (BLEU on $subset, sensitivity on $sens_subset)"
python -m fairseq_intradistill.analysis compare "${dirs[@]}" --labels "$labels" \
  --out "$out/case_study" --title "iterative self-distillation"
