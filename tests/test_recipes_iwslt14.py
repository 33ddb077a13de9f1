"""scripts/iwslt14/*: end to end, offline, on a tiny release in the exact IWSLT 2014 layout.

The release is built here: ``2014-01.tgz`` holding ``2014-01/texts/<src>/en/<src>-en.tgz``,
each with ``train.tags.<src>-en.{<src>,en}`` (TED metadata lines included) and the five
``IWSLT14.TED*.xml`` dev/test files.  One full ``run_all.sh`` is shared by the tests of this
module (fairseq start-up dominates the time), which then check skipping, resuming, --force
and the error cases.
"""

import io
import json
import random
import re
import shlex
import sys
import tarfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest
from conftest import REPO, TINY_MODEL, USER_DIR, run

from fairseq_intradistill import recipes
from fairseq_intradistill.data.corpora import PAPER_IWSLT14_LANGS
from fairseq_intradistill.data.toy_corpus import ToyLanguage

SCRIPTS = REPO / "scripts" / "iwslt14"
TEST_SETS = (
    "IWSLT14.TED.dev2010",
    "IWSLT14.TEDX.dev2012",
    "IWSLT14.TED.tst2010",
    "IWSLT14.TED.tst2011",
    "IWSLT14.TED.tst2012",
)
N_TRAIN = 300
PER_TEST = 3
# Pairs the cleaning must drop: a length ratio over 1.5, and a side over 175 tokens.
BAD_PAIRS = [("ka", "one two three four five six seven eight ."), (" ".join(["lo"] * 180), " ".join(["word"] * 180))]
TRAIN_OPTS = TINY_MODEL + ["--max-update", "3", "--log-interval", "1"]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def pair_sentences(seed: int = 0) -> List[Tuple[str, str]]:
    rng = random.Random(seed)
    toy = ToyLanguage(seed=0)
    return [toy.sentence_pair(rng) for _ in range(N_TRAIN + len(TEST_SETS) * PER_TEST)]


def pair_archive(lang: str, empty_train: bool = False, empty_xml: Optional[str] = None) -> bytes:
    """One pair's ``<src>-en.tgz`` with TED-like train.tags files and mteval XML dev/test sets."""
    pairs = pair_sentences()
    train = pairs[:N_TRAIN]
    train = train[:100] + BAD_PAIRS + train[100:]
    pair = f"{lang}-en"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for side, col in ((lang, 0), ("en", 1)):
            lines: List[str] = []
            for talk in range(0, len(train), 60):
                lines += [
                    f"<url>http://www.ted.com/talks/talk{talk}.html</url>",
                    f"<keywords>talks, science, talk{talk}</keywords>",
                    f"<talkid>{talk + 1}</talkid>",
                    f"<title>Talk number {talk}</title>",
                    f"<description>TED Talk Subtitles and Transcript: about {talk}</description>",
                ]
                if empty_train:  # metadata only: nothing survives the filtering
                    lines = [x for x in lines if not x.startswith(("<title>", "<description>"))]
                else:
                    lines += [p[col] for p in train[talk : talk + 60]]
            _add(tar, f"{pair}/train.tags.{pair}.{side}", ("\n".join(lines) + "\n").encode())
        for i, name in enumerate(TEST_SETS):
            segs = pairs[N_TRAIN + i * PER_TEST : N_TRAIN + (i + 1) * PER_TEST]
            for side, col in ((lang, 0), ("en", 1)):
                kind = "srcset" if side == lang else "refset"
                body = (
                    ""
                    if empty_xml == f"{name}.{side}"
                    else "\n".join(
                        f'<seg id="{j + 1}"> {s[col][0].upper() + s[col][1:]} </seg>' for j, s in enumerate(segs)
                    )
                )
                xml = (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<mteval>\n'
                    f'<{kind} setid="{name}" srclang="{lang}" tgtlang="en">\n'
                    f'<doc docid="{100 + i}" genre="lectures">\n<url>http://www.ted.com/talks/x{i}.html</url>\n'
                    f"<description>TED Talk Subtitles and Transcript: x</description>\n"
                    f"<keywords>talks</keywords>\n<speaker>Some Speaker</speaker>\n<talkid>{100 + i}</talkid>\n"
                    f"<title>Test talk {i}</title>\n{body}\n</doc>\n</{kind}>\n</mteval>\n"
                )
                _add(tar, f"{pair}/{name}.{pair}.{side}.xml", xml.encode())
    return buf.getvalue()


