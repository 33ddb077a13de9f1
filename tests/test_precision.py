"""Half precision: intra-distillation under fairseq's --bf16 on the CPU, against the same run in float32."""

import pytest
from conftest import TINY_MODEL, USER_DIR, cli, json_records, run

pytestmark = pytest.mark.slow  # trains in bfloat16 and float32


def train(data, save_dir, *extra):
    out = run(
        [
            cli("fairseq-train"),
            data,
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
            "5",
            *TINY_MODEL,
            *extra,
            "--max-update",
            "4",
            "--log-format",
            "json",
            "--log-interval",
            "1",
            "--save-dir",
            save_dir,
        ]
    )
    return out.stdout + out.stderr


def test_bf16_training_follows_float32(toy_bin, tmp_path):
    """The same 4 updates (same seed, batches and dropout masks) in bfloat16 and in float32.

    bfloat16 keeps 8 bits of mantissa (a relative rounding of 2^-9, about 0.2%) in the weights,
    activations and gradients, while the log-probabilities and the divergence are computed in
    float32.  Measured over these 4 updates: loss, nll_loss and the divergence within 0.3% of
    float32's, the gradient norm within 2.2%.  Allowed: 0.5%, 1% and 5%.
    """
    half = train(toy_bin, tmp_path / "bf16", "--bf16")
    assert "training in bfloat16" in half  # fairseq's --bf16 implies --tpu; the plugin undoes that
    full = train(toy_bin, tmp_path / "fp32")
    pairs = list(zip(json_records(half, "train_inner"), json_records(full, "train_inner")))
    assert len(pairs) == 4
    for h, f in pairs:
        assert float(f["intra_distillation_loss"]) > 0.05  # dropout 0.3 makes the passes differ
        for key, tolerance in (
            ("loss", 0.005),
            ("nll_loss", 0.005),
            ("intra_distillation_loss", 0.01),
            ("gnorm", 0.05),
        ):
            assert float(h[key]) == pytest.approx(float(f[key]), rel=tolerance), (key, h, f)
    # ... and they are two precisions, not float32 twice: the gradient norms differ
    assert all(h["gnorm"] != f["gnorm"] for h, f in pairs)
    (h,), (f,) = json_records(half, "valid")[-1:], json_records(full, "valid")[-1:]
    assert float(h["valid_loss"]) == pytest.approx(float(f["valid_loss"]), rel=0.005)
