"""Shared fixtures: a tiny binarised corpus made by the tests, and helpers to run the real CLIs."""

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
USER_DIR = str(REPO / "fairseq_intradistill")

# A Transformer small enough to train a few updates in about a second on a CPU.
TINY_MODEL: List[str] = [
    "--arch",
    "transformer",
    "--encoder-layers",
    "1",
    "--decoder-layers",
    "1",
    "--encoder-embed-dim",
    "32",
    "--decoder-embed-dim",
    "32",
    "--encoder-ffn-embed-dim",
    "64",
    "--decoder-ffn-embed-dim",
    "64",
    "--encoder-attention-heads",
    "2",
    "--decoder-attention-heads",
    "2",
    "--dropout",
    "0.3",
    "--optimizer",
    "adam",
    "--lr",
    "1e-3",
    "--max-tokens",
    "1000",
    "--cpu",
    "--seed",
    "1",
    "--no-progress-bar",
    "--num-workers",
    "0",
]


def cli(name: str) -> str:
    """Path of an installed console script (fairseq-train, ...) of this environment."""
    path = BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is the package installed in this environment?")
    return str(path)


def run(
    cmd: Sequence[str], cwd=None, env=None, check=True, timeout=600, input_text=None
) -> subprocess.CompletedProcess:
    """Run a command, capturing stdout/stderr; on an unexpected exit code show its output."""
    full_env = dict(os.environ)
    full_env["PATH"] = f"{BIN}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.setdefault("OMP_NUM_THREADS", "1")
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{proc.stdout[-5000:]}\n--- stderr ---\n{proc.stderr[-5000:]}"
        )
    return proc


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` made by ``build(folder)`` once for the whole run, pytest-xdist workers included.

    Each worker is a process with its own session fixtures: without this, two workers would
    each prepare the corpus and train the runs below.  The folder sits beside the workers' own
    temporary folders; a file lock lets one worker build it while the other waits, and the
    ``.built`` mark is written last, so an interrupted build is redone.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this run
    folder = root / name
    with FileLock(f"{folder}.lock"):
        if not (folder / ".built").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def toy_raw(tmp_path_factory) -> Path:
    """A tiny raw parallel corpus: train/valid/test .src/.tgt."""
    return built_once(tmp_path_factory, "toy-raw", _make_toy_raw) / "raw"


def _make_toy_raw(folder: Path) -> None:
    out = folder / "raw"
    run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.data.toy_corpus",
            "--out",
            out,
            "--train",
            "600",
            "--valid",
            "40",
            "--test",
            "40",
            "--seed",
            "3",
        ]
    )


@pytest.fixture(scope="session")
def toy_bin(toy_raw, tmp_path_factory) -> Path:
    """The tiny corpus encoded with a joint SentencePiece model and binarised by fairseq
    (the SentencePiece files in ``spm`` beside it)."""
    return built_once(tmp_path_factory, "toy-bin", lambda folder: _make_toy_bin(toy_raw, folder)) / "bin"


def _make_toy_bin(toy_raw: Path, root: Path) -> None:
    spm_dir = root / "spm"
    run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.data.spm",
            "train",
            "--inputs",
            toy_raw / "train.src",
            toy_raw / "train.tgt",
            "--model-prefix",
            spm_dir / "spm",
            "--vocab-size",
            "200",
        ]
    )
    for split in ("train", "valid", "test"):
        for side in ("src", "tgt"):
            run(
                [
                    sys.executable,
                    "-m",
                    "fairseq_intradistill.data.spm",
                    "encode",
                    "--model",
                    spm_dir / "spm.model",
                    "--input",
                    toy_raw / f"{split}.{side}",
                    "--output",
                    spm_dir / f"{split}.{side}",
                ]
            )
    out = root / "bin"
    run(
        [
            cli("fairseq-preprocess"),
            "--source-lang",
            "src",
            "--target-lang",
            "tgt",
            "--joined-dictionary",
            "--trainpref",
            spm_dir / "train",
            "--validpref",
            spm_dir / "valid",
            "--testpref",
            spm_dir / "test",
            "--destdir",
            out,
            "--workers",
            "1",
        ]
    )


def json_records(text: str, tag: str) -> List[dict]:
    """The JSON payloads of fairseq's ``--log-format json`` records for ``tag`` (train_inner, valid, ...).

    Read by the project's one log reader (:mod:`fairseq_intradistill.analysis.jsonlog`), with
    its rules: console lines (``... | INFO | <tag> | {...}``), Python's default logging format
    (``INFO:<tag>:{...}``, e.g. fairseq run through ``runpy``) and bare ``--log-file`` lines;
    exact repeats count once.
    """
    from fairseq_intradistill.analysis.jsonlog import parse

    return [record.values for record in parse(text, "<test output>").tagged(tag)]


@pytest.fixture(scope="session")
def trained(toy_bin, tmp_path_factory) -> Dict[str, object]:
    """A baseline and an intra run of 2 epochs of 25 updates (24 of the 600 sentences per batch),
    validated every 10 updates and at each epoch's end: real train.sh logs, consoles and
    checkpoints (best and last) for the log reader, the results and the checkpoints' portability
    (test_analysis_jsonlog.py, test_results_*.py, test_cli.py); read only."""
    folder = built_once(tmp_path_factory, "trained", lambda folder: _train_both(toy_bin, folder))
    consoles = {m: (folder / f"console-{m}.txt").read_text(encoding="utf-8") for m in ("baseline", "intra")}
    return {"exp": folder / "exp", "consoles": consoles}


def _train_both(toy_bin: Path, folder: Path) -> None:
    exp = folder / "exp"
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
                "--no-epoch-checkpoints",
            ]
        )
        (folder / f"console-{method}.txt").write_text(proc.stdout + proc.stderr, encoding="utf-8")


def evaluate_hypotheses(run_dir: Path, references: Path, drop: float, seed: int) -> List[str]:
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


def write_run(folder: Path, bleu: float, updates: int = 10, wall: float = 20.0) -> None:
    """A finished run written by hand: a train.log record and a bleu-test.json (for the results tables)."""
    folder.mkdir(parents=True)
    record = {"epoch": 1, "train_wpb": "100", "train_num_updates": str(updates), "train_wall": str(wall)}
    (folder / "train.log").write_text(f"2026-01-01 | INFO | train | {json.dumps(record)}\n")
    (folder / "bleu-test.json").write_text(
        json.dumps({"bleu": bleu, "signature": "nrefs:1|tok:13a", "length_ratio": 0.5 + bleu / 100})
    )