def build_release(path: Path, langs: Sequence[str], **broken) -> Path:
    """A ``2014-01.tgz`` with ``2014-01/texts/<src>/en/<src>-en.tgz`` for each language."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "2014-01/README.txt", b"IWSLT 2014 evaluation campaign: texts\n")
        for lang in langs:
            _add(tar, f"2014-01/texts/{lang}/en/{lang}-en.tgz", pair_archive(lang, **broken))
    return path


def expected_test_references() -> List[str]:
    pairs = pair_sentences()[N_TRAIN:]
    return [p[1].lower() for p in pairs]


def log_records(log: Path, inner: bool) -> List[dict]:
    """fairseq's JSON log file: per-update (train_inner) or end-of-epoch (train) records."""
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"')]
    if inner:
        return [r for r in records if "num_updates" in r]
    return [r for r in records if "train_num_updates" in r]


def updates_logged(log: Path) -> List[int]:
    """The update numbers of the per-update records (fairseq repeats the last one at the end)."""
    return sorted({int(r["num_updates"]) for r in log_records(log, inner=True)})


def bash(script: str, *args, check: bool = True):
    return run(["bash", SCRIPTS / script, *args], check=check)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return build_release(tmp_path_factory.mktemp("iwslt_release") / "2014-01.tgz", ["de", "nl"])


@pytest.fixture(scope="module")
def done(release, tmp_path_factory) -> Dict:
    """One full run_all.sh on de-en: prepare, train both methods, evaluate, summarise."""
    out = tmp_path_factory.mktemp("iwslt_work") / "iwslt14"
    proc = bash(
        "run_all.sh", "--langs", "de", "--archive", release, "--out", out, "--vocab-size", "200", "--", *TRAIN_OPTS
    )
    return {"out": out, "proc": proc}


def test_every_script_prints_help():
    for script in ("prepare.sh", "train.sh", "evaluate.sh", "run_all.sh", "ablate.sh", "self_distill.sh"):
        proc = bash(script, "--help")
        assert proc.stdout.startswith(f"Usage: scripts/iwslt14/{script}"), script


