"""What fairseq needs from the plugin: registrations and checkpoint compatibility."""

from fairseq_intradistill import compat

compat.allow_legacy_checkpoint_globals()
compat.install_portable_checkpoint_writer()
compat.allow_cpu_pytorch_ddp()
compat.allow_bf16_without_tpu()
compat.log_file_once()

from fairseq_intradistill import criterions, tasks  # noqa: E402,F401  (registration)
