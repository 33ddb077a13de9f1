"""scripts/iwslt14/* on real text: French → English of the shared l10n-fr-sv corpus, a language the paper lacks.

``../shared/data/l10n-fr-sv/2014-01.tgz`` (beside the repository; CI has it at the same place)
holds human-translated fr→en and sv→en software messages in the IWSLT 2014 release layout
(its README.md).  One pass of the real entry points, ``prepare.sh``, ``train.sh`` (both
methods), ``evaluate.sh`` and ``python -m fairseq_intradistill.results``, on a 300-pair subset
with a tiny model, a few updates and short greedy decoding, is shared by the tests of this
module; ``run_all.sh`` with the same settings then finds every step done.  Nothing is skipped:
without the archive every test fails, naming the path.
"""

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Dict

import pytest
from conftest import REPO, TINY_MODEL, json_records, run, write_run
from test_recipes_iwslt14 import build_release

pytestmark = pytest.mark.slow  # prepares, trains and decodes a real corpus

ARCHIVE = REPO.parent / "shared" / "data" / "l10n-fr-sv" / "2014-01.tgz"
# From the corpus's README.md; data/corpora.py knows the corpus by it.
ARCHIVE_SHA256 = "5dd3114a4e344d8cc04f2387410eaf9f08f27adc9ca6e55c3631978e3f0edc9f"
TEST_LINES = 2300  # the README's dev2010+dev2012 (800) + tst2010+tst2011+tst2012 (1,500), for fr
TRAIN_PAIRS = 300
# Less than an epoch of the subset (7 updates of the small preset's 2,048 tokens): the one
# validation of the 3,800-line validation set is the one at the end.
UPDATES = 6
VOCAB_SIZE = "300"
# train.sh's options beyond the pair and preset (run_all.sh's after --).
TRAIN_OPTIONS = [*TINY_MODEL, "--max-update", str(UPDATES), "--log-interval", "1"]
SCRIPTS = REPO / "scripts" / "iwslt14"
PAIR_LABEL = "iwslt14-small:l10n-fr-sv"  # the per-pair table's name for the small preset on this corpus


def bash(script: str, *args, check: bool = True):
    return run(["bash", SCRIPTS / script, *args], check=check)


def lines(path: Path):
    return path.read_text(encoding="utf-8").split("\n")[:-1]


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Dict:
    if not ARCHIVE.is_file():
        pytest.fail(
            f"the real-data corpus {ARCHIVE} is missing: these tests need the shared corpus beside the "
            "repository (../shared/data/l10n-fr-sv/2014-01.tgz, as on CI); they are never skipped"
        )
    digest = hashlib.sha256(ARCHIVE.read_bytes()).hexdigest()
    assert digest == ARCHIVE_SHA256, f"{ARCHIVE} is not the corpus its README describes (sha256 {digest})"
    out = tmp_path_factory.mktemp("real") / "l10n"
    procs = {
        "prepare": bash(
            "prepare.sh", "--langs", "fr", "--archive", ARCHIVE, "--out", out, "--preset", "small",
            "--train-pairs", str(TRAIN_PAIRS), "--vocab-size", VOCAB_SIZE,
        )
    }  # fmt: skip
    for method in ("baseline", "intra"):
        procs[method] = bash(
            "train.sh", "--lang", "fr", "--method", method, "--preset", "small", "--out", out,
            *TRAIN_OPTIONS,
        )  # fmt: skip
        # Greedy and at most 5 tokens: an untrained model would otherwise decode 200 tokens a line.
        bash(
            "evaluate.sh", "--lang", "fr", "--preset", "small", "--out", out,
            "--checkpoint", out / "runs" / "fr-en" / method / "checkpoint_best.pt",
            "--beam", "1", "--max-len-a", "0", "--max-len-b", "5",
        )  # fmt: skip
    procs["results"] = run(
        [sys.executable, "-m", "fairseq_intradistill.results", out / "runs" / "fr-en", "--json", out / "results.json"]
    )
    return {"out": out, "procs": procs}


