# Option parsing, checks and the seed loop shared by the Transformers recipes
# (scripts/glue/run.sh, scripts/xtreme/panx.sh, scripts/xtreme/tydiqa.sh); source it, do not run it.
# The caller defines usage() and sets the defaults method model data_dir seeds out nproc, the array
# extra=() and, for a recipe with a --task flag, hf_task_flag=1.  Every option the script does not
# know goes unchanged, in order, to the Python module (as the fairseq scripts hand theirs to
# fairseq-train), so each of the module's options is reachable and the module checks them.

# Parse the command line into the caller's variables.
hf_parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --method) method="${2:?--method needs a value}"; shift 2 ;;
      --model) model="${2:?--model needs a value}"; shift 2 ;;
      --data-dir) data_dir="${2:?--data-dir needs a value}"; shift 2 ;;
      --seeds) seeds="${2:?--seeds needs a value}"; shift 2 ;;
      --out) out="${2:?--out needs a value}"; shift 2 ;;
      --nproc) nproc="${2:?--nproc needs a value}"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *)
        if [[ "$1" == --task && -n "${hf_task_flag:-}" ]]; then
          task="${2:?--task needs a value}"; shift 2
        elif [[ "$1" == --output-dir || "$1" == --output-dir=* || "$1" == --output_dir || "$1" == --output_dir=* \
                || "$1" == --seed || "$1" == --seed=* ]]; then
          # The seed loop sets these per run; a second value would silently win over it.
          echo "error: $1 is set per run by the script: use --out DIR and --seeds \"S ...\"" >&2; exit 2
        else
          extra+=("$1"); shift
        fi ;;
    esac
  done
}

# The checks every recipe makes (--method, --nproc, --data-dir).
hf_check_args() {
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
}

# hf_run_seeds MODULE SUBDIR [ARG ...]: one run of `python -m MODULE` per seed into
# $out/SUBDIR/$method/seedS, with ARG ... first; a run whose results.json exists is skipped.
hf_run_seeds() {
  local module="$1" subdir="$2"
  shift 2
  local seed run_dir args
  for seed in $seeds; do
    if ! [[ "$seed" =~ ^[0-9]+$ ]]; then
      echo "error: --seeds must be integers, got '$seed'" >&2; exit 2
    fi
    run_dir="$out/$subdir/$method/seed$seed"
    if [[ -f "$run_dir/results.json" ]]; then
      echo "skip: $run_dir/results.json exists"
      continue
    fi
    args=("$@" --method "$method" --model "$model" --output-dir "$run_dir" --seed "$seed" "${extra[@]}")
    [[ -n "$data_dir" ]] && args+=(--data-dir "$data_dir")
    if [[ "$nproc" -gt 1 ]]; then
      python -m torch.distributed.run --standalone --nproc_per_node "$nproc" -m "$module" "${args[@]}"
    else
      python -m "$module" "${args[@]}"
    fi
  done
}
