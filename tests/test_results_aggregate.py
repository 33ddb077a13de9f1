"""results.aggregate: mean ± sample std over the folders (seeds) of one experiment, and the gain paired per folder."""

import json
import sys

import pytest
from conftest import evaluate_hypotheses, run

RESULTS = [sys.executable, "-m", "fairseq_intradistill.results"]


def _mean_sd(values):
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def test_summary_across_seed_folders(toy_raw, tmp_path):
    folders = [tmp_path / f"seed-{s}" for s in (1, 2, 3)]
    for s, folder in enumerate(folders, start=1):
        evaluate_hypotheses(folder / "baseline", toy_raw / "test.tgt", 0.2 + 0.05 * s, 10 + s)
        evaluate_hypotheses(folder / "intra", toy_raw / "test.tgt", 0.35 - 0.1 * s, 20 + s)
    proc = run([*RESULTS, *folders, "--bootstrap-samples", "200", "--json", tmp_path / "r.json"])
    bleu = {
        (f.name, m): json.loads((f / m / "bleu-test.json").read_text()) for f in folders for m in ("baseline", "intra")
    }
    report = json.loads((tmp_path / "r.json").read_text())
    (summary,) = report["across_folders"]
    for method in ("baseline", "intra"):
        mean, sd = _mean_sd([bleu[f.name, method]["bleu"] for f in folders])
        ratio_mean, ratio_sd = _mean_sd([bleu[f.name, method]["length_ratio"] for f in folders])
        got = summary["methods"][method]
        assert got["n"] == 3
        assert (got["bleu_mean"], got["bleu_std"]) == pytest.approx((mean, sd), abs=1e-9)
        assert (got["length_ratio_mean"], got["length_ratio_std"]) == pytest.approx((ratio_mean, ratio_sd), abs=1e-9)
        assert (
            f"{method:<10} {3:>3} {f'{mean:.2f} ± {sd:.2f}':>17} {f'{ratio_mean:.3f} ± {ratio_sd:.3f}':>17}"
            in proc.stdout
        )
    gains = [bleu[f.name, "intra"]["bleu"] - bleu[f.name, "baseline"]["bleu"] for f in folders]
    gain_mean, gain_sd = _mean_sd(gains)
    assert (summary["gain_mean"], summary["gain_std"], summary["gain_n"]) == pytest.approx(
        (gain_mean, gain_sd, 3), abs=1e-9
    )
    assert summary["intra_ahead"] == sum(g > 0 for g in gains)
    pairs = report["paired_bootstrap"]
    assert len(pairs) == 3 and summary["tested"] == 3
    assert summary["intra_significantly_ahead"] == sum(p["ahead"] == "intra" and p["significant"] for p in pairs)
    assert (
        f"gain intra - baseline, paired per folder: {gain_mean:+.2f} ± {gain_sd:.2f} (n = 3); "
        f"intra ahead in {summary['intra_ahead']} of 3, significantly (p < 0.05) in "
        f"{summary['intra_significantly_ahead']} of 3 tested"
    ) in proc.stdout


def test_an_earlier_summary_added_counts_as_if_its_folders_were_given(toy_raw, tmp_path):
    folders = [tmp_path / f"seed-{s}" for s in (1, 2, 3)]
    for s, folder in enumerate(folders, start=1):
        evaluate_hypotheses(folder / "baseline", toy_raw / "test.tgt", 0.2 + 0.05 * s, 10 + s)
        evaluate_hypotheses(folder / "intra", toy_raw / "test.tgt", 0.35 - 0.1 * s, 20 + s)
    samples = ["--bootstrap-samples", "200"]
    run([*RESULTS, *folders, *samples, "--json", tmp_path / "all.json"])
    run([*RESULTS, *folders[:2], *samples, "--json", tmp_path / "first-two.json"])
    # Seeds 1 and 2 from their summary only (their folders gone), seed 3 from its folder.
    for method in ("baseline", "intra"):
        for f in folders[:2]:
            (f / method / "hyp-test.txt").unlink()
    proc = run([*RESULTS, folders[2], "--add", tmp_path / "first-two.json", *samples, "--json", tmp_path / "m.json"])
    merged, direct = (json.loads((tmp_path / n).read_text()) for n in ("m.json", "all.json"))
    key = lambda r: (r["folder"], r.get("method", ""))  # noqa: E731
    assert sorted(merged["runs"], key=key) == sorted(direct["runs"], key=key)
    assert sorted(merged["paired_bootstrap"], key=key) == sorted(direct["paired_bootstrap"], key=key)
    ((summary, expected),) = zip(merged["across_folders"], direct["across_folders"])
    assert sorted(summary.pop("folders")) == sorted(expected.pop("folders"))
    for method in ("baseline", "intra"):
        assert summary["methods"][method] == pytest.approx(expected["methods"][method], abs=1e-9)
    del summary["methods"], expected["methods"]
    assert summary == pytest.approx(expected, abs=1e-9)
    assert "(n = 3)" in proc.stdout

    # A folder given again beside its summary would count twice: refused, naming it.
    again = run([*RESULTS, folders[0], "--add", tmp_path / "first-two.json", "--no-significance"], check=False)
    assert again.returncode == 1 and str(folders[0]) in again.stderr
    (tmp_path / "bad.json").write_text(json.dumps({"runs": [{"experiment": "x", "colour": 1}], "paired_bootstrap": []}))
    bad = run([*RESULTS, "--add", tmp_path / "bad.json"], check=False)
    assert bad.returncode == 1 and "unknown keys ['colour']" in bad.stderr
