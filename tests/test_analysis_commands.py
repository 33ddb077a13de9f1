"""The analysis commands end to end through ``python -m fairseq_intradistill.analysis``, on a tiny model."""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, TINY_MODEL, cli, run

pytestmark = pytest.mark.slow  # trains a tiny fairseq model and runs the analysis commands on it

ANALYSIS = [sys.executable, "-m", "fairseq_intradistill.analysis"]


@pytest.fixture(scope="module")
def tiny_model(toy_bin, tmp_path_factory) -> Path:
    """A tiny Transformer trained well enough to get some BLEU; a mid-training checkpoint too."""
    save = tmp_path_factory.mktemp("analysis_model")
    run(
        [
            cli("fairseq-train"),
            toy_bin,
            "--user-dir",
            REPO / "fairseq_intradistill",
            "--task",
            "translation",
            "--criterion",
            "label_smoothed_cross_entropy",
            "--label-smoothing",
            "0.1",
            *TINY_MODEL,
            "--lr",
            "5e-3",
            "--dropout",
            "0.1",
            "--max-update",
            "150",
            "--save-interval-updates",
            "50",
            "--no-epoch-checkpoints",
            "--no-save-optimizer-state",
            "--save-dir",
            save,
            "--log-format",
            "json",
            "--log-interval",
            "10",
            "--log-file",
            save / "train.log",
        ]
    )
    return save


@pytest.fixture(scope="module")
def sensitivity_dirs(toy_bin, tiny_model, tmp_path_factory):
    """``sensitivity`` on the mid-training and the last checkpoint (the last with its scores saved)."""
    root = tmp_path_factory.mktemp("sensitivity")
    mid = sorted(tiny_model.glob("checkpoint_*_50.pt"))
    assert mid, "the mid-training checkpoint is missing"
    dirs = {"early": root / "early", "late": root / "late"}
    run(
        [
            *ANALYSIS,
            "sensitivity",
            toy_bin,
            "--path",
            mid[0],
            "--max-batches",
            "1",
            "--label",
            "early",
            "--out",
            dirs["early"],
            "--cpu",
            "--no-progress",
        ]
    )
    proc = run(
        [
            *ANALYSIS,
            "sensitivity",
            toy_bin,
            "--path",
            tiny_model / "checkpoint_last.pt",
            "--mode",
            "subset",
            "--save-scores",
            "--out",
            dirs["late"],
            "--label",
            "late",
            "--cpu",
        ]
    )
    assert "top 20% share" in proc.stdout
    return dirs


def _png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


