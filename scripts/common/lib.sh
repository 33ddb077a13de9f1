# Helpers shared by the recipes; source it, do not run it.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The folder fairseq needs for --user-dir.
plugin_dir() { python -m fairseq_intradistill --user-dir 2>/dev/null || die "fairseq_intradistill is not installed (pip install -e .)"; }

# Number of usable CUDA devices (0 on a CPU machine).
num_gpus() { python -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0; }

# True when every visible GPU has tensor cores for fp16 (compute capability >= 7.0).
gpu_supports_fp16() {
  python -c 'import sys, torch; n = torch.cuda.device_count(); sys.exit(0 if n and all(torch.cuda.get_device_capability(i)[0] >= 7 for i in range(n)) else 1)' 2>/dev/null
}

# Device flags for fairseq: --fp16 on capable GPUs, --cpu (with a warning) without a GPU.
device_flags() {
  if [ "$(num_gpus)" -gt 0 ]; then
    if gpu_supports_fp16; then echo "--fp16"; fi
  else
    log "warning: no GPU found, training on the CPU (--cpu); this is only sensible for tiny models" 
    echo "--cpu"
  fi
}

require_value() {  # require_value FLAG VALUE
  [ -n "$2" ] || die "$1 is required (see --help)"
}
