#!/usr/bin/env bash
# PAN-X NER, zero-shot cross-lingual: fine-tune XLM-R on English, F1 (seqeval) on every language.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../common/hf.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/xtreme/panx.sh --method {baseline,intra} [options]

  --method M         baseline or intra
  --model M          Hub name or local model folder (default xlm-roberta-large)
  --data-dir DIR     local data, DIR/<lang>/{train,validation,test}.jsonl; default: google/xtreme from the Hub
  --langs L1,L2,...  test languages (default: the 40 of the authors' 48 that google/xtreme has;
                     qu,pl,uk,az,lt,pa,gu,ro need --data-dir)
  --seeds "S ..."    seeds to run, one run each (default "1"; the paper: "1 2 3 4 5")
  --out DIR          runs go to DIR/panx/METHOD/seedS (default work/xtreme/runs)
  --nproc N          processes (GPUs) on this machine, through torchrun (default 1)
  --epochs E (10)  --max-steps N  --batch-size B (32)  --eval-steps N (100)
  --accumulation A   (as train_panx.sh: 16 for xlm-roberta-large, so 2 x 16; 4 otherwise, 8 x 4)
  --alpha A (1)  --alpha-p P (2)  --alpha-q Q (5)  --precision {fp32,fp16,bf16} (fp32)
  -h, --help         this text

Any other option goes unchanged to the module: its own (--lr, --max-length, ...), those of
IntraDistillationArguments (--num-passes, --divergence-reduction, ...) and of Transformers'
TrainingArguments (--weight_decay, --logging_steps, ...), but those the module's flags set.
python -m fairseq_intradistill.hf.panx --help lists them all.

A run whose results.json exists is skipped; an interrupted run resumes from its last checkpoint.
Scores are written to results.partial.json after every language; a language that cannot be loaded
stops the run with an error after the others are scored (results.json is written for complete runs only).
Per-language table: python -m fairseq_intradistill.hf.results OUT --languages
USAGE
}

method="" model="xlm-roberta-large" data_dir="" seeds="1" out="work/xtreme/runs" nproc=1
extra=()
hf_parse_args "$@"

hf_check_args
hf_run_seeds fairseq_intradistill.hf.panx panx
python -m fairseq_intradistill.hf.results "$out" --task panx --languages
