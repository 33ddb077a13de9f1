"""results.significance: evaluation's record of the reference, and sacreBLEU's paired bootstrap test.

Hypotheses scored by ``python -m fairseq_intradistill.evaluation`` (conftest's
``evaluate_hypotheses``); the command on real train.sh logs (conftest's ``trained``)."""

import hashlib
import json
import random
import sys
from dataclasses import asdict
from pathlib import Path
from typing import List

import numpy as np
import pytest
import sacrebleu
from conftest import evaluate_hypotheses, run
from sacrebleu.metrics import BLEU

from fairseq_intradistill import evaluation, results

RESULTS = [sys.executable, "-m", "fairseq_intradistill.results"]


def _references(toy_raw: Path) -> List[str]:
    return (toy_raw / "test.tgt").read_text(encoding="utf-8").split("\n")[:-1]


def test_bleu_json_records_length_ratio_and_reference(toy_raw, tmp_path):
    hyps = evaluate_hypotheses(tmp_path / "run", toy_raw / "test.tgt", drop=0.2, seed=1)
    record = json.loads((tmp_path / "run" / "bleu-test.json").read_text())
    score = BLEU().corpus_score(hyps, [_references(toy_raw)])
    assert record["bleu"] == round(score.score, 2)
    assert (
        record["length_ratio"] == pytest.approx(score.sys_len / score.ref_len, abs=1e-4) and record["length_ratio"] < 1
    )
    assert (record["sys_len"], record["ref_len"]) == (score.sys_len, score.ref_len)
    assert record["brevity_penalty"] == pytest.approx(score.bp, abs=1e-4)
    assert record["reference"] == str((toy_raw / "test.tgt").resolve())
    assert record["reference_sha256"] == hashlib.sha256((toy_raw / "test.tgt").read_bytes()).hexdigest()


def test_paired_bootstrap_matches_a_resampling_written_out_here(tmp_path, monkeypatch):
    """A small case computed independently of sacreBLEU's PairedTest: the same resamples (numpy's
    generator seeded 12345, as sacreBLEU draws them), corpus BLEU of each, and the test's
    definitions of the mean, the 95% interval and the p-value."""
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)
    rng = random.Random(0)
    words = "the a cat dog sat ran on mat good bad house red blue big small tree".split()
    refs = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 9))) for _ in range(20)]
    (tmp_path / "ref.txt").write_text("".join(r + "\n" for r in refs), encoding="utf-8")
    hyps = {}
    for method, drop in (("baseline", 0.3), ("intra", 0.26)):
        hyps[method] = [" ".join(w for w in r.split() if rng.random() >= drop) for r in refs]
        folder = tmp_path / "exp" / method
        folder.mkdir(parents=True)
        (folder / "hyp-test.txt").write_text("".join(h + "\n" for h in hyps[method]), encoding="utf-8")
        record = {**evaluation.score(hyps[method], refs), **evaluation.reference_record(tmp_path / "ref.txt")}
        (folder / "bleu-test.json").write_text(json.dumps(record), encoding="utf-8")

    samples = 200
    resamples = np.random.default_rng(12345).choice(len(refs), size=(samples, len(refs)), replace=True)

    def bleu(sentences, rows):
        return sacrebleu.corpus_bleu([sentences[i] for i in rows], [[refs[i] for i in rows]]).score

    full = {m: bleu(hyps[m], range(len(refs))) for m in hyps}
    scores = {m: np.array([bleu(hyps[m], rows) for rows in resamples]) for m in hyps}

    def mean_and_ci(values):  # the mean, and half the 2.5%..97.5% range of the sorted values
        ordered, low = np.sort(values), samples // 40
        return ordered.mean(), (ordered[samples - low - 1] - ordered[low]) / 2

    # p: how often a resample's |difference|, centred on the resamples' mean, exceeds the real one (+1 smoothing)
    differences = np.abs(scores["intra"] - scores["baseline"])
    exceed = int(np.sum(differences - differences.mean() > abs(full["intra"] - full["baseline"])))
    p_value = (exceed + 1) / (samples + 1)
    assert 0.01 < p_value < 0.99 and full["intra"] > full["baseline"]  # a case that is neither clear-cut way

    pair = results.paired_bootstrap(tmp_path / "exp", samples)
    assert pair.p_value == pytest.approx(p_value, abs=1e-12)
    assert (pair.baseline_bleu, pair.intra_bleu) == pytest.approx((full["baseline"], full["intra"]), abs=1e-9)
    assert (pair.baseline_mean, pair.baseline_ci) == pytest.approx(mean_and_ci(scores["baseline"]), abs=1e-6)
    assert (pair.intra_mean, pair.intra_ci) == pytest.approx(mean_and_ci(scores["intra"]), abs=1e-6)
    assert pair.gain == pytest.approx(full["intra"] - full["baseline"], abs=1e-9)
    assert (pair.ahead, pair.significant) == ("intra", p_value < 0.05)
    assert (pair.samples, pair.seed) == (samples, "12345")


