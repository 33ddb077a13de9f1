"""fairseq_intradistill.data.prepare: the steps of scripts/{iwslt14,wmt17}/prepare.sh, in Python.

Fast: the options are checked without running anything, and the step logic (skip, redo,
refuse) runs on the tiny releases of test_recipes_iwslt14/test_recipes_wmt17 with
fairseq-preprocess replaced by a stand-in that only marks its step done (the scripts' slow
tests run the real one).
"""

import json
import sys
from pathlib import Path
from typing import List

import pytest
from test_recipes_iwslt14 import build_release
from test_recipes_wmt17 import build_wmt

from fairseq_intradistill import recipes
from fairseq_intradistill.data import iwslt14, prepare
from fairseq_intradistill.data.archives import ArchiveError
from fairseq_intradistill.data.corpora import PAPER_IWSLT14_LANGS


def test_iwslt14_defaults_come_from_the_recipe_table_and_the_paper():
    options = prepare.iwslt14_options()
    assert options.langs == PAPER_IWSLT14_LANGS
    assert options.vocab_size == recipes.RECIPES["iwslt14"].vocab_size == 12000
    assert prepare.iwslt14_options(preset="small").vocab_size == recipes.RECIPES["iwslt14-small"].vocab_size == 4000
    assert options.out == Path("work/iwslt14") and options.archive is None and options.workers >= 1
    assert (options.train_pairs, options.subset_seed, options.force) == (0, 1, False)
    # As the command line gives them: strings; a language given twice is prepared once.
    options = prepare.iwslt14_options(langs="de nl de", vocab_size="300", train_pairs="120", workers="2")
    assert (options.langs, options.vocab_size, options.train_pairs, options.workers) == (("de", "nl"), 300, 120, 2)
    assert prepare.wmt17_options().vocab_size == recipes.RECIPES["wmt17"].vocab_size == 32000


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"vocab_size": "many"}, "--vocab-size must be a positive integer, 8 or more (got 'many')"),
        ({"vocab_size": "0"}, "--vocab-size must be a positive integer, 8 or more (got '0')"),
        ({"vocab_size": 7}, "--vocab-size must be a positive integer, 8 or more (got '7')"),
        ({"train_pairs": "-3"}, "--train-pairs must be a positive integer, or 0 for all (got '-3')"),
        ({"train_pairs": "+3"}, "--train-pairs must be a positive integer, or 0 for all (got '+3')"),
        ({"subset_seed": "x"}, "--subset-seed must be a non-negative integer (got 'x')"),
        ({"workers": "-1"}, "--workers must be a non-negative integer, 0 for up to 8 cores (got '-1')"),
        ({"langs": "en"}, "--langs: en is the target side of every pair; give source languages"),
        ({"langs": "de deu"}, "--langs: 'deu' is not a two-letter language code"),
        ({"langs": " "}, "--langs is required (see --help)"),
        ({"out": ""}, "--out is required (see --help)"),
        ({"preset": "huge"}, "--preset must be paper or small (got 'huge')"),
        ({"archive": "/nonexistent.tgz"}, "--archive /nonexistent.tgz does not exist"),
    ],
)
def test_iwslt14_options_name_the_flag_and_what_it_takes(kwargs, message):
    with pytest.raises(ValueError) as e:
        prepare.iwslt14_options(**kwargs)
    assert str(e.value) == message


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"vocab_size": "0"}, "--vocab-size must be a positive integer, 8 or more (got '0')"),
        ({"spm_sentences": "0"}, "--spm-sentences must be a positive integer (got '0')"),
        ({"workers": "two"}, "--workers must be a non-negative integer, 0 for up to 8 cores (got 'two')"),
        ({"archive_dir": "/nonexistent"}, "--archive-dir /nonexistent is not a folder"),
        ({"out": ""}, "--out is required (see --help)"),
    ],
)
def test_wmt17_options_name_the_flag_and_what_it_takes(kwargs, message):
    with pytest.raises(ValueError) as e:
        prepare.wmt17_options(**kwargs)
    assert str(e.value) == message


def test_the_command_line_speaks_as_the_script(capsys):
    with pytest.raises(SystemExit) as e:
        prepare.main(["--prog", "scripts/iwslt14/prepare.sh", "iwslt14", "--help"])
    assert e.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith("Usage: scripts/iwslt14/prepare.sh [--langs")
    words = " ".join(help_text.split())  # argparse wraps the options' help to the terminal's width
    assert "paper 12000, small 4000" in words and " ".join(PAPER_IWSLT14_LANGS) in words
    for argv, message in (
        (["iwslt14", "--bogus"], "unknown option '--bogus' (see --help)"),
        (["iwslt14", "--lang", "de"], "unknown option '--lang' (see --help)"),  # no abbreviation of --langs
        (["iwslt14", "--vocab-size", "many"], "error: --vocab-size must be a positive integer"),
        (["wmt17", "--spm-sentences", "-1"], "error: --spm-sentences must be a positive integer (got '-1')"),
    ):
        with pytest.raises(SystemExit) as e:
            prepare.main(["--prog", "scripts/x/prepare.sh", *argv])
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err and "scripts/x/prepare.sh: error:" in err, err


