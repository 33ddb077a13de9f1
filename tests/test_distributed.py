"""Two training processes on the CPU (gloo): ranks stay in sync and match one process.

Each rank runs fairseq's own ``fairseq_cli.train`` with the plugin; the only change is that
every rank (not just rank 0) writes its checkpoint, into its own folder, so that the test can
compare the ranks' parameters.
"""

import socket
import subprocess
import sys

import pytest
import torch
from conftest import BIN, TINY_MODEL, USER_DIR, cli, json_records, run

WORKER = """
import sys, runpy
from fairseq.trainer import Trainer
# every rank writes its own checkpoint, so the test can compare the ranks' parameters
Trainer.should_save_checkpoint_on_current_rank = property(lambda self: True)
sys.argv = ["fairseq-train"] + sys.argv[1:]
runpy.run_module("fairseq_cli.train", run_name="__main__")
"""

COMMON = [
    "--user-dir",
    USER_DIR,
    "--task",
    "translation_intra_distillation",
    "--criterion",
    "intra_distillation",
    "--label-smoothing",
    "0.1",
    "--num-passes",
    "3",
    "--alpha",
    "2",
    "--max-update",
    "4",
    "--log-format",
    "json",
    "--log-interval",
    "1",
    "--no-epoch-checkpoints",
    "--disable-validation",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_two_ranks(data, save_root, *extra):
    port = free_port()
    procs = []
    for rank in range(2):
        (save_root / f"rank{rank}").mkdir(parents=True)  # fairseq creates only rank 0's
        args = [
            sys.executable,
            "-c",
            WORKER,
            str(data),
            *TINY_MODEL,
            *COMMON,
            *extra,
            "--distributed-world-size",
            "2",
            "--distributed-rank",
            str(rank),
            "--distributed-backend",
            "gloo",
            "--distributed-init-method",
            f"tcp://127.0.0.1:{port}",
            "--distributed-no-spawn",
            "--save-dir",
            str(save_root / f"rank{rank}"),
        ]
        procs.append(
            subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={"PATH": f"{BIN}:/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
            )
        )
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for rank, (p, out) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"rank {rank} failed:\n{out[-4000:]}"
    return outputs


def parameters(path):
    return torch.load(path, weights_only=True)["model"]


@pytest.mark.parametrize(
    "ddp_backend, pass_mode", [("c10d", "batched"), ("c10d", "sequential"), ("legacy_ddp", "batched")]
)
def test_ranks_stay_identical(toy_bin, tmp_path, ddp_backend, pass_mode):
    outputs = train_two_ranks(toy_bin, tmp_path, "--ddp-backend", ddp_backend, "--pass-mode", pass_mode)
    rank0, rank1 = (parameters(tmp_path / f"rank{r}" / "checkpoint_last.pt") for r in range(2))
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    records = json_records(outputs[0], "train_inner")
    assert [int(r["num_updates"]) for r in records] == [1, 2, 3, 4]
    assert all(float(r["intra_distillation_loss"]) > 0 for r in records)  # dropout on: passes differ


def test_two_ranks_match_one_process_over_the_same_global_batch(toy_bin, tmp_path):
    # Rank r takes batches r, r+2, ...; one process with --update-freq 2 takes the same two
    # batches per update.  Dropout masks come from per-process random streams, so dropout is
    # off here: what is left is float summation order, far below the 3 decimals of the log.
    no_dropout = ["--dropout", "0", "--attention-dropout", "0", "--activation-dropout", "0"]
    outputs = train_two_ranks(toy_bin, tmp_path / "two", "--ddp-backend", "c10d", *no_dropout)
    single = run(
        [
            cli("fairseq-train"),
            toy_bin,
            *TINY_MODEL,
            *COMMON,
            *no_dropout,
            "--update-freq",
            "2",
            "--save-dir",
            tmp_path / "one",
        ]
    )
    two = json_records(outputs[0], "train_inner")
    one = json_records(single.stdout, "train_inner")
    assert len(one) == len(two) == 4
    for a, b in zip(one, two):
        assert a["wpb"] == b["wpb"] and a["bsz"] == b["bsz"]  # the same global batch
        for key in ("loss", "nll_loss", "gnorm"):
            assert float(a[key]) == pytest.approx(float(b[key]), abs=2e-3), key
