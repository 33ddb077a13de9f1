#!/usr/bin/env bash
# GLUE fine-tuning, baseline or intra-distillation, with the authors' settings (docs/transformers.md).
set -euo pipefail

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

A run whose results.json exists is skipped; an interrupted run resumes from its last checkpoint.
The table: python -m fairseq_intradistill.hf.results OUT
USAGE
}

task="" method="" model="bert-base-uncased" data_dir="" seeds="1" out="work/glue/runs" nproc=1
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --task) task="${2:?--task needs a value}"; shift 2 ;;
    --method) method="${2:?--method needs a value}"; shift 2 ;;
    --model) model="${2:?--model needs a value}"; shift 2 ;;
    --data-dir) data_dir="${2:?--data-dir needs a value}"; shift 2 ;;
    --seeds) seeds="${2:?--seeds needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --nproc) nproc="${2:?--nproc needs a value}"; shift 2 ;;
    --epochs|--max-steps|--batch-size|--precision|--alpha|--alpha-p|--alpha-q)
      extra+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$task" in
  cola|sst2|mrpc|qqp|stsb|mnli|qnli|rte) ;;
  "") echo "error: --task is required (see --help)" >&2; exit 2 ;;
  *) echo "error: --task must be one of cola sst2 mrpc qqp stsb mnli qnli rte, got '$task'" >&2; exit 2 ;;
esac
case "$method" in
  baseline|intra) ;;
  *) echo "error: --method must be baseline or intra, got '$method'" >&2; exit 2 ;;
esac
if ! [[ "$nproc" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: --nproc must be a positive integer, got '$nproc'" >&2; exit 2
fi
if [[ -n "$data_dir" && ! -d "$data_dir" ]]; then
  echo "error: --data-dir $data_dir is not a folder" >&2; exit 2
fi

for seed in $seeds; do
  if ! [[ "$seed" =~ ^[0-9]+$ ]]; then
    echo "error: --seeds must be integers, got '$seed'" >&2; exit 2
  fi
  run_dir="$out/$task/$method/seed$seed"
  if [[ -f "$run_dir/results.json" ]]; then
    echo "skip: $run_dir/results.json exists"
    continue
  fi
  args=(--task "$task" --method "$method" --model "$model" --output-dir "$run_dir" --seed "$seed" "${extra[@]}")
  [[ -n "$data_dir" ]] && args+=(--data-dir "$data_dir")
  if [[ "$nproc" -gt 1 ]]; then
    python -m torch.distributed.run --standalone --nproc_per_node "$nproc" -m fairseq_intradistill.hf.glue "${args[@]}"
  else
    python -m fairseq_intradistill.hf.glue "${args[@]}"
  fi
done
python -m fairseq_intradistill.hf.results "$out"