# ---------------------------------------------------------------------------------------------
# The steps.


@pytest.fixture
def binarised(monkeypatch) -> List[str]:
    """fairseq-preprocess replaced: each call marks bin/ done and is recorded (data folder names)."""
    calls: List[str] = []

    def fake(data: Path, source: str, target: str, workers: int, what: str) -> None:
        (data / "bin").mkdir(parents=True, exist_ok=True)
        (data / "bin" / "done").touch()
        calls.append(data.name)

    monkeypatch.setattr(prepare, "binarise", fake)
    return calls


def _steps(err: str) -> List[str]:
    """The log lines of a run, without their time."""
    return [line.split("] ", 1)[1] for line in err.splitlines() if line.startswith("[")]


def _iwslt(archive: Path, out: Path, **kwargs) -> prepare.Iwslt14Options:
    return prepare.iwslt14_options(langs="de", archive=archive, out=out, vocab_size=100, workers=1, **kwargs)


def test_iwslt14_steps_skip_redo_and_refuse(tmp_path, binarised, capsys):
    release = build_release(tmp_path / "2014-01.tgz", ["de"])
    out, data = tmp_path / "work", tmp_path / "work" / "data" / "de-en"
    prepare.prepare_iwslt14(_iwslt(release, out, train_pairs=120))
    steps = _steps(capsys.readouterr().err)
    assert steps[:5] == [
        f"step 1: taking de out of {release}",
        "de-en: step 2: tokenising, cleaning, lowercasing, detokenising",
        f"de-en: training on 120 pairs drawn with seed 1 ({data / 'subset'})",
        "de-en: step 3: joint SentencePiece model (100 pieces) and encoding",
        "de-en: step 4: fairseq-preprocess with a joint dictionary",
    ]
    stats = json.loads((data / "raw" / "stats.json").read_text())
    assert steps[5] == (
        f"de-en: ready in {data / 'bin'} (corpus iwslt14; binarised train 120, valid {stats['valid']}, "
        f"test {stats['test']} pairs; cleaned corpus {json.dumps(stats, separators=(',', ':'))}; "
        "training on a subset of 120 of those pairs)"
    )
    assert len(steps) == 6 and binarised == ["de-en"]
    assert json.loads((data / "preparation.json").read_text()) == {
        "train_pairs": 120,
        "subset_seed": 1,
        "vocab_size": 100,
    }
    assert (out / "orig" / "de-en.source.json").is_file() and (data / "spm" / "done").is_file()

    # A second run skips every step.
    prepare.prepare_iwslt14(_iwslt(release, out, train_pairs=120))
    steps = _steps(capsys.readouterr().err)
    assert steps[:5] == [
        f"step 1: pair archives present in {out / 'orig'}, skipping",
        "de-en: step 2 (cleaned text) done, skipping",
        f"de-en: training on 120 pairs drawn with seed 1 ({data / 'subset'})",
        "de-en: step 3 (SentencePiece) done, skipping",
        "de-en: step 4 (binarising) done, skipping",
    ]
    assert binarised == ["de-en"]

    # SentencePiece interrupted: it is redone, and binarising after it; the cleaned text is kept.
    (data / "spm" / "done").unlink()
    prepare.prepare_iwslt14(_iwslt(release, out, train_pairs=120))
    steps = _steps(capsys.readouterr().err)
    assert "de-en: step 2 (cleaned text) done, skipping" in steps
    assert "de-en: step 3: joint SentencePiece model (100 pieces) and encoding" in steps
    assert "de-en: step 4: fairseq-preprocess with a joint dictionary" in steps and binarised == ["de-en"] * 2

    # Other settings: refused before anything is redone.
    before = (data / "spm" / "spm.model").stat().st_mtime_ns
    for kwargs in ({"train_pairs": 60}, {"train_pairs": 120, "subset_seed": 2}, {}):
        with pytest.raises(iwslt14.PreparationMismatch, match="was prepared with --train-pairs 120 --subset-seed 1"):
            prepare.prepare_iwslt14(_iwslt(release, out, **kwargs))
    assert (data / "spm" / "spm.model").stat().st_mtime_ns == before and binarised == ["de-en"] * 2


def _unpacked_pair(tmp_path: Path, archive: Path) -> Path:
    """OUT with a de-en pair recorded as taken from ``archive`` and prepared (nothing real inside)."""
    out = tmp_path / "work"
    (out / "orig").mkdir(parents=True)
    (out / "orig" / "de-en.tgz").write_bytes(b"the pair")
    record = iwslt14.source_record(archive)
    iwslt14.source_file(out / "orig", "de").write_text(json.dumps(record))
    data = out / "data" / "de-en"
    (data / "raw").mkdir(parents=True)
    (data / "raw" / "stats.json").write_text('{"train": 10}\n')
    (data / "preparation.json").write_text(json.dumps(iwslt14.preparation_settings(None, 1, 100)))
    return out