def test_prepares_the_subset_asked_for_from_the_real_corpus(done):
    out = done["out"]
    data = out / "data" / "fr-en"
    assert json.loads((data / "preparation.json").read_text()) == {
        "train_pairs": TRAIN_PAIRS,
        "subset_seed": 1,
        "vocab_size": 300,
    }
    fr, en = lines(data / "subset" / "train.fr"), lines(data / "subset" / "train.en")
    assert len(fr) == len(en) == TRAIN_PAIRS
    assert len(lines(data / "spm" / "train.en")) == TRAIN_PAIRS  # SentencePiece saw the subset only
    # Aligned pairs of the cleaned corpus, which is much larger than the subset.
    corpus = set(zip(lines(data / "raw" / "train.fr"), lines(data / "raw" / "train.en")))
    assert len(corpus) > 50 * TRAIN_PAIRS and set(zip(fr, en)) <= corpus
    stats = json.loads((data / "raw" / "stats.json").read_text())
    assert stats["test"] == TEST_LINES
    assert len(lines(data / "raw" / "test.fr")) == len(lines(data / "raw" / "test.en")) == TEST_LINES
    # The corpus is recognised by its sha256 and follows the pair into the experiment.
    source = json.loads((out / "orig" / "fr-en.source.json").read_text())
    assert source["corpus"] == "l10n-fr-sv" and source["release_sha256"] == ARCHIVE_SHA256
    assert json.loads((out / "runs" / "fr-en" / "experiment.json").read_text()) == {
        "benchmark": "iwslt14-small",
        "pair": "fr-en",
        "corpus": "l10n-fr-sv",
    }
    ready = done["procs"]["prepare"].stderr
    assert "fr-en: ready" in ready and "corpus l10n-fr-sv" in ready
    assert f"training on a subset of {TRAIN_PAIRS} of those pairs" in ready
    assert f"training on {TRAIN_PAIRS} pairs drawn with seed 1" in ready
    # It says what was binarised: the subset, and valid and test whole.
    valid = len(lines(data / "raw" / "valid.en"))
    assert f"binarised train {TRAIN_PAIRS}, valid {valid}, test {TEST_LINES} pairs; cleaned corpus {{" in ready, ready


def test_the_text_is_real_software_messages(done):
    raw = done["out"] / "data" / "fr-en" / "raw"
    en, fr = lines(raw / "test.en"), lines(raw / "test.fr")
    # The README's domain: desktop software messages (GNOME, KDE, ...), lowercased.
    words = [set(re.findall(r"[a-z]+", line)) for line in en]
    domain = ("file", "files", "folder", "directory", "window", "error", "settings")
    assert sum(bool(w & set(domain)) for w in words) > len(en) // 20
    assert any("gnome" in w for w in words) and any("kde" in w for w in words)
    assert en == [line.lower() for line in en]
    # The source side is French, not a copy of the English.
    assert sum(a == b for a, b in zip(fr, en)) < len(en) // 20
    assert sum(" de " in line or " le " in line for line in fr) > len(fr) // 4
    assert sum(bool(re.search("[éèàç]", line)) for line in fr) > len(fr) // 4


def test_both_methods_trained_and_decoded_every_test_line(done):
    out = done["out"]
    reference = out / "data" / "fr-en" / "raw" / "test.en"
    for method in ("baseline", "intra"):
        run_dir = out / "runs" / "fr-en" / method
        bleu = json.loads((run_dir / "bleu-test.json").read_text())
        assert bleu["num_sentences"] == TEST_LINES
        assert Path(bleu["reference"]) == reference.resolve()
        assert len(lines(run_dir / "hyp-test.txt")) == len(lines(reference)) == TEST_LINES
        assert "encoder_layers=1," in done["procs"][method].stdout + done["procs"][method].stderr
        # The small preset's decoding (lenpen 1.5, recipes.py) under the options given here.
        log = (run_dir / "generate-test.log").read_text()
        assert "'lenpen': 1.5" in log and "'beam': 1," in log and "'max_len_b': 5," in log
    intra_log = (out / "runs" / "fr-en" / "intra" / "train.log").read_text()
    assert "train_intra_distillation_loss" in intra_log
    # The small preset's intra-distillation: alpha 1 from the first update (no adaptive schedule).
    alpha = {int(r["num_updates"]): float(r["alpha"]) for r in json_records(intra_log, "train_inner")}
    assert alpha == {update: 1.0 for update in range(1, UPDATES + 1)}


def test_results_json_and_table_name_the_corpus_and_no_paper_number(done):
    out = done["out"]
    result = json.loads((out / "results.json").read_text())
    runs = {r["method"]: r for r in result["runs"]}
    assert set(runs) == {"baseline", "intra"}
    for r in runs.values():
        assert r["pair"] == "fr-en" and r["benchmark"] == "iwslt14-small" and r["corpus"] == "l10n-fr-sv"
        assert isinstance(r["bleu"], float) and 0 <= r["bleu"] <= 100
        assert isinstance(r["length_ratio"], float) and r["length_ratio"] > 0
        assert r["updates"] == UPDATES and r["in_paper"] is False and r["paper_bleu"] is None
    (test,) = result["paired_bootstrap"]
    assert Path(test["folder"]).name == "fr-en" and 0 <= test["p_value"] <= 1
    table = done["procs"]["results"].stdout
    row = next(line for line in table.splitlines() if line.startswith(f"{PAIR_LABEL} fr-en"))
    assert row.split()[-3:] == ["none", "none", "none"]
    assert f"{PAIR_LABEL} mean gain over 1 pair(s)" in table and "l10n-fr-sv is not its data" in table
    assert "l10n-fr-sv: real fr->en and sv->en software messages" in table
    assert "paper, 8 pairs" not in table


