"""The quickstart's corpus (a long tail of rare words) and scripts/quickstart/run.sh end to end, on tiny settings.

Whether intra-distillation wins is a measurement (docs/fidelity.md), not something a test asserts.
"""

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, json_records, run

from fairseq_intradistill.data import toy_corpus

QUICKSTART = REPO / "scripts" / "quickstart" / "run.sh"


def _words(path: Path) -> list:
    return [w.rstrip(".") for line in path.read_text(encoding="utf-8").split("\n") for w in line.split()]


def test_rare_words_give_a_zipfian_long_tail(tmp_path):
    plain = toy_corpus.generate(tmp_path / "plain", {"train": 400, "test": 200}, seed=2)
    tail = toy_corpus.generate(tmp_path / "tail", {"train": 400, "test": 200}, seed=2, rare_words=900)
    for prefixes in (plain, tail):
        for prefix in prefixes.values():  # one source line per target line
            src, tgt = (Path(f"{prefix}.{side}").read_text(encoding="utf-8").split("\n") for side in ("src", "tgt"))
            # every line ends with a newline and none is empty, on both sides
            assert len(src) == len(tgt) and src[-1] == tgt[-1] == "" and all(src[:-1]) and all(tgt[:-1])

    def unseen_share(prefixes) -> float:
        train = Counter(_words(Path(f"{prefixes['train']}.tgt")))
        test = _words(Path(f"{prefixes['test']}.tgt"))
        return sum(train[w] == 0 for w in test) / len(test)

    # The original toy: almost every test word occurs in training (0.6% here); with the tail, many do not (11%).
    assert unseen_share(plain) < 0.02
    assert 0.05 < unseen_share(tail) < 0.25
    # Zipf: the frequent words dominate, and most word types are rare.
    counts = Counter(_words(Path(f"{tail['train']}.tgt")))
    assert len(counts) > 2 * len(Counter(_words(Path(f"{plain['train']}.tgt"))))
    assert sum(c <= 2 for c in counts.values()) > len(counts) / 2  # 71% here, 17% without the tail
    # Same settings, same corpus; the default corpus (the tests' data) does not depend on the tail's code.
    again = toy_corpus.generate(tmp_path / "again", {"train": 400, "test": 200}, seed=2, rare_words=900)
    assert Path(f"{again['train']}.src").read_bytes() == Path(f"{tail['train']}.src").read_bytes()


def test_invented_verbs_agree_with_plural_subjects():
    import random

    language = toy_corpus.ToyLanguage(seed=0, rare_words=90)
    invented_verbs = set(language.verbs.words) - set(toy_corpus.VERBS)
    assert len(invented_verbs) == 10
    assert all(v.endswith("s") and v in language.lexicon for v in invented_verbs)
    rng = random.Random(5)
    seen_plural = seen_singular = False
    for _ in range(3000):
        _, english = language.sentence_pair(rng)
        words = english.rstrip(".").split()
        verb_at = next((i for i, w in enumerate(words) if w in invented_verbs or w + "s" in invented_verbs), None)
        if verb_at is None:
            continue
        subject_noun = words[verb_at - 1]
        plural = subject_noun.endswith("s") and subject_noun[:-1] in language.nouns.words
        if words[verb_at] in invented_verbs:
            seen_singular = True
            assert not plural, english
        else:
            seen_plural = True
            assert plural, english
    assert seen_plural and seen_singular


def test_bad_corpus_settings_name_the_flag(tmp_path):
    for flag, value in (("--rare-words", "-1"), ("--zipf", "0")):
        proc = run(
            [
                sys.executable,
                "-m",
                "fairseq_intradistill.data.toy_corpus",
                "--out",
                tmp_path,
                "--train",
                "5",
                flag,
                value,
            ],
            check=False,
        )
        assert proc.returncode != 0 and flag in proc.stderr, proc.stderr


