"""What fairseq needs from the plugin: registrations and checkpoint compatibility."""

from fairseq_intradistill import compat

compat.install()

from fairseq_intradistill import criterions, tasks  # noqa: E402,F401  (registration)
