"""Half precision: intra-distillation under fairseq's --bf16 on the CPU."""

import math

from conftest import TINY_MODEL, USER_DIR, cli, json_records, run


def test_bf16_training_is_finite(toy_bin, tmp_path):
    out = run(
        [
            cli("fairseq-train"),
            toy_bin,
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
            "--bf16",
            "--max-update",
            "4",
            "--log-format",
            "json",
            "--log-interval",
            "1",
            "--save-dir",
            tmp_path,
        ]
    )
    log = out.stdout + out.stderr
    assert "training in bfloat16" in log  # fairseq's --bf16 implies --tpu; the plugin undoes that
    records = json_records(out.stdout, "train_inner")
    assert len(records) == 4
    for r in records:
        for key in ("loss", "nll_loss", "intra_distillation_loss", "gnorm"):
            assert math.isfinite(float(r[key])), (key, r)
        # dropout 0.3 makes the passes differ; in base 2 per token a sane value is well below the loss
        assert 0 < float(r["intra_distillation_loss"]) < float(r["loss"])
    assert math.isfinite(float(json_records(out.stdout, "valid")[-1]["valid_loss"]))
