#!/usr/bin/env bash
# PAN-X NER, zero-shot cross-lingual: fine-tune XLM-R on English, F1 (seqeval) on every language.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/xtreme/panx.sh --method {baseline,intra} [options]

  --method M         baseline or intra
  --model M          Hub name or local model folder (default xlm-roberta-large)
  --data-dir DIR     local data, DIR/<lang>/{train,validation,test}.jsonl; default: google/xtreme from the Hub
  --langs L1,L2,...  test languages (default: the authors' 48 XTREME-R languages)
  --seeds "S ..."    seeds to run, one run each (default "1"; the paper: "1 2 3 4 5")
  --out DIR          runs go to DIR/panx/METHOD/seedS (default work/xtreme/runs)
  --nproc N          processes (GPUs) on this machine, through torchrun (default 1)
  --epochs E (10)  --max-steps N  --batch-size B (32)  --accumulation A (4)  --eval-steps N (100)
  --alpha A (1)  --alpha-p P (2)  --alpha-q Q (5)  --precision {fp32,fp16,bf16} (fp32)
  -h, --help         this text

A run whose results.json exists is skipped; an interrupted run resumes from its last checkpoint.
Per-language table: python -m fairseq_intradistill.hf.results OUT --languages
USAGE
}

method="" model="xlm-roberta-large" data_dir="" seeds="1" out="work/xtreme/runs" nproc=1
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --method) method="${2:?--method needs a value}"; shift 2 ;;
    --model) model="${2:?--model needs a value}"; shift 2 ;;
    --data-dir) data_dir="${2:?--data-dir needs a value}"; shift 2 ;;
    --seeds) seeds="${2:?--seeds needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --nproc) nproc="${2:?--nproc needs a value}"; shift 2 ;;
    --langs|--epochs|--max-steps|--batch-size|--accumulation|--eval-steps|--precision|--alpha|--alpha-p|--alpha-q)
      extra+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

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
  run_dir="$out/panx/$method/seed$seed"
  if [[ -f "$run_dir/results.json" ]]; then
    echo "skip: $run_dir/results.json exists"
    continue
  fi
  args=(--method "$method" --model "$model" --output-dir "$run_dir" --seed "$seed" "${extra[@]}")
  [[ -n "$data_dir" ]] && args+=(--data-dir "$data_dir")
  if [[ "$nproc" -gt 1 ]]; then
    python -m torch.distributed.run --standalone --nproc_per_node "$nproc" -m fairseq_intradistill.hf.panx "${args[@]}"
  else
    python -m fairseq_intradistill.hf.panx "${args[@]}"
  fi
done
python -m fairseq_intradistill.hf.results "$out" --task panx --languages