def test_iwslt14_refuses_a_pair_of_another_archive_and_force_removes_it(tmp_path, binarised, capsys):
    first, second = tmp_path / "first.tgz", tmp_path / "second.tgz"
    first.write_bytes(b"one archive")
    second.write_bytes(b"another archive")
    out = _unpacked_pair(tmp_path, first)
    with pytest.raises(ValueError, match="de-en.tgz was taken from .*first.tgz .*not from .*second.tgz"):
        prepare.prepare_iwslt14(_iwslt(second, out))
    assert (out / "orig" / "de-en.tgz").read_bytes() == b"the pair" and (out / "data" / "de-en").is_dir()
    # Through the command line: "error: ...", status 1, no traceback.
    with pytest.raises(SystemExit) as e:
        prepare.main(["iwslt14", "--langs", "de", "--archive", str(second), "--out", str(out), "--vocab-size", "100"])
    assert e.value.code == 1
    assert capsys.readouterr().err.startswith("error: ") and (out / "orig" / "de-en.tgz").is_file()
    # --force removes the pair's files first, then takes the pair out of the (here broken) archive again.
    with pytest.raises(ArchiveError, match="corrupt or truncated archive"):
        prepare.prepare_iwslt14(_iwslt(second, out, force=True))
    assert not (out / "orig" / "de-en.tgz").exists() and not iwslt14.source_file(out / "orig", "de").exists()
    assert not (out / "data" / "de-en").exists() and binarised == []


def test_a_failed_fairseq_preprocess_is_named_and_not_marked_done(tmp_path, monkeypatch):
    data = tmp_path / "data" / "de-en"
    data.mkdir(parents=True)
    monkeypatch.setattr(prepare, "fairseq_preprocess", lambda: "false")
    with pytest.raises(prepare.StepError, match=f"fairseq-preprocess failed for de-en, see {data / 'preprocess.log'}"):
        prepare.binarise(data, "de", "en", 1, " for de-en")
    assert (data / "bin").is_dir() and not (data / "bin" / "done").exists()
    monkeypatch.setattr(prepare, "fairseq_preprocess", lambda: str(tmp_path / "no-such-program"))
    with pytest.raises(prepare.StepError, match="fairseq-preprocess not found"):
        prepare.binarise(data, "de", "en", 1, " for de-en")
    # The command: the joint dictionary, the three encoded splits, the workers; its output in the log.
    recorder = tmp_path / "fairseq-preprocess"
    recorder.write_text('#!/bin/sh\necho "$@"\n')
    recorder.chmod(0o755)
    monkeypatch.setattr(prepare, "fairseq_preprocess", lambda: str(recorder))
    prepare.binarise(data, "de", "en", 3, " for de-en")
    spm_dir = data / "spm"
    assert (data / "preprocess.log").read_text().split() == [
        "--source-lang", "de", "--target-lang", "en", "--joined-dictionary",
        "--trainpref", str(spm_dir / "train"), "--validpref", str(spm_dir / "valid"),
        "--testpref", str(spm_dir / "test"), "--destdir", str(data / "bin"), "--workers", "3",
    ]  # fmt: skip
    assert (data / "bin" / "done").is_file()
    monkeypatch.undo()
    # Without a stand-in: the fairseq-preprocess of this Python's environment.
    assert prepare.fairseq_preprocess() == str(Path(sys.executable).parent / "fairseq-preprocess")


def test_wmt17_steps_skip_and_force_redoes(tmp_path, binarised, capsys):
    folder, _ = build_wmt(tmp_path / "dl")
    options = prepare.wmt17_options(
        archive_dir=folder, out=tmp_path / "w", vocab_size=100, spm_sentences=1000, workers=1
    )
    data = tmp_path / "w" / "data" / "en-de"
    prepare.prepare_wmt17(options)
    steps = _steps(capsys.readouterr().err)
    stats = json.dumps(json.loads((data / "raw" / "stats.json").read_text()), separators=(",", ":"))
    assert steps == [
        f"step 1: normalising and cleaning the corpora of {folder} (long: about 6M pairs)",
        "step 2: joint SentencePiece model (100 pieces) and encoding",
        "step 3: fairseq-preprocess with a joint dictionary",
        f"en-de: ready in {data / 'bin'} ({stats})",
    ]
    assert sorted(p.name for p in (data / "spm").iterdir()) == sorted(
        ["done", "spm.model", "spm.vocab"] + [f"{s}.{x}" for s in ("train", "valid", "test") for x in ("en", "de")]
    )
    prepare.prepare_wmt17(options)
    assert _steps(capsys.readouterr().err)[:3] == [
        "step 1 (cleaned text) done, skipping",
        "step 2 (SentencePiece) done, skipping",
        "step 3 (binarising) done, skipping",
    ]
    (data / "stale").touch()
    prepare.prepare_wmt17(
        prepare.wmt17_options(archive_dir=folder, out=tmp_path / "w", vocab_size=100, workers=1, force=True)
    )
    assert "step 1: normalising" in capsys.readouterr().err and not (data / "stale").exists()
    assert binarised == ["en-de", "en-de"]
