"""Helpers shared by the Transformers recipes (glue, panx, tydiqa)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Optional


def per_device_batch(batch_size: int, accumulation: int = 1) -> int:
    """Examples per process and micro-step for ``batch_size`` examples per update."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if batch_size % (world * accumulation):
        raise SystemExit(
            f"error: --batch-size {batch_size} is not divisible by "
            f"{world} processes x {accumulation} accumulation steps"
        )
    return batch_size // (world * accumulation)


def has_tensorboard() -> bool:
    return importlib.util.find_spec("tensorboard") is not None or importlib.util.find_spec("tensorboardX") is not None


def last_checkpoint(folder: Path) -> Optional[str]:
    """The newest Trainer checkpoint in ``folder``, so that a rerun resumes."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if Path(folder).is_dir() else None
