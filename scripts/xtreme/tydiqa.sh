#!/usr/bin/env bash
# TyDiQA-GoldP, zero-shot cross-lingual: fine-tune XLM-R on English, F1/EM on every language.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../common/hf.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/xtreme/tydiqa.sh --method {baseline,intra} [options]

  --method M         baseline or intra
  --model M          Hub name or local model folder (default xlm-roberta-base)
  --data-dir DIR     local TyDiQA-GoldP v1.1: DIR/tydiqa-goldp-v1.1-{train,dev}/*.json; default: google/xtreme
  --langs L1,L2,...  dev languages among en,ar,bn,fi,id,ko,ru,sw,te (default: all nine)
  --seeds "S ..."    seeds to run, one run each (default "1"; the paper: "1 2 3 4 5")
  --out DIR          runs go to DIR/tydiqa/METHOD/seedS (default work/xtreme/runs)
  --nproc N          processes (GPUs) on this machine, through torchrun (default 1)
  --epochs E (15)  --max-steps N  --batch-size B (32)  --accumulation A (4)  --max-length L (384)
  --doc-stride S (128: tokens between window starts)  --max-query-length Q (64)
  --alpha A (1: not published, set it)  --alpha-p P (2)  --alpha-q Q (5)  --precision {fp32,fp16,bf16} (fp32)
  -h, --help         this text

Any other option goes unchanged to the module: its own (--lr, --max-length, ...), those of
IntraDistillationArguments (--num-passes, --divergence-reduction, ...) and of Transformers'
TrainingArguments (--weight_decay, --logging_steps, ...), but those the module's flags set.
python -m fairseq_intradistill.hf.tydiqa --help lists them all.

A run whose results.json exists is skipped; an interrupted run resumes from its last checkpoint (saved every epoch).
Per-language table: python -m fairseq_intradistill.hf.results OUT --languages
USAGE
}

method="" model="xlm-roberta-base" data_dir="" seeds="1" out="work/xtreme/runs" nproc=1
extra=()
hf_parse_args "$@"

hf_check_args
hf_run_seeds fairseq_intradistill.hf.tydiqa tydiqa
python -m fairseq_intradistill.hf.results "$out" --task tydiqa --languages
