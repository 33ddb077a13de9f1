"""Significance: sacreBLEU's paired bootstrap resampling of intra vs baseline in one experiment folder.

Both runs must name the same reference (path and sha256 in ``bleu-test.json``, written by
:mod:`fairseq_intradistill.evaluation`) and have ``hyp-test.txt``; anything else is an error
that names the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from fairseq_intradistill.data.archives import file_hash
from fairseq_intradistill.results.runs import METHOD_ORDER, read_json
from fairseq_intradistill.textio import read_lines


@dataclass
class PairedBootstrap:
    """sacreBLEU's paired bootstrap resampling of intra vs baseline in one experiment folder."""

    experiment: str
    folder: str
    baseline_bleu: float
    baseline_mean: float  # mean BLEU over the resamples
    baseline_ci: float  # half-width of the 95% confidence interval (sacreBLEU's "mean ± ci")
    intra_bleu: float
    intra_mean: float
    intra_ci: float
    gain: float  # intra − baseline
    p_value: float
    ahead: str  # "intra", "baseline" or "tie"
    significant: bool  # p < ALPHA_LEVEL
    samples: int
    seed: str
    signature: str
    reference: str
    reference_sha256: str


ALPHA_LEVEL = 0.05
DEFAULT_SAMPLES = 1000  # sacreBLEU's default for paired bootstrap resampling


def _scored_run(experiment_dir: Path, method: str) -> Tuple[dict, Path, List[str]]:
    """bleu-test.json, the reference file and the hypotheses of one run, checked."""
    run = experiment_dir / method
    bleu_file, hyp_file = run / "bleu-test.json", run / "hyp-test.txt"
    bleu = read_json(bleu_file)
    if "reference_sha256" not in bleu or "reference" not in bleu:
        raise ValueError(
            f"{bleu_file} does not say which reference it was scored against (written before "
            "fairseq_intradistill.evaluation recorded it): evaluate again (scripts/common/evaluate.sh --force), "
            "or leave the test out with --no-significance"
        )
    if not hyp_file.is_file():
        raise ValueError(
            f"{hyp_file} is missing (written by scripts/common/evaluate.sh beside {bleu_file.name}); "
            "the significance test needs the hypotheses"
        )
    reference = Path(bleu["reference"])
    if not reference.is_file():
        raise ValueError(
            f"{bleu_file} was scored against {reference}, which is missing (moved?): evaluate again, "
            "or leave the test out with --no-significance"
        )
    if file_hash(reference) != bleu["reference_sha256"]:
        raise ValueError(f"{reference} has changed since {bleu_file} was scored against it (sha256 differs)")
    return bleu, reference, read_lines(hyp_file)


def paired_bootstrap(experiment_dir: Path, samples: int = DEFAULT_SAMPLES) -> Optional[PairedBootstrap]:
    """sacreBLEU's paired bootstrap resampling (``PairedTest``, test_type "bs") of intra vs baseline.

    None when the folder has no evaluated baseline and intra pair (no ``bleu-test.json`` for
    one of them).  Raises ValueError, naming the files, when the pair cannot be compared:
    no ``hyp-test.txt``, a reference not recorded, missing or changed, different references,
    or hypotheses that do not give the BLEU of ``bleu-test.json``.  sacreBLEU seeds its
    resampling with ``SACREBLEU_SEED`` (default 12345), reported in the result.
    """
    if samples < 1:
        raise ValueError(f"--bootstrap-samples must be >= 1 (got {samples})")
    if not all((experiment_dir / m / "bleu-test.json").is_file() for m in METHOD_ORDER):
        return None
    (base, base_ref, base_hyps), (intra, intra_ref, intra_hyps) = (_scored_run(experiment_dir, m) for m in METHOD_ORDER)
    if base["reference_sha256"] != intra["reference_sha256"]:
        raise ValueError(
            f"{experiment_dir}: baseline and intra were scored against different references: "
            f"{experiment_dir / 'baseline' / 'bleu-test.json'} against {base_ref} "
            f"(sha256 {base['reference_sha256'][:12]}...), "
            f"{experiment_dir / 'intra' / 'bleu-test.json'} against {intra_ref} "
            f"(sha256 {intra['reference_sha256'][:12]}...)"
        )
    references = read_lines(base_ref)
    for method, hyps in zip(METHOD_ORDER, (base_hyps, intra_hyps)):
        if len(hyps) != len(references):
            raise ValueError(
                f"{experiment_dir / method / 'hyp-test.txt'} has {len(hyps)} lines, "
                f"the reference {base_ref} {len(references)}"
            )
    lowercase = "case:lc" in (base.get("signature") or "")
    test = PairedTest(
        list(zip(METHOD_ORDER, (base_hyps, intra_hyps))),
        {"BLEU": BLEU(lowercase=lowercase)},
        [references],
        test_type="bs",
        n_samples=samples,
    )
    signatures, results = test()
    signature = signatures["BLEU"]
    base_result, intra_result = results["BLEU"]
    for method, bleu, result in (("baseline", base, base_result), ("intra", intra, intra_result)):
        if bleu.get("bleu") is not None and round(result.score, 2) != round(float(bleu["bleu"]), 2):
            raise ValueError(
                f"{experiment_dir / method / 'hyp-test.txt'} scores {result.score:.2f} BLEU against "
                f"{base_ref}, but {experiment_dir / method / 'bleu-test.json'} says {bleu['bleu']}: "
                "one of them is stale; evaluate again (scripts/common/evaluate.sh --force)"
            )
    gain = intra_result.score - base_result.score
    return PairedBootstrap(
        experiment=experiment_dir.name,
        folder=str(experiment_dir),
        baseline_bleu=base_result.score,
        baseline_mean=float(base_result.mean),
        baseline_ci=float(base_result.ci),
        intra_bleu=intra_result.score,
        intra_mean=float(intra_result.mean),
        intra_ci=float(intra_result.ci),
        gain=gain,
        p_value=float(intra_result.p_value),
        ahead="intra" if gain > 0 else "baseline" if gain < 0 else "tie",
        significant=gain != 0 and float(intra_result.p_value) < ALPHA_LEVEL,
        samples=int(signature.info["bs"]),
        seed=str(signature.info["seed"]),
        signature=signature.format(),
        reference=str(base_ref),
        reference_sha256=base["reference_sha256"],
    )
