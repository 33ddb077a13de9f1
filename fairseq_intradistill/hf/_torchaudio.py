"""Keep a torchaudio that cannot load from breaking ``import transformers``.

fairseq's metadata requires torchaudio, and pip may install a build that does not match
the installed torch (a CUDA torchaudio beside a CPU torch: its library fails to load with
OSError).  Translation never imports it, but Transformers imports torchaudio whenever the
package is present, so every ``import transformers`` would fail.  When torchaudio is present
and fails to import, it is marked absent (``sys.modules['torchaudio'] = None``), which
Transformers reads as "not installed".  A working torchaudio is left alone.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings


def hide_broken_torchaudio() -> bool:
    """Mark a torchaudio that fails to import as absent; return True if it did so."""
    if "torchaudio" in sys.modules or importlib.util.find_spec("torchaudio") is None:
        return False
    try:
        import torchaudio  # noqa: F401
    except (OSError, ImportError, RuntimeError) as error:
        for name in [n for n in sys.modules if n == "torchaudio" or n.startswith("torchaudio.")]:
            del sys.modules[name]
        sys.modules["torchaudio"] = None  # type: ignore[assignment]
        warnings.warn(f"torchaudio is installed but cannot be imported ({error}); treating it as absent", stacklevel=2)
        return True
    return False
