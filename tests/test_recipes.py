"""fairseq_intradistill.recipes: batch plans, training flags, the small preset, method flags."""

import sys

import pytest
from conftest import run

from fairseq_intradistill import recipes


def test_batch_plan_keeps_the_effective_batch():
    assert recipes.batch_plan(4096, 4096, 0) == (4096, 1)  # CPU counts as one device
    assert recipes.batch_plan(4096, 4096, 2) == (2048, 1)
    assert recipes.batch_plan(65536, 4096, 1) == (4096, 16)
    assert recipes.batch_plan(65536, 4096, 8) == (4096, 2)
    tokens, freq = recipes.batch_plan(65536, 4096, 3)
    assert freq == 6 and tokens <= 4096 and 65536 - 3 * 6 * tokens < 3 * 6


def test_flags_for_both_recipes():
    flags = recipes.train_flags("iwslt14", "intra", gpus=1)
    value = lambda f, name: f[f.index(name) + 1]  # noqa: E731
    assert value(flags, "--arch") == "transformer_iwslt_de_en" and value(flags, "--max-update") == "50000"
    assert value(flags, "--warmup-updates") == "8000" and value(flags, "--adam-eps") == "1e-6"
    assert "--adaptive-alpha" in flags and value(flags, "--alpha-q") == "10"
    assert "--num-passes" not in recipes.train_flags("iwslt14", "baseline", gpus=1)
    fixed = recipes.train_flags("iwslt14", "intra", 1, num_passes=4, alpha_mode="fixed", arch="transformer")
    assert (
        "--adaptive-alpha" not in fixed
        and value(fixed, "--num-passes") == "4"
        and value(fixed, "--arch") == "transformer"
    )
    wmt = recipes.train_flags("wmt17", "intra", gpus=2)
    assert value(wmt, "--alpha-p") == "10" and value(wmt, "--alpha-q") == "16" and "--share-all-embeddings" not in wmt
    assert value(wmt, "--update-freq") == "8" and value(wmt, "--max-update") == "80000"
    # The authors' development command (METHOD.md), flag by flag.
    for flag, expected in (
        ("--adam-eps", "1e-6"),
        ("--fp16-init-scale", "16"),
        ("--max-source-positions", "512"),
        ("--max-target-positions", "512"),
        ("--save-interval-updates", "300"),
        ("--keep-interval-updates", "1"),
        ("--warmup-updates", "4000"),
    ):
        assert value(wmt, flag) == expected, flag
    assert "--skip-invalid-size-inputs-valid-test" in wmt and "--patience" not in wmt
    for flag, expected in (("--fp16-init-scale", "16"), ("--patience", "40"), ("--max-source-positions", "512")):
        assert value(flags, flag) == expected, flag
    assert "--skip-invalid-size-inputs-valid-test" in flags
    # Task and criterion come with the recipe; every flag is stated once.
    assert flags[:4] == ["--task", "translation_intra_distillation", "--criterion", "intra_distillation"]
    for name in recipes.RECIPES:
        for method in ("baseline", "intra"):
            names = [f for f in recipes.train_flags(name, method, gpus=1) if f.startswith("--")]
            assert len(names) == len(set(names)), (name, method)
    with pytest.raises(ValueError, match="baseline or intra"):
        recipes.train_flags("iwslt14", "rdrop", 1)
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.recipes",
            "flags",
            "--recipe",
            "iwslt14",
            "--method",
            "intra",
            "--gpus",
            "1",
            "--num-passes",
            "0",
        ],
        check=False,
    )
    assert proc.returncode != 0 and "number of passes must be >= 1" in proc.stderr


def test_small_preset_flags_and_constant_alpha():
    from fairseq_intradistill.schedule import adaptive_alpha

    flags = recipes.train_flags("iwslt14-small", "intra", gpus=0)
    value = lambda name: flags[flags.index(name) + 1]  # noqa: E731
    small = {
        "--arch": "transformer",
        "--encoder-layers": "2",
        "--decoder-layers": "2",
        "--encoder-embed-dim": "128",
        "--decoder-embed-dim": "128",
        "--dropout": "0.3",
        "--max-tokens": "2048",
        "--update-freq": "1",
        "--max-update": "3000",
        "--alpha": "1",
        "--num-passes": "3",
        "--divergence": "x",
    }
    assert {name: value(name) for name in small} == small
    # Regime C of docs/fidelity.md: alpha 1 from the first update, no ramp.
    assert "--adaptive-alpha" not in flags and "--alpha-max-update" not in flags
    n = int(value("--max-update"))
    assert adaptive_alpha(1.0, 0, n, 5.0, 10.0) == 1.0 == adaptive_alpha(1.0, n, n, 5.0, 10.0)
    assert recipes.recipe_field("iwslt14-small", "vocab_size") == "4000"
    assert recipes.recipe_field("iwslt14-small", "lenpen") == "1.5"
    # --alpha-mode fixed is a no-op here, not an error; --max-update overridden is taken.
    assert recipes.train_flags("iwslt14-small", "intra", gpus=0, alpha_mode="fixed") == flags
    short = recipes.train_flags("iwslt14-small", "intra", gpus=0, max_update=1000)
    assert short[short.index("--max-update") + 1] == "1000"
    # The paper's recipe keeps the paper's schedule: alpha 1 at N/q, 5 at N/p, 0 at the start.
    paper = recipes.train_flags("iwslt14", "intra", gpus=0)
    pv = lambda name: paper[paper.index(name) + 1]  # noqa: E731
    assert "--adaptive-alpha" in paper and pv("--alpha") == "5"
    n, p, q = int(pv("--max-update")), float(pv("--alpha-p")), float(pv("--alpha-q"))
    assert adaptive_alpha(5.0, 0, n, p, q) == 0.0
    assert abs(adaptive_alpha(5.0, n // 10, n, p, q) - 1.0) < 1e-9 and adaptive_alpha(5.0, n // 5, n, p, q) == 5.0


def test_method_flags_without_a_recipe():
    out = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.recipes",
            "flags",
            "--method",
            "intra",
            "--alpha-mode",
            "fixed",
            "--num-passes",
            "2",
        ]
    ).stdout.split()
    assert out == [
        "--task",
        "translation_intra_distillation",
        "--criterion",
        "intra_distillation",
        "--num-passes",
        "2",
        "--alpha",
        "5",
        "--alpha-p",
        "5",
        "--alpha-q",
        "10",
        "--divergence",
        "x",
    ]
    assert recipes.method_flags("baseline") == ["--task", "translation", "--criterion", "label_smoothed_cross_entropy"]
    with pytest.raises(ValueError, match="--num-passes and --alpha-mode are for --method intra"):
        recipes.method_flags("baseline", num_passes=2)
    proc = run(
        [sys.executable, "-m", "fairseq_intradistill.recipes", "flags", "--method", "intra", "--max-update", "10"],
        check=False,
    )
    assert proc.returncode != 0 and "--max-update replace a recipe's settings: give --recipe" in proc.stderr