@pytest.mark.slow
def test_paired_bootstrap_command_reports_the_test(trained, toy_raw, tmp_path):
    exp = tmp_path / "exp"
    for m, drop, seed in (("baseline", 0.3, 1), ("intra", 0.25, 2)):
        evaluate_hypotheses(exp / m, toy_raw / "test.tgt", drop, seed)
        (exp / m / "train.log").write_bytes((trained["exp"] / m / "train.log").read_bytes())
    proc = run([*RESULTS, exp, "--bootstrap-samples", "300", "--json", tmp_path / "r.json"])
    (pair,) = json.loads((tmp_path / "r.json").read_text())["paired_bootstrap"]
    expected = results.paired_bootstrap(exp, 300)  # checked above against an independent computation
    assert pair == pytest.approx(asdict(expected), abs=1e-9)
    assert pair["signature"].startswith("nrefs:1|bs:300|seed:12345|")
    # The printed table says the same, with the test's settings.
    assert "sacreBLEU, 300 resamples, seed 12345" in proc.stdout
    base, intra = (expected.baseline_mean, expected.baseline_ci), (expected.intra_mean, expected.intra_ci)
    row = next(line for line in proc.stdout.split("\n") if line.startswith("exp ") and "±" in line)
    assert f"{expected.p_value:.4f}" in row and f"{base[0]:.2f} ± {base[1]:.2f}" in row
    assert f"{intra[0]:.2f} ± {intra[1]:.2f}" in row and f"{expected.gain:+.2f}" in row


def test_mismatched_or_missing_reference_is_an_error_naming_the_files(toy_raw, tmp_path):
    other = tmp_path / "other.tgt"
    lines = _references(toy_raw)
    other.write_text("\n".join(["something else"] + lines[1:]) + "\n", encoding="utf-8")
    exp = tmp_path / "exp"
    evaluate_hypotheses(exp / "baseline", toy_raw / "test.tgt", 0.3, 1)
    evaluate_hypotheses(exp / "intra", other, 0.3, 2)
    proc = run([*RESULTS, exp], check=False)
    assert proc.returncode == 1 and "different references" in proc.stderr
    for name in (
        str(exp / "baseline" / "bleu-test.json"),
        str(exp / "intra" / "bleu-test.json"),
        str((toy_raw / "test.tgt").resolve()),
        str(other.resolve()),
    ):
        assert name in proc.stderr, name
    # The same reference, but one run's hypotheses are missing.
    evaluate_hypotheses(exp / "intra", toy_raw / "test.tgt", 0.3, 2)
    (exp / "intra" / "hyp-test.txt").unlink()
    proc = run([*RESULTS, exp], check=False)
    assert proc.returncode == 1 and f"{exp / 'intra' / 'hyp-test.txt'} is missing" in proc.stderr
    # A score written before the reference was recorded.
    evaluate_hypotheses(exp / "intra", toy_raw / "test.tgt", 0.3, 2)
    record = json.loads((exp / "intra" / "bleu-test.json").read_text())
    del record["reference_sha256"]
    (exp / "intra" / "bleu-test.json").write_text(json.dumps(record))
    proc = run([*RESULTS, exp], check=False)
    assert proc.returncode == 1 and f"{exp / 'intra' / 'bleu-test.json'} does not say which reference" in proc.stderr
    # --no-significance leaves the test out.
    assert "Paired bootstrap" not in run([*RESULTS, exp, "--no-significance"]).stdout