def test_a_pair_of_another_archive_is_refused(done, tmp_path):
    # The IWSLT layout with a fr pair of other text: fr-en must not be silently reused from l10n-fr-sv.
    other = build_release(tmp_path / "2014-01.tgz", ["fr"])
    proc = bash("prepare.sh", "--langs", "fr", "--archive", other, "--out", done["out"], check=False)
    assert proc.returncode != 0
    assert "fr-en.tgz was taken from" in proc.stderr and "(corpus l10n-fr-sv" in proc.stderr
    assert "give --force to prepare it again, or another --out" in proc.stderr


def test_run_all_passes_the_subset_and_the_preset_to_every_step(done):
    """run_all.sh with the settings the fixture gave each script finds every step done; another
    subset is refused, so --train-pairs and --subset-seed reach prepare.sh."""
    out = done["out"]
    common = ["--langs", "fr", "--archive", ARCHIVE, "--out", out, "--vocab-size", VOCAB_SIZE, "--preset", "small"]
    train = ["--", *TRAIN_OPTIONS]
    ckpt = out / "runs" / "fr-en" / "intra" / "checkpoint_best.pt"
    before = ckpt.stat().st_mtime_ns
    proc = bash("run_all.sh", *common, "--train-pairs", str(TRAIN_PAIRS), *train)
    for step in (
        "step 3 (SentencePiece) done, skipping",
        "step 4 (binarising) done",
        "fr-en baseline is trained, skipping",
        "fr-en intra is trained, skipping",
        "bleu-test.json exists, skipping",
    ):
        assert step in proc.stderr, step
    assert ckpt.stat().st_mtime_ns == before
    assert f"{PAIR_LABEL} fr-en" in proc.stdout  # the table, over the same runs
    for args in (["--train-pairs", "60"], ["--train-pairs", str(TRAIN_PAIRS), "--subset-seed", "2"], []):
        proc = bash("run_all.sh", *common, *args, *train, check=False)
        assert proc.returncode != 0, args
        assert f"was prepared with --train-pairs {TRAIN_PAIRS} --subset-seed 1" in proc.stderr, proc.stderr
        assert "give --force to prepare it again, or another --out" in proc.stderr
    assert len(lines(out / "data" / "fr-en" / "spm" / "train.en")) == TRAIN_PAIRS


def test_pair_table_keeps_the_paper_to_its_data_and_pairs(tmp_path):
    # No training: bleu-test.json and a one-line log per run, as the unit tests of results do.
    folders = {
        "de-iwslt": ("iwslt14", "de-en", None, 30.0, 32.5),
        "sv-iwslt": ("iwslt14", "sv-en", "iwslt14", 20.0, 21.0),  # the release's sv-en: not a paper pair
        "fr-l10n-1": ("iwslt14-small", "fr-en", "l10n-fr-sv", 10.0, 12.0),
        "fr-l10n-2": ("iwslt14-small", "fr-en", "l10n-fr-sv", 11.0, 12.0),
        "de-l10n": ("iwslt14", "de-en", "l10n-fr-sv", 5.0, 6.0),  # a paper pair name, but not the paper's data
    }
    for name, (benchmark, pair, corpus, base, intra) in folders.items():
        write_run(tmp_path / name / "baseline", base)
        write_run(tmp_path / name / "intra", intra)
        meta = {"benchmark": benchmark, "pair": pair, **({"corpus": corpus} if corpus else {})}
        (tmp_path / name / "experiment.json").write_text(json.dumps(meta))
    dirs = [tmp_path / name for name in folders]
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.results",
            *dirs,
            "--json",
            tmp_path / "r.json",
            "--no-significance",
        ]
    )
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in proc.stdout.splitlines() if "-en " in line}
    assert rows[("iwslt14", "de-en")][-3:] == ["33.07", "36.10", "+3.03"]
    assert rows[("iwslt14", "sv-en")][-3:] == ["none", "none", "none"]
    assert rows[("iwslt14:l10n-fr-sv", "de-en")][-3:] == ["none", "none", "none"]
    assert rows[(PAIR_LABEL, "fr-en")][:5] == ["10.50", "0.605", "12.00", "0.620", "+1.50"]
    # The paper's mean gain is over its own pairs and data only.
    assert "iwslt14 mean gain over 2 pair(s): +1.75 (paper: none for sv-en, not among its pairs)" in proc.stdout
    assert "iwslt14:l10n-fr-sv mean gain over 1 pair(s): +1.00 (paper: none, l10n-fr-sv is not its data)" in (
        proc.stdout
    )
    result = json.loads((tmp_path / "r.json").read_text())
    paper = {(r["benchmark"], r["corpus"], r["pair"], r["method"]): r["paper_bleu"] for r in result["runs"]}
    assert paper[("iwslt14", None, "de-en", "intra")] == 36.10
    assert paper[("iwslt14", "l10n-fr-sv", "de-en", "intra")] is None
    # The two fr-en folders are one experiment (seeds); no other folder joins them.
    (across,) = result["across_folders"]
    assert across["corpus"] == "l10n-fr-sv" and across["pair"] == "fr-en" and across["gain_n"] == 2
