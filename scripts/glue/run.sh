#!/usr/bin/env bash
# GLUE fine-tuning, baseline or intra-distillation, with the authors' settings (docs/transformers.md).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../common/hf.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/glue/run.sh --task TASK --method {baseline,intra} [options]

  --task TASK        cola, sst2, mrpc, qqp, stsb, mnli, qnli or rte
  --method M         baseline or intra
  --model M          Hub name or local model folder (default bert-base-uncased)
  --data-dir DIR     local GLUE data (DatasetDict.save_to_disk folder, or train/validation files);
                     default: download nyu-mll/glue from the Hub
  --seeds "S ..."    seeds to run, one run each (default "1")
  --out DIR          runs go to DIR/TASK/METHOD/seedS (default work/glue/runs)
  --nproc N          processes (GPUs) on this machine, through torchrun (default 1)
  --epochs E         (default 20)      --max-steps N   stop after N updates (default: the epochs)
  --batch-size B     over all processes (default 32)   --precision {fp32,fp16,bf16} (default fp32)
  --alpha A --alpha-p P --alpha-q Q   override the per-task intra-distillation settings
  -h, --help         this text

Any other option goes unchanged to the module: its own (--lr, --max-length, ...), those of
IntraDistillationArguments (--num-passes, --divergence-reduction, ...) and of Transformers'
TrainingArguments (--weight_decay, --logging_steps, ...), but those the module's flags set.
python -m fairseq_intradistill.hf.glue --help lists them all.

A run whose results.json exists is skipped; an interrupted run resumes from its last checkpoint.
The table: python -m fairseq_intradistill.hf.results OUT
USAGE
}

task="" method="" model="bert-base-uncased" data_dir="" seeds="1" out="work/glue/runs" nproc=1
extra=()
hf_task_flag=1
hf_parse_args "$@"

case "$task" in
  cola|sst2|mrpc|qqp|stsb|mnli|qnli|rte) ;;
  "") echo "error: --task is required (see --help)" >&2; exit 2 ;;
  *) echo "error: --task must be one of cola sst2 mrpc qqp stsb mnli qnli rte, got '$task'" >&2; exit 2 ;;
esac
hf_check_args
hf_run_seeds fairseq_intradistill.hf.glue "$task" --task "$task"
python -m fairseq_intradistill.hf.results "$out"
