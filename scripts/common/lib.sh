# Helpers shared by the recipes; source it, do not run it.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Call these in an assignment (x="$(plugin_dir)"), not inside another command's arguments:
# only an assignment stops the script (set -e) when they fail.  Their errors go to stderr
# unchanged, so a broken installation shows its real traceback.

# Stops with Python's own error when fairseq (or what it imports) cannot be imported.
check_fairseq() {
  python -c 'import fairseq' \
    || die "cannot import fairseq (the Python error above); check the environment (pip install -e .)"
}

# The folder fairseq needs for --user-dir (and a check that fairseq imports).
plugin_dir() {
  check_fairseq
  python -m fairseq_intradistill --user-dir \
    || die "cannot import fairseq_intradistill (the Python error above); install it with pip install -e ."
}

# Number of usable CUDA devices (0 on a CPU machine).  A torch that cannot be imported, or
# that finds no GPU because CUDA failed to initialise (it then warns, e.g. a driver or build
# mismatch), stops the script with its error instead of silently training on the CPU.  With
# GPUs found, such warnings (e.g. NVML missing in a container) are shown and training goes on.
num_gpus() {
  python - <<'PY' || die "cannot count the GPUs with torch (the error above); fix the torch installation, or hide the GPUs with CUDA_VISIBLE_DEVICES= to train on the CPU"
import sys, warnings
import torch
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    count = torch.cuda.device_count()
problems = [str(w.message) for w in caught if "cuda" in str(w.message).lower() or "nvml" in str(w.message).lower()]
if problems and count == 0:
    sys.exit("torch could not initialise CUDA: " + "; ".join(problems))
for problem in problems:
    print(f"warning: {problem}", file=sys.stderr)
print(count)
PY
}

# True when every visible GPU has tensor cores for fp16 (compute capability >= 7.0).
gpu_supports_fp16() {
  python -c 'import sys, torch; n = torch.cuda.device_count(); sys.exit(0 if n and all(torch.cuda.get_device_capability(i)[0] >= 7 for i in range(n)) else 1)'
}

# Device flags for fairseq given the GPU count: --fp16 on capable GPUs, --cpu (with a warning) without.
device_flags() {  # device_flags GPUS
  if [ "$1" -gt 0 ]; then
    if gpu_supports_fp16; then echo "--fp16"; fi
  else
    log "warning: no GPU found, training on the CPU (--cpu); this is only sensible for small models"
    echo "--cpu"
  fi
}

require_value() {  # require_value FLAG VALUE
  [ -n "$2" ] || die "$1 is required (see --help)"
}