def test_sensitivity_end_to_end_equals_theta_times_gradient(toy_bin, tiny_model, sensitivity_dirs):
    out = sensitivity_dirs["late"]
    for name in (
        "sensitivity.png",
        "sensitivity.json",
        "sensitivity.csv",
        "sensitivity-modules.csv",
        "sensitivity-scores.pt",
    ):
        assert (out / name).is_file(), name
    _png(out / "sensitivity.png")
    record = json.loads((out / "sensitivity.json").read_text())
    scores = torch.load(out / "sensitivity-scores.pt", weights_only=True)

    # By hand: the whole valid subset as one batch, |θ · ∂(NLL per token)/∂θ|.
    from fairseq import checkpoint_utils

    import fairseq_intradistill.plugin  # noqa: F401

    (model,), _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(tiny_model / "checkpoint_last.pt")], arg_overrides={"data": str(toy_bin)}
    )
    task.load_dataset("valid")
    ds = task.dataset("valid")
    sample = ds.collater([ds[i] for i in range(len(ds))])
    model.eval()
    lprobs = model.get_normalized_probs(model(**sample["net_input"]), log_probs=True)
    target = sample["target"]
    nonpad = target.ne(task.target_dictionary.pad())
    nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)[nonpad].sum()
    nll.backward()
    ntokens = int(nonpad.sum())
    assert record["tokens"] == ntokens and record["sentences"] == len(ds)
    assert set(scores) == {n for n, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        torch.testing.assert_close(scores[name], (p.detach() * p.grad).abs() / ntokens, rtol=1e-3, atol=1e-9)

    flat = torch.cat([s.reshape(-1) for s in scores.values()]).double().numpy()
    summary = record["summary"]
    assert summary["count"] == flat.size
    assert summary["std"] == pytest.approx(flat.std(), rel=1e-6)
    assert summary["top_share"] == pytest.approx(
        np.sort(flat)[::-1][: int(np.ceil(0.2 * flat.size))].sum() / flat.sum(), rel=1e-6
    )
    assert sum(r["count"] for r in record["modules"]) == flat.size
    assert sum(record["histogram"]["counts"]) + record["histogram"]["zeros"] == flat.size


def test_prune_zero_keeps_bleu_and_pruning_a_whole_module_zeroes_it(toy_bin, toy_raw, tiny_model, tmp_path):
    ckpt = tiny_model / "checkpoint_last.pt"
    # BLEU of the unpruned model by the recipe's own evaluation (fairseq-generate + sacreBLEU).
    run(
        [
            "bash",
            REPO / "scripts/common/evaluate.sh",
            "--data",
            toy_bin,
            "--checkpoint",
            ckpt,
            "--reference",
            toy_raw / "test.tgt",
            "--out",
            tmp_path / "eval",
            "--beam",
            "2",
        ]
    )
    evaluation = json.loads((tmp_path / "eval" / "bleu-test.json").read_text())
    reference_bleu = evaluation["bleu"]
    assert reference_bleu > 0, "the tiny model should translate a little"
    # evaluate.sh records the reference scored against and the length ratio beside BLEU.
    assert evaluation["reference"] == str((toy_raw / "test.tgt").resolve())
    assert evaluation["reference_sha256"] == hashlib.sha256((toy_raw / "test.tgt").read_bytes()).hexdigest()
    assert evaluation["length_ratio"] == pytest.approx(evaluation["sys_len"] / evaluation["ref_len"], abs=1e-4)

    out = tmp_path / "prune"
    run(
        [
            *ANALYSIS,
            "prune",
            toy_bin,
            "--path",
            ckpt,
            "--fractions",
            "0,0.5,...,1",
            "--include",
            r"^decoder\.",
            "--subset",
            "test",
            "--reference",
            toy_raw / "test.tgt",
            "--beam",
            "2",
            "--max-batches",
            "1",
            "--out",
            out,
            "--cpu",
            "--no-progress",
        ]
    )
    for name in ("prune.png", "prune.json", "prune.csv"):
        assert (out / name).is_file(), name
    _png(out / "prune.png")
    record = json.loads((out / "prune.json").read_text())
    points = {p["fraction"]: p for p in record["points"]}
    assert list(points) == [0.0, 0.5, 1.0]
    assert points[0.0]["pruned"] == 0 and points[0.0]["bleu"] == reference_bleu
    assert points[0.0]["length_ratio"] == evaluation["length_ratio"]
    decoder_params = torch.load(ckpt, weights_only=True)["model"]
    n_decoder = sum(
        v.numel()
        for k, v in decoder_params.items()
        if k.startswith("decoder.") and v.is_floating_point() and not k.endswith("_float_tensor") and "version" not in k
    )
    assert record["prunable_parameters"] == n_decoder
    assert points[0.5]["pruned"] == round(0.5 * n_decoder)
    assert points[1.0]["pruned"] == n_decoder and points[1.0]["bleu"] == 0.0
    csv_lines = (out / "prune.csv").read_text().splitlines()
    assert csv_lines[0] == "model,fraction,pruned,bleu,length_ratio" and len(csv_lines) == 4


def test_compare_overlays_and_tabulates(sensitivity_dirs, tmp_path):
    dirs = []
    for label, src in sensitivity_dirs.items():  # copies: the BLEU file below is this test's own
        dirs.append(tmp_path / label)
        dirs[-1].mkdir()
        for f in ("sensitivity.json",):
            (dirs[-1] / f).write_bytes((src / f).read_bytes())
    # As scripts/common/evaluate.sh writes it (fewer fields).
    (dirs[1] / "bleu-test.json").write_text(json.dumps({"bleu": 12.5, "length_ratio": 0.9312}))
    out = tmp_path / "cmp"
    proc = run([*ANALYSIS, "compare", *dirs, "--out", out])
    for name in (
        "compare.md",
        "compare.csv",
        "compare.json",
        "compare-sensitivity.png",
        "compare-sensitivity.json",
        "compare-sensitivity.csv",
    ):
        assert (out / name).is_file(), name
    _png(out / "compare-sensitivity.png")
    assert not (out / "compare-prune.png").exists()  # no prune results given
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["early", "late"]
    for row, d in zip(rows, dirs):
        summary = json.loads((d / "sensitivity.json").read_text())["summary"]
        assert row["sensitivity_std"] == summary["std"] and row["top20_share"] == summary["top_share"]
    assert rows[1]["bleu_test"] == 12.5 and "bleu_test" not in rows[0]
    assert rows[1]["ratio_test"] == 0.9312 and "ratio_test" not in rows[0]
    assert "| early |" in proc.stdout and "sensitivity std" in proc.stdout
    assert "| model | BLEU (test) | length ratio (test) |" in proc.stdout
    hist = json.loads((out / "compare-sensitivity.json").read_text())
    assert set(hist) == {"early", "late"}


def test_curves_from_fairseq_json_logs(tiny_model, tmp_path):
    # A second log in the format the intra-distillation criterion writes (alpha, ID loss).
    intra = tmp_path / "intra" / "train.log"
    intra.parent.mkdir()
    lines = [
        f'2024-01-01 00:00:00 | INFO | train_inner | {{"epoch": 1, "loss": "{5 - u / 10}", "nll_loss": "4", '
        f'"intra_distillation_loss": "{0.5 / u}", "alpha": "{min(5, u / 4)}", "num_updates": "{u}"}}'
        for u in (10, 20, 30)
    ]
    lines.append('2024-01-01 00:00:01 | INFO | valid | {"epoch": 1, "valid_loss": "4.5", "valid_num_updates": "30"}')
    intra.write_text("\n".join(lines) + "\n")
    out = tmp_path / "curves"
    run([*ANALYSIS, "curves", tiny_model / "train.log", intra, "--labels", "baseline,intra", "--out", out])
    for name in ("curves.png", "curves.json", "curves.csv"):
        assert (out / name).is_file(), name
    _png(out / "curves.png")
    series = json.loads((out / "curves.json").read_text())["series"]
    assert series["intra"]["train"]["alpha"] == [[10, 2.5], [20, 5.0], [30, 5.0]]
    assert series["intra"]["valid"]["loss"] == [[30, 4.5]]
    assert "alpha" not in series["baseline"]["train"]
    # The cross-entropy part alone (an intra run's loss also holds alpha x divergence) has its panel.
    assert series["intra"]["train"]["nll_loss"] == [[10, 4.0], [20, 4.0], [30, 4.0]]
    assert series["baseline"]["train"]["nll_loss"]
    # The baseline's points are the log's own records.
    # The baseline's points are the records of its --log-file (bare JSON lines).
    records = [
        json.loads(line) for line in (tiny_model / "train.log").read_text().splitlines() if line.startswith('{"')
    ]
    # fairseq writes some records twice to the --log-file; one point per update is kept.
    inner = {int(r["num_updates"]): float(r["loss"]) for r in records if "num_updates" in r}
    assert sorted(inner) == list(range(10, 151, 10))
    assert series["baseline"]["train"]["loss"] == [[u, v] for u, v in sorted(inner.items())]
    valid = [r for r in records if "valid_num_updates" in r]
    assert [u for u, _ in series["baseline"]["valid"]["loss"]] == sorted({int(r["valid_num_updates"]) for r in valid})


def test_prune_ranks_with_the_tested_global_prune_masks(
    toy_bin, tiny_model, sensitivity_dirs, tmp_path, monkeypatch, capsys
):
    from fairseq_intradistill.analysis import __main__ as analysis_main
    from fairseq_intradistill.analysis import stats

    real = stats.global_prune_masks
    calls = []

    def spy(scores, fraction):
        masks = real(scores, fraction)
        calls.append((fraction, sorted(scores), sum(int(m.sum()) for m in masks.values())))
        return masks

    monkeypatch.setattr(stats, "global_prune_masks", spy)
    scores = sensitivity_dirs["late"] / "sensitivity-scores.pt"
    analysis_main.main(
        [
            "prune",
            str(toy_bin),
            "--path",
            str(tiny_model / "checkpoint_last.pt"),
            "--scores",
            str(scores),
            "--fractions",
            "0,0.3",
            "--include",
            r"^encoder\.",
            "--beam",
            "1",
            "--out",
            str(tmp_path / "p"),
            "--cpu",
            "--no-progress",
        ]
    )
    saved = torch.load(scores, weights_only=True)
    encoder = sorted(name for name in saved if name.startswith("encoder."))
    assert [(f, names) for f, names, _ in calls] == [(0.0, encoder), (0.3, encoder)]
    record = json.loads((tmp_path / "p" / "prune.json").read_text())
    assert [p["pruned"] for p in record["points"]] == [count for _, _, count in calls]
    assert record["points"][1]["pruned"] == round(0.3 * sum(saved[n].numel() for n in encoder))
    assert "pruned 0.3" in capsys.readouterr().out


def test_prune_shares_the_checks_of_sensitivity(toy_bin, tiny_model):
    for command in ("sensitivity", "prune"):
        bad = run(
            [*ANALYSIS, command, toy_bin, "--path", tiny_model / "checkpoint_last.pt", "--max-tokens", "0"],
            check=False,
            timeout=120,
        )
        assert bad.returncode == 2 and "--max-tokens must be >= 1 (got 0)" in bad.stderr, (command, bad.stderr[-2000:])


def test_curves_against_wall_clock_time_from_a_real_log(tiny_model, tmp_path):
    log = tiny_model / "train.log"
    out = tmp_path / "curves"
    run([*ANALYSIS, "curves", log, "--x-axis", "time", "--out", out])
    numbers = json.loads((out / "curves.json").read_text())
    assert numbers["x_axis"] == "time"
    # By hand: each distinct line once; a validation at the wall clock of the next training record.
    lines = list(dict.fromkeys(line for line in log.read_text().split("\n") if line.startswith('{"')))
    records = [json.loads(line) for line in lines]
    train = [[float(r["wall"]), float(r["loss"])] for r in records if "num_updates" in r]
    valid, pending = [], []
    for r in records:
        if "valid_loss" in r:
            pending.append(float(r["valid_loss"]))
        elif "num_updates" in r or "train_num_updates" in r:
            wall = float(r["wall"] if "num_updates" in r else r["train_wall"])
            valid += [[wall, loss] for loss in pending]
            pending = []
    label = "analysis_model0" if "analysis_model0" in numbers["series"] else next(iter(numbers["series"]))
    series = numbers["series"][label]
    assert series["train"]["loss"] == train and len(train) == 15
    assert series["valid"]["loss"] == valid and len(valid) >= 2
    assert max(w for w, _ in train) > 0, "the clock should have moved"
    header, *rows = (out / "curves.csv").read_text().splitlines()
    assert header == "model,split,metric,update,seconds,value"
    assert len([r for r in rows if ",train,loss," in r]) == 15


def test_bad_input_gets_a_clear_error(toy_bin, tiny_model, tmp_path):
    missing = run([*ANALYSIS, "sensitivity", toy_bin, "--path", tmp_path / "nope.pt"], check=False)
    assert missing.returncode == 2 and "nope.pt: checkpoint not found" in missing.stderr
    missing = run([*ANALYSIS, "prune", toy_bin, "--path", tmp_path / "nope.pt"], check=False)
    assert missing.returncode == 2 and "checkpoint not found" in missing.stderr
    not_data = run([*ANALYSIS, "sensitivity", tmp_path, "--path", tiny_model / "checkpoint_last.pt"], check=False)
    assert not_data.returncode == 2 and "no fairseq dictionary" in not_data.stderr
    for fractions in ("0,1.5", "-0.1,0.5"):
        bad = run(
            [*ANALYSIS, "prune", toy_bin, "--path", tiny_model / "checkpoint_last.pt", f"--fractions={fractions}"],
            check=False,
        )
        assert bad.returncode == 2 and "outside [0, 1]" in bad.stderr
    log = tmp_path / "plain.log"
    log.write_text("epoch 1 | loss 5.1 | num_updates 10\n")  # --log-format simple: no JSON records
    bad = run([*ANALYSIS, "curves", log], check=False)
    assert bad.returncode == 2 and "--log-format json" in bad.stderr and "plain.log" in bad.stderr
    bad = run([*ANALYSIS, "compare", tmp_path], check=False)
    assert bad.returncode == 2 and "no sensitivity.json, prune.json or bleu-*.json" in bad.stderr


def test_missing_matplotlib_is_explained(tiny_model, tmp_path):
    # A matplotlib that cannot be imported, first on the path.
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    proc = run(
        [*ANALYSIS, "curves", tiny_model / "train.log", "--out", tmp_path / "c"],
        env={"PYTHONPATH": str(fake.parent)},
        check=False,
    )
    assert proc.returncode == 2 and "pip install 'fairseq-intradistill[analysis]'" in proc.stderr


def test_length_reads_the_references_like_fairseq_validation(toy_bin, toy_raw, tiny_model, tmp_path):
    """The teacher-forced NLL of ``length`` equals fairseq's own validation nll_loss of the same checkpoint."""
    records = [
        json.loads(line) for line in (tiny_model / "train.log").read_text().splitlines() if line.startswith('{"')
    ]
    valid_nll = {int(r["valid_num_updates"]): float(r["valid_nll_loss"]) for r in records if "valid_nll_loss" in r}
    out = tmp_path / "length"
    proc = run(
        [
            *ANALYSIS,
            "length",
            toy_bin,
            "--path",
            tiny_model / "checkpoint_last.pt",
            "--path",
            sorted(tiny_model.glob("checkpoint_*_50.pt"))[0],
            "--labels",
            "last,early",
            "--passes",
            "3",
            "--out",
            out,
        ]
    )
    assert "P(eos)@5+" in proc.stdout and "X-div@end" in proc.stdout
    last, early = json.loads((out / "length.json").read_text())
    assert last["label"] == "last" and early["label"] == "early"
    # fairseq rounds its logged loss to 3 decimals.
    assert last["statistics"]["nll_bits"] == pytest.approx(valid_nll[150], abs=6e-4)
    assert early["statistics"]["nll_bits"] == pytest.approx(valid_nll[50], abs=6e-4)
    valid_lines = len((toy_raw / "valid.tgt").read_text().splitlines())
    assert last["statistics"]["sentences"] == valid_lines
    # Dropout 0.1 makes the passes differ; the divergence is measured at both kinds of position.
    assert last["statistics"]["divergence_before_bits"] > 0 and last["statistics"]["divergence_end_bits"] > 0
    # A trained model puts more of its EOS probability at the end than 5+ tokens before it.
    p = last["statistics"]["eos_prob_by_distance"]
    assert p["0"] > 10 * p["5+"]


def test_length_names_bad_options(toy_bin, tiny_model):
    proc = run(
        [*ANALYSIS, "length", toy_bin, "--path", tiny_model / "checkpoint_last.pt", "--labels", "a,b"], check=False
    )
    assert proc.returncode == 2 and "--labels names 2 models but --path gives 1" in proc.stderr
    proc = run([*ANALYSIS, "length", toy_bin, "--path", tiny_model / "nothing.pt"], check=False)
    assert proc.returncode == 2 and "checkpoint not found" in proc.stderr
