"""results.formatting and results.paper: the tables of ``python -m fairseq_intradistill.results``.

Runs written here by hand (a train.log record and a bleu-test.json each); the per-pair table
beside the paper's numbers, and the quickstart's table without experiment.json."""

import json
import re
import sys

from conftest import run, write_run


def test_results_table_per_pair_beside_the_paper(tmp_path):
    for pair, base, intra in (("de-en", 30.0, 32.5), ("nl-en", 28.0, 29.0)):
        exp = tmp_path / pair
        write_run(exp / "baseline", base)
        write_run(exp / "intra", intra, wall=60.0)
        (exp / "experiment.json").write_text(json.dumps({"benchmark": "iwslt14", "pair": pair}))
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.results",
            tmp_path / "de-en",
            tmp_path / "nl-en",
            "--json",
            tmp_path / "rows.json",
            "--no-significance",
        ]
    )
    lines = proc.stdout.splitlines()
    de = next(line for line in lines if line.startswith("iwslt14    de-en")).split()
    nl = next(line for line in lines if line.startswith("iwslt14    nl-en")).split()
    assert de[2:] == ["30.00", "0.800", "32.50", "0.825", "+2.50", "33.07", "36.10", "+3.03"]
    assert nl[2:] == ["28.00", "0.780", "29.00", "0.790", "+1.00", "n/a", "n/a", "n/a"]
    assert "iwslt14 mean gain over 2 pair(s): +1.75 (paper, 8 pairs: +3.54)" in proc.stdout
    assert "n/a = the paper's number for this pair is not in our sources" in proc.stdout
    assert re.search(r"^de-en\s+intra\s+32\.50\s+0\.825\s+10\s+60\s+\d+\s+3\.00x$", proc.stdout, re.M)
    rows = json.loads((tmp_path / "rows.json").read_text())["runs"]
    assert [(r["pair"], r["method"], r["paper_bleu"]) for r in rows] == [
        ("de-en", "baseline", 33.07),
        ("de-en", "intra", 36.10),
        ("nl-en", "baseline", None),
        ("nl-en", "intra", None),
    ]


def test_results_without_experiment_json_keep_the_quickstart_table(tmp_path):
    write_run(tmp_path / "quick" / "baseline", 12.0)
    out = run([sys.executable, "-m", "fairseq_intradistill.results", tmp_path / "quick"]).stdout
    assert out.splitlines()[0].split() == [
        "experiment",
        "method",
        "BLEU",
        "ratio",
        "updates",
        "time",
        "s",
        "tokens/s",
        "cost",
    ]
    assert "paper" not in out and "n/a" not in out


def test_validation_bleu_from_bleu_valid_json_in_the_table_and_the_json(tmp_path):
    # A run decoded on the validation set too (evaluate.sh --subset valid) shows those numbers
    # beside the test set's; one that was not reads "-".
    exp = tmp_path / "fr-en"
    write_run(exp / "baseline", 13.0)
    write_run(exp / "intra", 14.0)
    (exp / "intra" / "bleu-valid.json").write_text(json.dumps({"bleu": 13.72, "length_ratio": 0.938}))
    proc = run(
        [sys.executable, "-m", "fairseq_intradistill.results", exp, "--json", tmp_path / "r.json", "--no-significance"]
    )
    header = proc.stdout.splitlines()[0].split()
    assert header[:6] == ["experiment", "method", "BLEU", "ratio", "valid", "v.ratio"]
    assert re.search(r"^fr-en\s+intra\s+14\.00\s+0\.640\s+13\.72\s+0\.938\s+10\s", proc.stdout, re.M)
    assert re.search(r"^fr-en\s+baseline\s+13\.00\s+0\.630\s+-\s+-\s+10\s", proc.stdout, re.M)
    runs = json.loads((tmp_path / "r.json").read_text())["runs"]
    assert [(r["valid_bleu"], r["valid_length_ratio"]) for r in runs] == [(None, None), (13.72, 0.938)]
