"""The one place for differences between fairseq forks and torch versions.

Two problems meet every fairseq user on torch >= 2.6, whose ``torch.load`` defaults
to ``weights_only=True``:

* *Reading* old checkpoints fails on ``argparse.Namespace`` (the model config of a
  legacy ``--arch`` model) and, with ``--eval-bleu``, on numpy arrays in the saved
  metrics.  :func:`allow_legacy_checkpoint_globals` lets torch accept exactly those
  globals; it runs when fairseq imports the plugin (``--user-dir``), which happens at
  argument parsing, before any checkpoint is read.
* *Writing*: so that a colleague without the plugin (and without any allow-list) can
  load our checkpoints, :func:`install_portable_checkpoint_writer` makes fairseq save
  only plain containers, numbers, strings and tensors.  Stock fairseq rebuilds a
  legacy model from a plain dict as well as from a Namespace.
"""

from __future__ import annotations

import argparse
import functools
import logging
from collections import OrderedDict
from typing import Any, Callable, List, Tuple

import numpy as np
import torch

try:  # the maintained forks (ve-fairseq, fairseq-fixed)
    from fairseq.logging import metrics
except ImportError:  # fairseq 0.12.2
    from fairseq import metrics  # type: ignore[no-redef]

__all__ = [
    "metrics",
    "install",
    "allow_legacy_checkpoint_globals",
    "to_portable",
    "install_portable_checkpoint_writer",
    "allow_cpu_pytorch_ddp",
    "allow_bf16_without_tpu",
    "log_file_once",
]


def _numpy_globals() -> list:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return [_reconstruct, np.ndarray, np.dtype, type(np.dtype(np.int64)), type(np.dtype(np.float64))]


def allow_legacy_checkpoint_globals() -> bool:
    """Let ``torch.load(weights_only=True)`` read checkpoints written by stock fairseq."""
    if not hasattr(torch.serialization, "add_safe_globals"):  # torch < 2.4 loads them anyway
        return False
    torch.serialization.add_safe_globals([argparse.Namespace] + _numpy_globals())
    return True


