"""``python -m fairseq_intradistill.results`` and the log reader it shares with ``analysis curves``.

Real fairseq-train logs (written by scripts/common/train.sh) for the clock and the log rules;
hypotheses scored by ``python -m fairseq_intradistill.evaluation`` for BLEU and significance.
"""

import hashlib
import json
import random
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import sacrebleu
from conftest import REPO, TINY_MODEL, run
from sacrebleu.metrics import BLEU

from fairseq_intradistill import evaluation, results
from fairseq_intradistill.analysis import jsonlog

RESULTS = [sys.executable, "-m", "fairseq_intradistill.results"]


@pytest.fixture(scope="module")
def trained(toy_bin, tmp_path_factory) -> Dict[str, object]:
    """A baseline and an intra run of 2 epochs of 25 updates (24 of the 600 sentences per batch),
    validated every 10 updates and at each epoch's end."""
    exp = tmp_path_factory.mktemp("results") / "exp"
    consoles = {}
    for method in ("baseline", "intra"):
        proc = run(
            [
                "bash",
                REPO / "scripts/common/train.sh",
                "--data",
                toy_bin,
                "--method",
                method,
                "--save-dir",
                exp / method,
                *TINY_MODEL,
                "--label-smoothing",
                "0.1",
                "--max-tokens",
                "100000",
                "--batch-size",
                "24",
                "--max-update",
                "50",
                "--log-interval",
                "5",
                "--validate-interval-updates",
                "10",
                "--no-save",
            ]
        )
        consoles[method] = proc.stdout + proc.stderr
    return {"exp": exp, "consoles": consoles}


def _by_hand(log: Path) -> List[dict]:
    """The log's records read without the project's reader: bare JSON lines, each distinct line once."""
    seen, records = set(), []
    for line in log.read_text(encoding="utf-8").split("\n"):
        if line.startswith('{"') and line not in seen:
            seen.add(line)
            records.append(json.loads(line))
    return records


def _valid_times_by_hand(log: Path) -> List[tuple]:
    """(seconds, update, loss) per validation: the wall of the first training record after it."""
    out, pending = [], []
    for r in _by_hand(log):
        if "valid_loss" in r:
            pending.append((int(r["valid_num_updates"]), float(r["valid_loss"])))
        elif "wall" in r or "train_wall" in r:
            wall = float(r["wall"] if "num_updates" in r else r["train_wall"])
            out += [(wall, u, loss) for u, loss in pending]
            pending = []
    return out


# ---------------------------------------------------------------------------------------------
# the log reader, on real logs
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_duplicated_log_file_lines_count_once(trained, tmp_path):
    log_file = trained["exp"] / "intra" / "train.log"
    text = log_file.read_text(encoding="utf-8")
    lines = text.split("\n")
    records = [line for line in lines if line.startswith('{"')]
    assert len(records) == len(set(records)), "the plugin's --log-file fix writes each record once"
    # A log written without the fix (fairseq 0.12 adds a file handler at every epoch): every
    # line of epoch 2 twice.
    first_epoch_end = next(i for i, line in enumerate(lines) if line.startswith('{"epoch": 1, "train_loss"'))
    old = lines[: first_epoch_end + 1] + [
        copy for line in lines[first_epoch_end + 1 :] if line for copy in (line, line)
    ]
    old_file = tmp_path / "train.log"
    old_file.write_text("\n".join(old) + "\n", encoding="utf-8")
    copies = sum(1 for line in lines[first_epoch_end + 1 :] if line.startswith('{"'))  # records repeated
    assert copies > 5
    log = jsonlog.read_log(old_file)
    assert log.copies == copies and log.runs == 1 and not log.bad_lines
    updates = [r.update for r in log.tagged("train_inner")]
    assert updates == list(range(5, 51, 5))
    assert [(r.number("epoch"), r.update) for r in log.tagged("train")] == [(1, 25), (2, 50)]
    assert [(r.tag, r.values) for r in log.records] == [(r.tag, r.values) for r in jsonlog.read_log(log_file).records]
    # The console holds the same records as the log file.
    console = jsonlog.parse(trained["consoles"]["intra"])
    assert console.copies == 0
    assert [(r.tag, r.values) for r in console.records] == [(r.tag, r.values) for r in log.records]


@pytest.mark.slow
def test_validation_is_timed_at_the_next_training_record(trained):
    log = jsonlog.read_log(trained["exp"] / "baseline" / "train.log")
    times = jsonlog.record_times(log)
    records = log.records
    valid = [i for i, r in enumerate(records) if r.tag == "valid"]
    for i in valid:
        after = next(r for r in records[i + 1 :] if r.tag in ("train_inner", "train"))
        assert times[i] == after.wall
        # The record after a mid-epoch validation is a later update's: the time is not the one
        # of the training record at the validation's own update.
        assert after.update >= records[i].update
    mid_epoch = next(i for i in valid if records[i].update == 10)
    assert records[mid_epoch + 1].tag == "train_inner" and records[mid_epoch + 1].update == 15


def test_lines_are_split_on_newline_only_and_bad_lines_are_reported(tmp_path, caplog):
    log = tmp_path / "train.log"
    good = {"epoch": 1, "loss": "3.5", "note": "a\x85b\u2028c", "num_updates": "5", "wall": "2"}
    log.write_text(
        json.dumps(good, ensure_ascii=False)
        + "\n"
        + '{"epoch": 1, "loss": "3.1", "num_upd\n'  # cut short by a crash
        + "{'_name': None, 'common': {}}\n",
        encoding="utf-8",
    )
    parsed = jsonlog.read_log(log)
    assert [r.values for r in parsed.records] == [good]
    assert [n for n, _ in parsed.bad_lines] == [2]
    assert f"{log}: skipped 1 unreadable record line(s): line 2" in caplog.text


