"""The benchmark script runs end to end and reports what it promises (not a timing test)."""

import json
import sys

import pytest
from conftest import run


@pytest.mark.slow
def test_bench_reports_every_configuration(tmp_path):
    out_json = tmp_path / "bench.json"
    out = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.bench",
            "--arch",
            "transformer",
            "--tokens",
            "64",
            "--length",
            "8",
            "--vocab",
            "64",
            "--passes",
            "2",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--json",
            out_json,
            "--model-args",
            "--encoder-layers",
            "1",
            "--decoder-layers",
            "1",
            "--encoder-embed-dim",
            "16",
            "--decoder-embed-dim",
            "16",
            "--encoder-ffn-embed-dim",
            "32",
            "--decoder-ffn-embed-dim",
            "32",
            "--encoder-attention-heads",
            "2",
            "--decoder-attention-heads",
            "2",
        ]
    )
    rows = json.loads(out_json.read_text())["rows"]
    kinds = [(r["kind"], r["method"], r["passes"], r["mode"]) for r in rows]
    assert kinds == [
        ("train", "baseline", 1, "-"),
        ("train", "intra", 2, "batched"),
        ("train", "intra", 2, "sequential"),
        ("divergence", "divergence x", 2, "plain"),
        ("divergence", "divergence x", 2, "lean"),
    ]
    for r in rows:
        assert r["seconds"] > 0 and r["tokens_per_second"] > 0 and r["peak_mib"] >= 0
    assert rows[0]["ratio_to_baseline"] == 1.0 and rows[1]["ratio_to_baseline"] > 0
    assert "x baseline" in out.stdout and "intra" in out.stdout


def test_bench_rejects_bad_flags():
    out = run([sys.executable, "-m", "fairseq_intradistill.bench", "--passes", "1"], check=False)
    assert out.returncode == 2 and "--passes must all be >= 2" in out.stderr
    out = run([sys.executable, "-m", "fairseq_intradistill.bench", "--device", "cpu", "--fp16"], check=False)
    assert out.returncode == 2 and "--fp16 needs a GPU" in out.stderr