@pytest.mark.parametrize(
    "script,args,message",
    [
        ("train.sh", ["--method", "intra"], "--lang is required"),
        ("train.sh", ["--lang", "de"], "--method is required"),
        ("train.sh", ["--lang", "de", "--method", "rdrop"], "--method must be baseline or intra (got 'rdrop')"),
        (
            "train.sh",
            ["--lang", "de", "--method", "intra", "--out", "/nonexistent"],
            "no prepared data in /nonexistent/data/de-en/bin",
        ),
        ("evaluate.sh", ["--lang", "de"], "--checkpoint is required"),
        (
            "evaluate.sh",
            ["--lang", "de", "--checkpoint", "/nonexistent.pt"],
            "--checkpoint /nonexistent.pt does not exist",
        ),
        ("prepare.sh", ["--langs", "de", "--vocab-size", "many"], "--vocab-size must be a positive integer"),
        ("prepare.sh", ["--langs", "en"], "en is the target side"),
        ("prepare.sh", ["--archive", "/nonexistent.tgz"], "--archive /nonexistent.tgz does not exist"),
        ("prepare.sh", ["--bogus"], "unknown option '--bogus'"),
        ("run_all.sh", ["--methods", "baseline rdrop"], "'rdrop' is not baseline or intra"),
        ("ablate.sh", ["--lang", "de", "--passes", "0 2"], "--passes: '0' is not a positive integer"),
        ("ablate.sh", ["--lang", "de", "--alpha-modes", "cosine"], "'cosine' is not fixed or adaptive"),
        ("ablate.sh", ["--passes", "2"], "--lang is required"),
        ("ablate.sh", ["--lang", "de", "--preset", "huge"], "--preset must be paper or small (got 'huge')"),
        ("train.sh", ["--lang", "de", "--method", "intra", "--preset", "huge"], "--preset must be paper or small"),
        ("run_all.sh", ["--preset", "huge"], "--preset must be paper or small (got 'huge')"),
        ("run_all.sh", ["--langs", "de xyz"], "--langs: 'xyz' is not a two-letter language code"),
        ("run_all.sh", ["--bogus"], "unknown option '--bogus'"),
        ("self_distill.sh", ["--data", "/nonexistent", "--out", "o"], "--reference is required"),
        (
            "self_distill.sh",
            ["--data", "/nonexistent", "--reference", "r", "--out", "o"],
            "--data /nonexistent does not exist",
        ),
        (
            "self_distill.sh",
            ["--data", "d", "--reference", "r", "--out", "o", "--generations", "0"],
            "--generations must be a positive integer (got '0')",
        ),
        (
            "self_distill.sh",
            ["--data", "d", "--reference", "r", "--out", "o", "--kd-divergence", "js"],
            "--kd-divergence must be kl or x (got 'js')",
        ),
        ("prepare.sh", ["--langs", "de", "--train-pairs", "-3"], "--train-pairs must be a positive integer"),
    ],
)
def test_wrong_or_missing_arguments_fail_clearly(script, args, message):
    proc = bash(script, *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


def dry_run(script: Path, *args, cwd: Path) -> Tuple[List[str], str]:
    """The command ``script --dry-run`` prints (one line, split as a shell would) and its stderr."""
    # No GPU, whatever the machine: the batch plan and --cpu are then known.
    proc = run(["bash", script, *args, "--dry-run"], cwd=cwd, env={"CUDA_VISIBLE_DEVICES": ""})
    assert len(proc.stdout.splitlines()) == 1, proc.stdout
    return shlex.split(proc.stdout), proc.stderr


def test_train_dry_run_prints_the_command_before_the_data_exists(tmp_path):
    # The command of the issue, as a user types it in a fresh checkout: nothing prepared.
    command, stderr = dry_run(SCRIPTS / "train.sh", "--lang", "de", "--method", "intra", cwd=tmp_path)
    assert command[0].endswith("fairseq-train") and command[1] == "work/iwslt14/data/de-en/bin"
    # The recipe's flags, all of them and in order, with the batch plan of the CPU.
    flags = recipes.train_flags("iwslt14", "intra", gpus=0)
    start = command.index("--task")
    assert command[start : start + len(flags)] == flags
    line = shlex.join(command)
    assert "--arch transformer_iwslt_de_en" in line and "--alpha-p 5 --alpha-q 10" in line
    assert "--save-dir work/iwslt14/runs/de-en/intra" in line and command[-1] == "--cpu"
    assert "no prepared data in work/iwslt14/data/de-en/bin yet" in stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
    # A fairseq option lands after the recipe's (so fairseq takes it); the recipe's
    # replacements replace, before or after --; the small preset's model.
    command, _ = dry_run(
        SCRIPTS / "train.sh", "--lang", "de", "--method", "intra", "--preset", "small", "--out", tmp_path / "w",
        "--lr", "7e-4", "--alpha-mode", "fixed", "--", "--max-update", "100", "--patience", "3",
        cwd=tmp_path,
    )  # fmt: skip
    lr = [i for i, a in enumerate(command) if a == "--lr"]
    assert [command[i + 1] for i in lr] == ["1e-3", "7e-4"] and lr[1] > command.index("--max-update")
    assert command[-2:] == ["--patience", "3"] and command.count("--max-update") == 1
    flags = recipes.train_flags("iwslt14-small", "intra", gpus=0, max_update=100, alpha_mode="fixed")
    start = command.index("--task")
    assert command[start : start + len(flags)] == flags and "--adaptive-alpha" not in command
    assert "--encoder-layers" in command and command[command.index("--max-tokens") + 1] == "2048"


def test_ablation_dry_run_prints_one_command_per_run(tmp_path):
    # Before the data exists: one fairseq-train line per run, each with its K and alpha mode,
    # the options after -- last; nothing is written and nothing is evaluated.
    proc = run(
        ["bash", SCRIPTS / "ablate.sh", "--lang", "de", "--passes", "1 3", "--alpha-modes", "fixed adaptive",
         "--dry-run", "--", "--patience", "3"],
        cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": ""},
    )  # fmt: skip
    commands = [shlex.split(line) for line in proc.stdout.splitlines()]
    assert [c[c.index("--save-dir") + 1] for c in commands] == [
        f"work/iwslt14/ablation/de-en/{name}" for name in ("K1", "K3-fixed", "K3-adaptive")
    ]
    assert [c[c.index("--num-passes") + 1] for c in commands] == ["1", "3", "3"]
    assert ["--adaptive-alpha" in c for c in commands] == [False, False, True]  # K1 takes the first mode
    assert all(c[0].endswith("fairseq-train") and c[-2:] == ["--patience", "3"] for c in commands)
    assert list(tmp_path.iterdir()) == []


def test_run_all_dry_run_prints_one_command_per_language_and_method(tmp_path):
    # Before anything is downloaded or prepared: the paper's eight languages (the default
    # --langs) times both methods, each with the preset's recipe and the options after --;
    # prepare.sh is not run, nothing is evaluated or written.
    proc = run(
        ["bash", SCRIPTS / "run_all.sh", "--preset", "small", "--dry-run", "--", "--max-update", "100",
         "--patience", "3"],
        cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": ""},
    )  # fmt: skip
    commands = [shlex.split(line) for line in proc.stdout.splitlines()]
    runs = [(lang, method) for lang in PAPER_IWSLT14_LANGS for method in ("baseline", "intra")]
    assert [(c[1], c[c.index("--save-dir") + 1]) for c in commands] == [
        (f"work/iwslt14/data/{lang}-en/bin", f"work/iwslt14/runs/{lang}-en/{method}") for lang, method in runs
    ]
    for (_, method), command in zip(runs, commands):
        flags = recipes.train_flags("iwslt14-small", method, gpus=0, max_update=100)
        start = command.index("--task")
        assert command[start : start + len(flags)] == flags
        assert command[0].endswith("fairseq-train") and command[-2:] == ["--patience", "3"]
    assert "step 1" not in proc.stderr and "evaluating" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_self_distill_dry_run_prints_one_command_per_generation(tmp_path):
    # Before the data exists: model 1 a baseline, model g the student of model g-1's
    # checkpoint_best.pt (which does not exist yet either), the options after -- last.
    proc = run(
        ["bash", SCRIPTS / "self_distill.sh", "--data", "bin", "--reference", "ref.en", "--out", "sd",
         "--kd-alpha", "0.5", "--kd-divergence", "x", "--dry-run", "--", "--max-update", "100", "--patience", "3"],
        cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": ""},
    )  # fmt: skip
    commands = [shlex.split(line) for line in proc.stdout.splitlines()]
    assert [c[c.index("--save-dir") + 1] for c in commands] == ["sd/model1", "sd/model2", "sd/model3"]  # 3: default
    for g, command in enumerate(commands, start=1):
        flags = recipes.train_flags("iwslt14", "baseline" if g == 1 else "self_distillation", gpus=0, max_update=100)
        start = command.index("--task")
        assert command[start : start + len(flags)] == flags
        assert command[0].endswith("fairseq-train") and command[1] == "bin" and command[-2:] == ["--patience", "3"]
    assert "--teacher-path" not in commands[0] and "--kd-alpha" not in commands[0]
    for g in (2, 3):
        teacher = commands[g - 1][commands[g - 1].index("--teacher-path") :][:6]
        assert teacher == ["--teacher-path", f"sd/model{g - 1}/checkpoint_best.pt", "--kd-alpha", "0.5",
                           "--kd-divergence", "x"]  # fmt: skip
    assert "a real run would stop here: --data bin does not exist" in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_run_all_prepares_the_data_as_the_authors(done):
    out = done["out"]
    data = out / "data" / "de-en"
    assert (out / "orig" / "de-en.tgz").is_file()
    stats = json.loads((data / "raw" / "stats.json").read_text())
    train = {s: (data / "raw" / f"train.{s}").read_text().splitlines() for s in ("de", "en")}
    valid = {s: (data / "raw" / f"valid.{s}").read_text().splitlines() for s in ("de", "en")}
    # Both bad pairs dropped; the train.tags metadata lines are gone (title/description
    # texts stay as sentences, as in the authors' pipeline); every 23rd line is valid.
    kept = N_TRAIN + len(range(0, N_TRAIN + 2, 60)) * 2  # sentences + title and description lines
    assert stats["train"] + stats["valid"] == kept
    assert stats["valid"] == kept // 23 and stats["train"] == len(train["en"]) == len(train["de"])
    assert len(valid["en"]) == len(valid["de"]) == stats["valid"]
    text = "\n".join(train["en"] + valid["en"] + train["de"])
    assert "<url>" not in text and "talkid" not in text and "keywords" not in text and "<title>" not in text
    assert "talk number 0" in text  # the title's text, lowercased
    lines = text.splitlines()
    assert not any("word word word" in line for line in lines) and "ka" not in lines
    assert text == text.lower()
    # Moses detokenised: no space before the final full stop.
    assert all(not line.endswith(" .") for line in train["en"] if line.endswith("."))
    # Test: the five sets in order, lowercased <seg> text, nothing else.
    assert (data / "raw" / "test.en").read_text().splitlines() == expected_test_references()
    assert stats["test"] == len(TEST_SETS) * PER_TEST
    assert (data / "spm" / "spm.model").is_file()
    assert (data / "bin" / "dict.de.txt").read_text() == (data / "bin" / "dict.en.txt").read_text()
    for split in ("train", "valid", "test"):
        assert (data / "bin" / f"{split}.de-en.de.bin").is_file()


@pytest.mark.slow
def test_run_all_trains_evaluates_and_summarises(done):
    out, proc = done["out"], done["proc"]
    for method in ("baseline", "intra"):
        run_dir = out / "runs" / "de-en" / method
        assert (run_dir / "checkpoint_best.pt").is_file() and (run_dir / "train.done").is_file()
        bleu = json.loads((run_dir / "bleu-test.json").read_text())
        assert isinstance(bleu["bleu"], float) and 0 <= bleu["bleu"] <= 100
        assert bleu["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
        assert bleu["num_sentences"] == len(TEST_SETS) * PER_TEST
        assert len((run_dir / "hyp-test.txt").read_text().splitlines()) == bleu["num_sentences"]
    intra_log = (out / "runs" / "de-en" / "intra" / "train.log").read_text()
    assert "train_intra_distillation_loss" in intra_log
    # The adaptive schedule over 3 updates (p=5): 0 at the first update, the full 5 from N/p on.
    by_update = {
        int(r["num_updates"]): float(r["alpha"])
        for r in log_records(out / "runs" / "de-en" / "intra" / "train.log", inner=True)
    }
    assert by_update == {1: 0.0, 2: 5.0, 3: 5.0}
    assert "train_intra_distillation_loss" not in (out / "runs" / "de-en" / "baseline" / "train.log").read_text()
    # Both methods load the plugin (same code path, portable checkpoints).
    assert (proc.stdout + proc.stderr).count(f"'user_dir': '{USER_DIR}'") == 2
    assert "'alpha_p': 5.0, 'alpha_q': 10.0" in proc.stdout + proc.stderr
    # The table: per pair, ours beside the paper's de-en numbers.
    table = (out / "results.txt").read_text()
    assert table in proc.stdout
    row = next(line for line in table.splitlines() if line.startswith("iwslt14    de-en"))
    assert "33.07" in row and "36.10" in row and "+3.03" in row
    rows = json.loads((out / "results.json").read_text())["runs"]
    assert {(r["method"], r["paper_bleu"]) for r in rows} == {("baseline", 33.07), ("intra", 36.10)}


@pytest.mark.slow
def test_second_run_skips_finished_steps(done, release):
    out = done["out"]
    ckpt = out / "runs" / "de-en" / "intra" / "checkpoint_best.pt"
    before = ckpt.stat().st_mtime_ns
    proc = bash(
        "run_all.sh", "--langs", "de", "--archive", release, "--out", out, "--vocab-size", "200", "--", *TRAIN_OPTS
    )
    for step in (
        "pair archives present",
        "step 2 (cleaned text) done",
        "step 3 (SentencePiece) done",
        "step 4 (binarising) done",
        "de-en intra is trained, skipping",
        "bleu-test.json exists, skipping",
    ):
        assert step in proc.stderr, step
    assert "training intra model" not in proc.stderr and "decoding test" not in proc.stderr
    assert ckpt.stat().st_mtime_ns == before


@pytest.mark.slow
def test_interrupted_training_resumes_and_evaluate_force_redoes(done):
    out = done["out"]
    run_dir = out / "runs" / "de-en" / "intra"
    (run_dir / "train.done").unlink()  # as if killed after the last checkpoint
    proc = bash("train.sh", "--lang", "de", "--method", "intra", "--out", out, *TRAIN_OPTS, "--max-update", "5")
    assert "resuming from" in proc.stderr
    assert re.search(r"Loaded checkpoint .*checkpoint_last\.pt \(epoch \d+ @ 3 updates\)", proc.stdout + proc.stderr)
    epochs = log_records(run_dir / "train.log", inner=False)
    assert epochs[-1]["train_num_updates"] == "5"
    # Updates 4 and 5 continued from the checkpoint: the first three are not redone.
    assert updates_logged(run_dir / "train.log") == [1, 2, 3, 4, 5]
    bleu = run_dir / "bleu-test.json"
    before = bleu.stat().st_mtime_ns
    proc = bash("evaluate.sh", "--lang", "de", "--out", out, "--checkpoint", run_dir / "checkpoint_best.pt")
    assert "exists, skipping" in proc.stderr and bleu.stat().st_mtime_ns == before
    bash("evaluate.sh", "--lang", "de", "--out", out, "--checkpoint", run_dir / "checkpoint_best.pt", "--force")
    assert bleu.stat().st_mtime_ns > before and json.loads(bleu.read_text())["num_sentences"] == 15


@pytest.mark.slow
def test_train_force_starts_again(done):
    out = done["out"]
    run_dir = out / "runs" / "de-en" / "baseline"
    (run_dir / "stale-file").write_text("removed by --force\n")
    proc = bash("train.sh", "--lang", "de", "--method", "baseline", "--out", out, "--force", *TRAIN_OPTS)
    assert "resuming" not in proc.stderr and "Loaded checkpoint" not in proc.stdout + proc.stderr
    assert not (run_dir / "stale-file").exists() and (run_dir / "train.done").is_file()
    assert updates_logged(run_dir / "train.log") == [1, 2, 3]


@pytest.mark.slow
def test_ablation_table_with_fixed_alpha(done):
    # One run keeps the suite short: the adaptive schedule is run_all's intra model (checked above).
    out = done["out"]
    proc = bash("ablate.sh", "--lang", "de", "--passes", "2", "--alpha-modes", "fixed", "--out", out, "--", *TRAIN_OPTS)
    table_dir = out / "ablation" / "de-en"
    table = (table_dir / "table.txt").read_text()
    assert table in proc.stdout
    assert re.search(r"^de-en\s+K2-fixed\s+\d+\.\d\d\s+\d+\.\d{3}\s+3\s+\d+\s+\d+", table, re.M), table
    assert json.loads((table_dir / "K2-fixed" / "bleu-test.json").read_text())["num_sentences"] == 15
    by_update = {
        int(r["num_updates"]): float(r["alpha"]) for r in log_records(table_dir / "K2-fixed" / "train.log", inner=True)
    }
    assert by_update == {1: 5.0, 2: 5.0, 3: 5.0}  # constant from the first update
    assert "'num_passes': 2" in proc.stdout + proc.stderr and "'adaptive_alpha': False" in proc.stdout + proc.stderr
    rows = json.loads((table_dir / "table.json").read_text())["runs"]
    assert [r["method"] for r in rows] == ["K2-fixed"]
    assert rows[0]["tokens_per_second"] > 0 and rows[0]["updates"] == 3


@pytest.mark.slow
def test_prepare_force_redoes_the_pair(done, release):
    out = done["out"]
    stats = out / "data" / "de-en" / "raw" / "stats.json"
    before = stats.stat().st_mtime_ns
    proc = bash("prepare.sh", "--langs", "de", "--archive", release, "--out", out, "--vocab-size", "200", "--force")
    assert "step 1: taking de out of" in proc.stderr and "step 4: fairseq-preprocess" in proc.stderr
    assert stats.stat().st_mtime_ns > before and (out / "data" / "de-en" / "bin" / "done").is_file()


def test_unpack_takes_every_language_in_one_pass(release, tmp_path):
    run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.data.iwslt14",
            "unpack",
            "--archive",
            release,
            "--langs",
            "de nl",
            "--out",
            tmp_path,
        ]
    )
    for lang in ("de", "nl"):
        with tarfile.open(tmp_path / f"{lang}-en.tgz") as tar:
            assert f"{lang}-en/train.tags.{lang}-en.{lang}" in tar.getnames()


