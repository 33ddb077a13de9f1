"""The fairseq side of the analysis: load a checkpoint, iterate a subset, score, decode;
:class:`FairseqBackend` puts them behind :class:`.backend.Backend`.

Kept apart from :mod:`.stats` so that the math is testable on bare tensors and the
commands that need no model (``compare``, ``curves``) start without importing fairseq.
"""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from fairseq_intradistill.analysis import AnalysisError
from fairseq_intradistill.analysis.backend import FAIRSEQ, Backend
from fairseq_intradistill.analysis.stats import SensitivityAccumulator, scored_parameters
from fairseq_intradistill.textio import read_lines

__all__ = ["AnalysisError", "FairseqBackend", "check_inputs", "load", "compute_sensitivity", "decode"]


def check_inputs(data: Path, path: Path) -> None:
    """Fail early, before importing fairseq, on a missing data folder or checkpoint."""
    if not path.is_file():
        raise AnalysisError(f"--path {path}: checkpoint not found")
    if not data.is_dir():
        raise AnalysisError(f"DATA {data}: no such folder (the binarised data the model was trained on)")
    if not any(data.glob("dict.*.txt")):
        raise AnalysisError(
            f"DATA {data}: no fairseq dictionary (dict.*.txt); give the fairseq-preprocess output folder"
        )


def load(data: Path, path: Path, subset: str, device: torch.device) -> Tuple[Any, Any, Any]:
    """(model, task, saved cfg) from a fairseq translation checkpoint, with ``subset`` loaded."""
    check_inputs(data, path)
    from fairseq import checkpoint_utils

    import fairseq_intradistill.plugin  # noqa: F401  (our tasks/criterions; weights_only globals)

    try:
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
            [str(path)], arg_overrides={"data": str(data)}
        )
    except Exception as e:  # a broken or foreign file: say which one
        raise AnalysisError(f"--path {path}: cannot load it as a fairseq checkpoint: {type(e).__name__}: {e}") from e
    try:
        task.load_dataset(subset, task_cfg=cfg.task)
    except FileNotFoundError as e:
        raise AnalysisError(f"DATA {data}: subset {subset!r} not found ({e})") from e
    model = models[0].to(device)
    return model, task, cfg


def batches(task: Any, model: Any, subset: str, max_tokens: int, shuffle: bool, seed: int = 1) -> Any:
    """fairseq's own batch iterator over ``subset`` (nothing skipped silently)."""
    from fairseq import utils

    return task.get_batch_iterator(
        dataset=task.dataset(subset),
        max_tokens=max_tokens,
        max_positions=utils.resolve_max_positions(task.max_positions(), model.max_positions()),
        ignore_invalid_inputs=False,
        required_batch_size_multiple=1,
        seed=seed,
    ).next_epoch_itr(shuffle=shuffle)


def compute_sensitivity(
    model: torch.nn.Module,
    task: Any,
    subset: str,
    *,
    max_batches: Optional[int] = None,
    max_tokens: int = 4096,
    mode: str = "batch",
    exclude_embeddings: bool = False,
    progress: bool = True,
) -> Tuple[SensitivityAccumulator, Dict[str, float]]:
    """Accumulate ``|θ ⊙ ∇θ L|`` over (up to ``max_batches``) batches of ``subset``.

    ``L`` is the token-level negative log-likelihood of the references (no label smoothing,
    no dropout: the model is in eval mode), summed over the batch's target tokens.
    """
    from fairseq import utils
    from tqdm import tqdm

    model.eval()  # sensitivity of the model itself, not of a dropout sample of it
    acc = SensitivityAccumulator(scored_parameters(model, exclude_embeddings), mode=mode)
    device = next(model.parameters()).device
    # A random sample of batches when only some are used; all batches in any order otherwise.
    itr = batches(task, model, subset, max_tokens, shuffle=max_batches is not None)
    total = len(itr) if max_batches is None else min(max_batches, len(itr))
    pad = task.target_dictionary.pad()
    nll_sum, sentences = 0.0, 0
    for i, sample in enumerate(
        tqdm(itr, total=total, desc=f"sensitivity on {subset}", disable=not progress, unit="batch")
    ):
        if max_batches is not None and i >= max_batches:
            break
        sample = utils.move_to_cuda(sample, device=device) if device.type == "cuda" else sample
        model.zero_grad(set_to_none=True)
        net_output = model(**sample["net_input"])
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        target = sample["target"]
        nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
        loss = nll.masked_fill(target.eq(pad), 0.0).sum()
        loss.backward()
        ntokens = int(target.ne(pad).sum())
        acc.add(ntokens)
        nll_sum += float(loss.detach())
        sentences += int(target.size(0))
    model.zero_grad(set_to_none=True)  # the gradients are no longer needed: free them
    if acc.batches == 0:
        raise AnalysisError(f"subset {subset!r} gave no batch")
    info = {
        "batches": acc.batches,
        "sentences": sentences,
        "tokens": acc.tokens,
        "nll_per_token": nll_sum / acc.tokens,
    }
    return acc, info