def to_portable(obj: Any) -> Any:
    """Return a copy of ``obj`` that ``torch.load(weights_only=True)`` accepts with no allow-list.

    Namespaces become dicts, numpy arrays tensors and numpy scalars Python numbers;
    tensors and plain values are kept as they are (tensors are not copied).
    """
    if isinstance(obj, argparse.Namespace):
        return {k: to_portable(v) for k, v in vars(obj).items()}
    if isinstance(obj, OrderedDict):  # model state dicts
        return OrderedDict((k, to_portable(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: to_portable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_portable(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(to_portable(v) for v in obj)
    if isinstance(obj, np.ndarray):  # e.g. --eval-bleu's n-gram counts in the saved metrics
        return torch.from_numpy(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def install_portable_checkpoint_writer() -> bool:
    """Make fairseq's checkpoint writer save portable objects (idempotent)."""
    from fairseq import checkpoint_utils

    save = checkpoint_utils.torch_persistent_save
    if getattr(save, "_intradistill_portable", False):
        return True

    @functools.wraps(save)
    def portable_save(obj, filename, *args, **kwargs):
        return save(to_portable(obj), filename, *args, **kwargs)

    portable_save._intradistill_portable = True  # type: ignore[attr-defined]
    checkpoint_utils.torch_persistent_save = portable_save
    return True


def allow_cpu_pytorch_ddp() -> bool:
    """Let ``--ddp-backend c10d``/``pytorch_ddp`` wrap a CPU model (idempotent).

    fairseq always passes ``device_ids=[device_id]`` to ``DistributedDataParallel``, which
    torch rejects for CPU modules; CPU runs (gloo, ``--cpu``) need ``device_ids=None``.
    """
    from fairseq.models import distributed_fairseq_model

    ddp = distributed_fairseq_model.DistributedDataParallel
    if getattr(ddp, "_intradistill_cpu_safe", False):
        return True

    class CpuSafeDistributedDataParallel(ddp):
        _intradistill_cpu_safe = True

        def __init__(self, module, device_ids=None, output_device=None, **kwargs):
            if all(p.device.type == "cpu" for p in module.parameters()):
                device_ids = output_device = None
            super().__init__(module, device_ids=device_ids, output_device=output_device, **kwargs)

    distributed_fairseq_model.DistributedDataParallel = CpuSafeDistributedDataParallel
    return True


def allow_bf16_without_tpu() -> bool:
    """Let ``--bf16`` train on a GPU or CPU (idempotent).

    fairseq's argument parser makes ``--bf16`` imply ``--tpu`` (a TPU-era shortcut), and its
    trainer then asks torch_xla for a device and fails on every machine without one.  When
    torch_xla is not installed, the trainer is told there is no TPU, so ``--bf16`` means
    what it says: the model and optimizer run in bfloat16 on the CUDA device or the CPU.
    """
    import importlib.util

    from fairseq import trainer as trainer_module
    from omegaconf import open_dict

    trainer_cls = trainer_module.Trainer
    if getattr(trainer_cls, "_intradistill_bf16", False):
        return True
    if importlib.util.find_spec("torch_xla") is not None:  # --bf16 --tpu can work as fairseq means it
        return False
    init = trainer_cls.__init__

    @functools.wraps(init)
    def __init__(self, cfg, *args, **kwargs):
        if cfg.common.bf16 and cfg.common.tpu:
            logging.getLogger(__name__).info("--bf16 without torch_xla: training in bfloat16, not on a TPU")
            with open_dict(cfg):
                cfg.common.tpu = False
                cfg.distributed_training.tpu = False
        init(self, cfg, *args, **kwargs)

    trainer_cls.__init__ = __init__
    trainer_cls._intradistill_bf16 = True
    return True


def log_file_once() -> bool:
    """Let ``--log-file`` record every line once (idempotent).

    fairseq's ``progress_bar()`` adds a new ``logging.FileHandler`` for ``log_file`` to its
    logger each time it is called, that is at every epoch, so from epoch n on every line
    is written n times (a 50k-update IWSLT'14 run writes its last lines about 46 times).
    Here a call whose file already has a handler on that logger does not add another.
    """
    import inspect
    import os

    from fairseq.logging import progress_bar as progress_bar_module

    make_bar = progress_bar_module.progress_bar
    if getattr(make_bar, "_intradistill_log_file_once", False):
        return True
    signature = inspect.signature(make_bar)

    @functools.wraps(make_bar)
    def progress_bar(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        log_file = bound.arguments.get("log_file")
        if log_file is not None:
            path = os.path.abspath(log_file)  # what FileHandler.baseFilename holds
            handlers = progress_bar_module.logger.handlers
            if any(isinstance(h, logging.FileHandler) and h.baseFilename == path for h in handlers):
                bound.arguments["log_file"] = None
        return make_bar(*bound.args, **bound.kwargs)

    progress_bar._intradistill_log_file_once = True  # type: ignore[attr-defined]
    progress_bar_module.progress_bar = progress_bar
    return True


# Every patch, by the name the log line gives it.  Each returns whether it is active.
PATCHES: Tuple[Tuple[str, Callable[[], bool]], ...] = (
    ("legacy checkpoint globals", allow_legacy_checkpoint_globals),
    ("portable checkpoint writer", install_portable_checkpoint_writer),
    ("CPU pytorch_ddp", allow_cpu_pytorch_ddp),
    ("bf16 without TPU", allow_bf16_without_tpu),
    ("log file once", log_file_once),
)
_installed: List[str] = []


def install() -> List[str]:
    """Apply every patch and log, once per process, which are active.

    The patches change fairseq for every run that loads the plugin, baseline runs included,
    so the log says so.
    """
    if not _installed:
        _installed.extend(name for name, patch in PATCHES if patch())
        logging.getLogger(__name__).info(
            "fairseq patched by fairseq_intradistill.compat: %s", ", ".join(_installed) or "nothing"
        )
    return list(_installed)