# ---------------------------------------------------------------------------------------------
# evaluation's record and the paired bootstrap test
# ---------------------------------------------------------------------------------------------
def _references(toy_raw: Path) -> List[str]:
    return (toy_raw / "test.tgt").read_text(encoding="utf-8").split("\n")[:-1]


def _evaluate(run_dir: Path, references: Path, drop: float, seed: int) -> List[str]:
    """Hypotheses that drop a share of each reference's words, scored by the evaluation CLI."""
    rng = random.Random(seed)
    refs = references.read_text(encoding="utf-8").split("\n")[:-1]
    hyps = [" ".join(w for w in r.split() if rng.random() >= drop) for r in refs]
    run_dir.mkdir(parents=True, exist_ok=True)
    # fairseq-generate's output, in batch order (reversed here), as evaluate.sh hands it over.
    (run_dir / "generate-test.txt").write_text(
        "".join(f"S-{i}\tx\nH-{i}\t-0.5\t{h}\nD-{i}\t-0.5\t{h}\n" for i, h in reversed(list(enumerate(hyps)))),
        encoding="utf-8",
    )
    run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.evaluation",
            "--generate-output",
            run_dir / "generate-test.txt",
            "--reference",
            references,
            "--hypotheses",
            run_dir / "hyp-test.txt",
            "--out",
            run_dir / "bleu-test.json",
        ]
    )
    return hyps


def test_bleu_json_records_length_ratio_and_reference(toy_raw, tmp_path):
    hyps = _evaluate(tmp_path / "run", toy_raw / "test.tgt", drop=0.2, seed=1)
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
        _evaluate(exp / m, toy_raw / "test.tgt", drop, seed)
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
    _evaluate(exp / "baseline", toy_raw / "test.tgt", 0.3, 1)
    _evaluate(exp / "intra", other, 0.3, 2)
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
    _evaluate(exp / "intra", toy_raw / "test.tgt", 0.3, 2)
    (exp / "intra" / "hyp-test.txt").unlink()
    proc = run([*RESULTS, exp], check=False)
    assert proc.returncode == 1 and f"{exp / 'intra' / 'hyp-test.txt'} is missing" in proc.stderr
    # A score written before the reference was recorded.
    _evaluate(exp / "intra", toy_raw / "test.tgt", 0.3, 2)
    record = json.loads((exp / "intra" / "bleu-test.json").read_text())
    del record["reference_sha256"]
    (exp / "intra" / "bleu-test.json").write_text(json.dumps(record))
    proc = run([*RESULTS, exp], check=False)
    assert proc.returncode == 1 and f"{exp / 'intra' / 'bleu-test.json'} does not say which reference" in proc.stderr
    # --no-significance leaves the test out.
    assert "Paired bootstrap" not in run([*RESULTS, exp, "--no-significance"]).stdout


# ---------------------------------------------------------------------------------------------
# several folders, equal compute
# ---------------------------------------------------------------------------------------------
def _mean_sd(values):
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def test_summary_across_seed_folders(toy_raw, tmp_path):
    folders = [tmp_path / f"seed-{s}" for s in (1, 2, 3)]
    for s, folder in enumerate(folders, start=1):
        _evaluate(folder / "baseline", toy_raw / "test.tgt", 0.2 + 0.05 * s, 10 + s)
        _evaluate(folder / "intra", toy_raw / "test.tgt", 0.35 - 0.1 * s, 20 + s)
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


@pytest.mark.slow
def test_equal_compute_on_real_logs(trained):
    exp = trained["exp"]
    proc = run([*RESULTS, exp, "--json", exp.parent / "r.json"])
    runs = {r["method"]: r for r in json.loads((exp.parent / "r.json").read_text())["runs"]}
    valid = {m: _valid_times_by_hand(exp / m / "train.log") for m in ("baseline", "intra")}
    assert all(len(v) >= 5 for v in valid.values()), "validations every 10 updates and at each epoch's end"
    # The default budget: the baseline's whole training time, its last end-of-epoch wall clock.
    assert runs["baseline"]["seconds"] == float(
        [r for r in _by_hand(exp / "baseline" / "train.log") if "train_num_updates" in r][-1]["train_wall"]
    )
    budget = float(
        [r for r in _by_hand(exp / "baseline" / "train.log") if "train_wall" in r and "train_num_updates" in r][-1][
            "train_wall"
        ]
    )
    for method in ("baseline", "intra"):
        overall = min(valid[method], key=lambda v: v[2])
        within = [v for v in valid[method] if v[0] <= budget]
        best = min(within, key=lambda v: v[2]) if within else None
        r = runs[method]
        assert r["time_budget"] == budget
        assert (r["best_valid_loss"], r["best_valid_update"]) == (overall[2], overall[1])
        assert (r["budget_valid_loss"], r["budget_valid_update"], r["budget_valid_seconds"]) == (
            (best[2], best[1], best[0]) if best else (None, None, None)
        )
    # Every budget between the intra run's validation times gives the best of those timed within it.
    for seconds in sorted({t for t, _, _ in valid["intra"]}):
        (r,) = [x for x in results.summarise(exp, time_budget=seconds) if x.method == "intra"]
        best = min((v for v in valid["intra"] if v[0] <= seconds), key=lambda v: v[2])
        assert (r.budget_valid_loss, r.budget_valid_update) == (best[2], best[1])
    assert "Equal compute" in proc.stdout and f"{budget:.0f}" in proc.stdout
    bad = run([*RESULTS, exp, "--time-budget", "0"], check=False)
    assert bad.returncode == 1 and "--time-budget must be > 0" in bad.stderr
