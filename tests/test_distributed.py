"""Two training processes on the CPU (gloo) match one process over the same global batch.

Each rank runs fairseq's own ``fairseq_cli.train`` with the plugin, dropout on.  The only
change, in both set-ups, is where the dropout masks come from: each micro-batch of the global
batch seeds the random stream from (update, its place in the global batch), so that rank r and
micro-batch r of ``--update-freq 2`` in one process draw the same masks.  The divergence is then
non-zero, and its normalisation across workers (summed logs, gradients averaged over ranks)
must give what one process gives.
"""

import socket
import subprocess
import sys
from typing import Callable, Dict, List

import pytest
from conftest import BIN, TINY_MODEL, USER_DIR, json_records, run

pytestmark = pytest.mark.slow  # trains with two processes

WORKER = """
import runpy, sys
import torch
from fairseq.tasks.translation import TranslationTask

train_step, calls = TranslationTask.train_step, {}

def seeded_train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    place = rank + calls.get(update_num, 0)  # in the global batch: the rank, or the micro-batch
    calls[update_num] = calls.get(update_num, 0) + 1
    torch.manual_seed(1000 * (update_num + 1) + place)
    return train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad)

TranslationTask.train_step = seeded_train_step
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
    "--no-save",
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


@pytest.fixture(scope="module")
def one_process(toy_bin) -> Callable[[str], List[dict]]:
    """The train_inner records of one process with --update-freq 2, per --pass-mode, run once.

    One process has no DDP wrapper (fairseq wraps the model only with more than one worker),
    so --ddp-backend does not change it and the backends share this reference.
    """
    records: Dict[str, List[dict]] = {}

    def get(pass_mode: str) -> List[dict]:
        if pass_mode not in records:
            proc = run(
                [sys.executable, "-c", WORKER, toy_bin, *TINY_MODEL, *COMMON, "--pass-mode", pass_mode]
                + ["--update-freq", "2"]
            )
            records[pass_mode] = json_records(proc.stdout + proc.stderr, "train_inner")
        return records[pass_mode]

    return get


@pytest.mark.parametrize(
    "ddp_backend, pass_mode", [("c10d", "batched"), ("c10d", "sequential"), ("legacy_ddp", "batched")]
)
def test_two_ranks_match_one_process_over_the_same_global_batch(toy_bin, one_process, tmp_path, ddp_backend, pass_mode):
    # Rank r takes batches r, r+2, ...; one process with --update-freq 2 takes the same two
    # batches per update, with the same dropout masks (WORKER); what is left is float
    # summation order, far below the 3 decimals of the log.
    outputs = train_two_ranks(toy_bin, tmp_path / "two", "--ddp-backend", ddp_backend, "--pass-mode", pass_mode)
    two = json_records(outputs[0], "train_inner")
    one = one_process(pass_mode)
    assert [int(r["num_updates"]) for r in one] == [int(r["num_updates"]) for r in two] == [1, 2, 3, 4]
    for a, b in zip(one, two):
        assert a["wpb"] == b["wpb"] and a["bsz"] == b["bsz"]  # the same global batch
        assert float(a["intra_distillation_loss"]) > 0.01  # dropout on: the passes differ
        for key in ("loss", "nll_loss", "intra_distillation_loss", "gnorm"):
            assert float(a[key]) == pytest.approx(float(b[key]), abs=2e-3), (key, a, b)