@pytest.mark.slow
def test_quickstart_end_to_end_with_two_seeds(tmp_path):
    out = tmp_path / "qs"
    args = [
        "bash",
        QUICKSTART,
        "--out",
        out,
        "--train-size",
        "80",
        "--rare-words",
        "60",
        "--eval-size",
        "8",
        "--max-update",
        "6",
        "--patience",
        "2",
        "--max-len-b",
        "5",  # an untrained model writes every hypothesis to the limit (fairseq's 200 tokens)
        "--seeds",
        "1",
        "2",
        "--jobs",
        "2",
        "--valid-bleu",
    ]
    proc = run(args, cwd=REPO, timeout=900)
    report = json.loads((out / "results.json").read_text())
    runs = {(r["experiment"], r["method"]): r for r in report["runs"]}
    assert set(runs) == {(f"seed-{s}", m) for s in (1, 2) for m in ("baseline", "intra")}
    assert all(r["updates"] == 6 and r["bleu"] is not None and r["length_ratio"] > 0 for r in runs.values())
    # One paired bootstrap per seed folder, and the summary over both.
    assert len(report["paired_bootstrap"]) == 2
    (summary,) = report["across_folders"]
    assert summary["gain_n"] == 2 and summary["methods"]["intra"]["n"] == 2 and summary["tested"] == 2
    for pair in report["paired_bootstrap"]:  # the table prints each folder's test
        row = next(
            line for line in proc.stdout.split("\n") if line.startswith(pair["experiment"] + " ") and "±" in line
        )
        assert f"{pair['p_value']:.4f}" in row, row
    # The two seeds trained differently: their validation losses differ (the models' own numbers).
    for method in ("baseline", "intra"):
        losses = [
            [r["valid_loss"] for r in json_records((out / f"seed-{s}" / method / "train.log").read_text(), "valid")]
            for s in (1, 2)
        ]
        assert losses[0] and len(losses[0]) == len(losses[1]) and losses[0] != losses[1], (method, losses)
    for seed in (1, 2):
        for method in ("baseline", "intra"):
            run_dir = out / f"seed-{seed}" / method
            assert (run_dir / "checkpoint_best.pt").is_file()
            for split in ("valid", "test"):
                assert json.loads((run_dir / f"bleu-{split}.json").read_text())["num_sentences"] == 8
                assert "'max_len_b': 5," in (run_dir / f"generate-{split}.log").read_text()
                hypotheses = (run_dir / f"hyp-{split}.txt").read_text().splitlines()
                assert len(hypotheses) == 8 and max(len(h.split()) for h in hypotheses) <= 5
            log = (run_dir / "train.log").read_text()
            assert f"'seed': {seed}," in log  # fairseq's configuration dump
            assert "'patience': 2," in log  # --patience reached fairseq-train, over the recipe's 10
            assert ("train_alpha" in log) == (method == "intra")
            assert "valid_bleu" in log and """'eval_bleu_args': '{"beam": 1, "max_len_b": 5}'""" in log
    # A second run redoes nothing; another corpus is refused.
    assert (out / "seed-1" / "intra" / "hyp-test.txt").read_text() != ""
    before = (out / "seed-1" / "intra" / "train.log").read_text()
    run(args, cwd=REPO)
    assert (out / "seed-1" / "intra" / "train.log").read_text() == before
    proc = run(["bash", QUICKSTART, "--out", out, "--train-size", "81", "--eval-size", "8"], cwd=REPO, check=False)
    assert proc.returncode != 0 and "--force" in proc.stderr


def test_quickstart_rejects_bad_options(tmp_path):
    for args, message in (
        (["--seeds"], "argument --seeds: expected at least one argument"),
        (["--seeds", "x"], "--seeds must be non-negative integers (got 'x')"),
        (["--jobs", "0"], "--jobs must be a positive integer (got '0')"),
        (["--train-size", "0"], "--train-size must be a positive integer"),
        (["--rare-words", "-1"], "--rare-words must be a non-negative integer"),
        (["--eval-size", "x"], "--eval-size must be a positive integer"),
        (["--max-update", "0"], "--max-update must be a positive integer"),
        (["--patience", "0"], "--patience must be a positive integer or -1"),
        (["--max-len-b", "-1"], "--max-len-b must be a positive integer"),
        (["--bogus"], "unknown option '--bogus'"),
    ):
        proc = run(["bash", QUICKSTART, "--out", tmp_path / "q", *args], cwd=REPO, check=False)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
        assert "Usage: scripts/quickstart/run.sh" in proc.stderr
    assert not (tmp_path / "q").exists()


def test_dry_run_prints_the_commands_of_common_train_sh(tmp_path):
    """One line per seed and method, before any data exists: the commands scripts/common/train.sh
    builds from the same recipe and options, so that the quickstart trains as the recipes do."""
    out = tmp_path / "qs"
    options = ["--max-update", "7", "--patience", "3", "--valid-bleu", "--max-len-b", "5"]
    proc = run(["bash", QUICKSTART, "--out", out, "--seeds", "4", "2", *options, "--dry-run"], cwd=REPO)
    lines = proc.stdout.splitlines()
    assert len(lines) == 4 and not out.exists()
    expected = []
    for seed in (4, 2):
        for method in ("baseline", "intra"):
            common = [
                "bash",
                REPO / "scripts" / "common" / "train.sh",
                "--data",
                out / "bin",
                "--method",
                method,
                "--recipe",
                "quickstart",
                "--save-dir",
                out / f"seed-{seed}" / method,
                "--seed",
                str(seed),
                "--max-update",
                "7",
                "--patience",
                "3",
                "--eval-bleu",
                "--eval-bleu-args",
                '{"beam": 1, "max_len_b": 5}',
                "--eval-bleu-remove-bpe",
                "sentencepiece",
                "--dry-run",
            ]
            expected.append(run(common, cwd=REPO).stdout.strip())
    assert lines == expected
    assert "--criterion intra_distillation" in lines[1] and "--seed 2 " in lines[2]