def decode(
    model: torch.nn.Module,
    task: Any,
    subset: str,
    *,
    beam: int = 5,
    lenpen: float = 1.0,
    max_tokens: int = 4096,
    remove_bpe: Optional[str] = "sentencepiece",
    progress: bool = True,
    desc: str = "decoding",
) -> Tuple[List[str], List[str]]:
    """Hypotheses and references of ``subset`` in sentence order, as ``fairseq-generate`` makes them.

    The same generator, batches (``--required-batch-size-multiple 1``) and post-processing
    as ``scripts/common/evaluate.sh``, in-process so that the model can be pruned between
    decodes without writing checkpoints.
    """
    from fairseq import utils
    from fairseq.dataclass.configs import GenerationConfig
    from tqdm import tqdm

    model.eval()
    device = next(model.parameters()).device
    generator = task.build_generator([model], GenerationConfig(beam=beam, lenpen=lenpen))
    strip = getattr(generator, "symbols_to_strip_from_output", {generator.eos})
    tgt_dict = task.target_dictionary
    n = len(task.dataset(subset))
    hyps: Dict[int, str] = {}
    refs: Dict[int, str] = {}
    itr = batches(task, model, subset, max_tokens, shuffle=False)
    with torch.no_grad():
        for sample in tqdm(itr, total=len(itr), desc=desc, disable=not progress, unit="batch", leave=False):
            sample = utils.move_to_cuda(sample, device=device) if device.type == "cuda" else sample
            out = task.inference_step(generator, [model], sample)
            for i, sid in enumerate(sample["id"].tolist()):
                # What utils.post_process_prediction prints, without its re-encoding step,
                # which adds the detokenised words to the target dictionary: a later
                # generator would then expect a larger vocabulary than the model's output.
                hypo_str = tgt_dict.string(out[i][0]["tokens"].int().cpu(), remove_bpe, extra_symbols_to_ignore=strip)
                hyps[sid] = hypo_str
                target = utils.strip_pad(sample["target"][i], tgt_dict.pad()).int().cpu()
                refs[sid] = tgt_dict.string(target, remove_bpe, escape_unk=True, extra_symbols_to_ignore=strip)
    missing = [i for i in range(n) if i not in hyps]
    if missing:
        raise AnalysisError(f"subset {subset!r}: {len(missing)} of {n} sentences were not decoded")
    return [hyps[i] for i in range(n)], [refs[i] for i in range(n)]


class FairseqBackend(Backend):
    """A fairseq translation checkpoint and its binarised data: L is the references' NLL per target
    token; a subset is evaluated by decoding it as ``scripts/common/evaluate.sh`` does and scoring
    the hypotheses with sacreBLEU (against ``--reference`` if given, else the binarised targets)."""

    kind = FAIRSEQ
    described = "a fairseq checkpoint"
    options: Dict[str, Any] = {"max_tokens": 4096}
    unit = "tokens"

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self.task: Any = None
        self.references: Optional[List[str]] = None
        self.signature: Optional[str] = None  # sacreBLEU's, of the last evaluation

    def check_inputs(self) -> None:
        if self.args.max_tokens < 1:
            raise AnalysisError(f"--max-tokens must be >= 1 (got {self.args.max_tokens})")
        check_inputs(self.args.data, self.args.path)

    def default_subset(self) -> str:
        return "valid"

    def check_subset(self, subset: str, option: str) -> None:
        """Nothing to check before loading: a subset is a file of DATA, and a missing one fails at load, named."""

    @property
    def metric(self) -> str:
        return "bleu"

    def load(self, subsets: Sequence[str], device: torch.device) -> torch.nn.Module:
        first, *others = list(dict.fromkeys(subsets))
        self.model, self.task, _ = load(self.args.data, self.args.path, first, device)
        for subset in others:
            try:
                self.task.load_dataset(subset)
            except FileNotFoundError as e:
                raise AnalysisError(f"DATA {self.args.data}: subset {subset!r} not found ({e})") from e
        reference = getattr(self.args, "reference", None)  # prune's raw references of --subset
        if reference is not None:
            self.references = read_lines(reference)  # \n only, as evaluation.py reads references
            size = len(self.task.dataset(self.args.subset))
            if len(self.references) != size:
                raise AnalysisError(
                    f"--reference {reference} has {len(self.references)} lines, "
                    f"subset {self.args.subset!r} {size} sentences"
                )
        return self.model

    def sensitivity(self, subset: str) -> Tuple[SensitivityAccumulator, Dict[str, Any]]:
        return compute_sensitivity(
            self.model,
            self.task,
            subset,
            max_batches=self.args.max_batches,
            max_tokens=self.args.max_tokens,
            mode=self.args.mode,
            exclude_embeddings=self.args.exclude_embeddings,
            progress=not self.args.no_progress,
        )

    def evaluate(self, subset: str, desc: str) -> Dict[str, float]:
        from fairseq_intradistill.evaluation import score

        hyps, refs = decode(
            self.model,
            self.task,
            subset,
            beam=self.args.beam,
            lenpen=self.args.lenpen,
            max_tokens=self.args.max_tokens,
            remove_bpe=self.args.remove_bpe,
            progress=not self.args.no_progress,
            desc=desc,
        )
        result = score(hyps, self.references if self.references is not None else refs, lowercase=self.args.lowercase)
        self.signature = result["signature"]
        return {"bleu": result["bleu"], "length_ratio": result["length_ratio"]}

    def shown(self, scores: Dict[str, float]) -> str:
        return f"BLEU {scores['bleu']:.2f}, length ratio {scores['length_ratio']:.3f}"

    def prune_record(self) -> Dict[str, Any]:
        return {
            "reference": str(self.args.reference) if self.args.reference else "binarised targets",
            "beam": self.args.beam,
            "lenpen": self.args.lenpen,
            "signature": self.signature,
        }