def _prepare_fails(archive: Path, out: Path, langs: str = "de") -> str:
    proc = bash("prepare.sh", "--langs", langs, "--archive", archive, "--out", out, "--vocab-size", "200", check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_truncated_archive_is_named(release, tmp_path):
    truncated = tmp_path / "2014-01.tgz"
    data = release.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    err = _prepare_fails(truncated, tmp_path / "work")
    assert f"{truncated}: corrupt or truncated archive" in err
    assert not (tmp_path / "work" / "orig" / "de-en.tgz").exists()


def test_corrupt_archive_is_named(release, tmp_path):
    corrupt = tmp_path / "2014-01.tgz"
    data = bytearray(release.read_bytes())
    for i in range(200, len(data) - 200, 97):
        data[i] ^= 0x5A
    corrupt.write_bytes(bytes(data))
    assert f"{corrupt}: corrupt or truncated archive" in _prepare_fails(corrupt, tmp_path / "work")


def test_not_a_gzip_file_is_named(tmp_path):
    html = tmp_path / "2014-01.tgz"
    html.write_text("<html>Google Drive - virus scan warning</html>\n")
    assert f"{html}: corrupt or truncated archive" in _prepare_fails(html, tmp_path / "work")


def test_missing_language_is_named(release, tmp_path):
    err = _prepare_fails(release, tmp_path / "work", langs="de fr")
    assert f"{release}: no 2014-01/texts/fr/en/fr-en.tgz" in err


def test_empty_training_split_is_named(tmp_path):
    archive = build_release(tmp_path / "2014-01.tgz", ["de"], empty_train=True)
    err = _prepare_fails(archive, tmp_path / "work")
    assert "de-en.tgz: train.tags.de-en.de holds no training sentence (empty split)" in err
    assert not (tmp_path / "work" / "data" / "de-en" / "raw" / "stats.json").exists()


def test_empty_test_file_is_named(tmp_path):
    archive = build_release(tmp_path / "2014-01.tgz", ["de"], empty_xml="IWSLT14.TED.tst2011.en")
    err = _prepare_fails(archive, tmp_path / "work")
    assert "IWSLT14.TED.tst2011.de-en.en.xml holds no <seg> line (empty split)" in err


@pytest.mark.slow
def test_bad_recipe_option_is_explained(done):
    proc = bash(
        "train.sh",
        "--lang",
        "de",
        "--method",
        "intra",
        "--out",
        done["out"],
        "--alpha-mode",
        "cosine",
        "--save-dir",
        done["out"] / "never",
        check=False,
    )
    assert proc.returncode != 0
    assert "argument --alpha-mode: invalid choice: 'cosine'" in proc.stderr
    assert not (done["out"] / "never" / "train.log").exists()


@pytest.mark.slow
def test_evaluate_decodes_the_validation_set_and_passes_unknown_options(done, tmp_path):
    """--subset valid: the validation set against its own references, for choices made without
    the test set; options evaluate.sh does not know go to fairseq-generate, after the recipe's."""
    ckpt = done["out"] / "runs" / "de-en" / "baseline" / "checkpoint_best.pt"
    bash(
        "evaluate.sh",
        "--lang",
        "de",
        "--out",
        done["out"],
        "--checkpoint",
        ckpt,
        "--eval-dir",
        tmp_path,
        "--subset",
        "valid",
        "--max-len-b",
        "4",
        "--batch-size",
        "5",
    )
    assert not (tmp_path / "bleu-test.json").exists()
    result = json.loads((tmp_path / "bleu-valid.json").read_text())
    references = (done["out"] / "data" / "de-en" / "raw" / "valid.en").read_text().splitlines()
    assert result["num_sentences"] == len(references) != PER_TEST * len(TEST_SETS)
    assert len((tmp_path / "hyp-valid.txt").read_text().splitlines()) == len(references)
    log = (tmp_path / "generate-valid.log").read_text()
    assert "'gen_subset': 'valid'" in log
    assert "'max_len_b': 4" in log and "'batch_size': 5" in log
    assert "'beam': 5" in log and "'lenpen': 1.0" in log  # the recipe's decoding (recipes.py)
    proc = bash(
        "evaluate.sh", "--lang", "de", "--out", done["out"], "--checkpoint", ckpt, "--subset", "dev", check=False
    )
    assert proc.returncode != 0 and "--subset must be test or valid (got 'dev')" in proc.stderr
