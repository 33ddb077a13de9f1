"""The arguments ``sensitivity`` and ``prune`` share (an argparse parent), and their checks.

Both commands read either kind of model, told apart by ``--path`` (:func:`model_kind`): a
fairseq checkpoint (a file) with its binarised data, or a Transformers model folder
(``save_pretrained``, with ``config.json``) with a GLUE task's local data.  Options that only
one kind understands default to None here, so that giving one to the other kind is an error
naming it, and get their documented defaults in :func:`backend_for`, which returns the
:class:`.backend.Backend` the commands read the model through.
"""

import argparse
from pathlib import Path
from typing import Any, Dict, Optional, Type

import torch

from fairseq_intradistill.analysis import AnalysisError
from fairseq_intradistill.analysis.backend import FAIRSEQ, TRANSFORMERS, Backend
from fairseq_intradistill.analysis.fairseq_io import FairseqBackend
from fairseq_intradistill.analysis.hf_io import TransformersBackend
from fairseq_intradistill.analysis.stats import MODES

# Both import neither fairseq nor Transformers until a model is loaded.
BACKENDS: Dict[str, Type[Backend]] = {FAIRSEQ: FairseqBackend, TRANSFORMERS: TransformersBackend}


def checkpoint_parent() -> argparse.ArgumentParser:
    """A model, its data, how sensitivity is computed, and where the output goes."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "data",
        type=Path,
        help="fairseq: binarised data folder (fairseq-preprocess output); Transformers: the GLUE task's "
        "local data as scripts/glue/run.sh --data-dir reads it",
    )
    parent.add_argument(
        "--path",
        type=Path,
        required=True,
        help="fairseq checkpoint (.pt file), or Transformers model folder (save_pretrained: config.json, "
        "weights, tokenizer), e.g. a GLUE run's best/",
    )
    parent.add_argument(
        "--max-batches", type=int, help="sensitivity on at most N batches (a seeded random sample); default all"
    )
    parent.add_argument("--max-tokens", type=int, help="fairseq: tokens per batch (default: 4096)")
    parent.add_argument(
        "--glue-task",
        help="Transformers: the GLUE task of the model and DATA (cola, sst2, mrpc, qqp, "
        "stsb, mnli, qnli, rte); required",
    )
    parent.add_argument("--batch-size", type=int, help="Transformers: examples per batch (default: 32)")
    parent.add_argument(
        "--max-length",
        type=int,
        help="Transformers: tokens per example, longer ones truncated, as the recipe's --max-length (default: 128)",
    )
    parent.add_argument(
        "--mode",
        choices=MODES,
        default="batch",
        help="batch: token-weighted mean over batches of |θ·g_b| (default); subset: |θ·g| of the whole subset's loss",
    )
    parent.add_argument(
        "--exclude-embeddings", action="store_true", help="leave embeddings and the output projection out"
    )
    parent.add_argument(
        "--label",
        help="name of the model in plots and tables (default: the checkpoint's folder; "
        "Transformers: the last three parts of the model folder's path)",
    )
    parent.add_argument("--out", type=Path, help="output folder (default: beside the model, analysis-NAME)")
    parent.add_argument("--cpu", action="store_true", help="stay on the CPU even if a GPU is present")
    parent.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parent


def model_kind(path: Path) -> str:
    """``transformers`` for a folder with config.json, ``fairseq`` for anything else that is not a folder."""
    if path.is_dir():
        if (path / "config.json").is_file():
            return TRANSFORMERS
        raise AnalysisError(
            f"--path {path}: a folder without config.json; give a fairseq checkpoint (.pt file) or a Transformers "
            "model folder (written by save_pretrained)"
        )
    return FAIRSEQ


def backend_for(args: argparse.Namespace, extra: Optional[Dict[str, Dict[str, Any]]] = None) -> Backend:
    """The backend of ``--path``'s kind; sets ``args.kind``, rejects the other kind's options by name
    and fills in this kind's defaults.

    ``extra`` maps a kind to a command's own options of that kind only (dest -> default), e.g.
    prune's BLEU options for fairseq.
    """
    extra = extra or {}
    kind = model_kind(args.path)
    backend = BACKENDS[kind]
    for other in BACKENDS.values():
        if other is backend:
            continue
        for dest in {**other.options, **extra.get(other.kind, {})}:
            if getattr(args, dest, None) is not None:
                raise AnalysisError(
                    f"--{dest.replace('_', '-')} does not apply to {backend.described} (--path {args.path})"
                )
    for dest, default in {**backend.options, **extra.get(kind, {})}.items():
        if getattr(args, dest, None) is None:
            setattr(args, dest, default)
    args.kind = kind
    return backend(args)


def check_checkpoint_arguments(args: argparse.Namespace, backend: Backend) -> None:
    """The checks of :func:`checkpoint_parent`'s arguments, before fairseq or Transformers is imported."""
    if args.max_batches is not None and args.max_batches < 1:
        raise AnalysisError(f"--max-batches must be >= 1 (got {args.max_batches})")
    backend.check_inputs()


def device_of(cpu: bool) -> torch.device:
    """The GPU if there is one and ``--cpu`` is not given."""
    return torch.device("cuda" if torch.cuda.is_available() and not cpu else "cpu")


def default_out(path: Path) -> Path:
    return path.parent / f"analysis-{path.name if path.is_dir() else path.stem}"


def default_label(path: Path) -> str:
    if path.is_dir():  # a Transformers model folder, e.g. rte/intra/seed1/best of the GLUE recipe
        return "/".join(path.resolve().parts[-3:])
    return path.parent.name or path.stem
