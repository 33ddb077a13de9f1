"""``--criterion self_distillation`` and ``scripts/iwslt14/self_distill.sh`` on the tiny corpus."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO, TINY_MODEL, cli, json_records, run

pytestmark = pytest.mark.slow  # trains fairseq models

USER_DIR = REPO / "fairseq_intradistill"
TRAIN = [
    "--task",
    "translation",
    "--label-smoothing",
    "0.1",
    *TINY_MODEL,
    "--max-update",
    "8",
    "--log-format",
    "json",
    "--log-interval",
    "1",
    "--no-epoch-checkpoints",
    "--no-save-optimizer-state",
]
COMPARED = ("loss", "nll_loss", "gnorm", "num_updates")


@pytest.fixture(scope="module")
def baseline(toy_bin, tmp_path_factory):
    """An 8-update baseline: its log to compare with, its checkpoint as a teacher."""
    save = tmp_path_factory.mktemp("sd_baseline")
    proc = run(
        [
            cli("fairseq-train"),
            toy_bin,
            "--user-dir",
            USER_DIR,
            "--criterion",
            "label_smoothed_cross_entropy",
            *TRAIN,
            "--save-dir",
            save,
        ]
    )
    return SimpleNamespace(dir=save, teacher=save / "checkpoint_last.pt", stdout=proc.stdout + proc.stderr)


def test_kd_alpha_zero_trains_exactly_like_the_baseline(toy_bin, baseline, tmp_path):
    proc = run(
        [
            cli("fairseq-train"),
            toy_bin,
            "--user-dir",
            USER_DIR,
            "--criterion",
            "self_distillation",
            "--teacher-path",
            baseline.teacher,
            "--kd-alpha",
            "0",
            *TRAIN,
            "--save-dir",
            tmp_path,
        ]
    )
    student = json_records(proc.stdout + proc.stderr, "train_inner")
    reference = json_records(baseline.stdout, "train_inner")
    assert len(student) == len(reference) == 8
    for s, r in zip(student, reference):
        assert {k: s[k] for k in COMPARED} == {k: r[k] for k in COMPARED}
        assert float(s["kd_loss"]) > 0  # measured and logged, but not trained on
    valid = json_records(proc.stdout + proc.stderr, "valid")
    assert [v["valid_loss"] for v in valid] == [v["valid_loss"] for v in json_records(baseline.stdout, "valid")]


def _setup(toy_bin, save_dir, *flags):
    """The configuration and task of fairseq-train with --criterion self_distillation and ``flags``,
    through fairseq's own parser, as fairseq-train sets them up."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    import fairseq_intradistill.plugin  # noqa: F401  (registers the criterion)

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser, [str(toy_bin), "--criterion", "self_distillation", *flags, *TRAIN, "--save-dir", str(save_dir)]
    )
    cfg = convert_namespace_to_omegaconf(args)
    return cfg, tasks.setup_task(cfg.task)


def _trainer(toy_bin, teacher, save_dir, kd_alpha="1"):
    """fairseq's own Trainer with --criterion self_distillation, as fairseq-train builds it."""
    from fairseq.trainer import Trainer

    cfg, task = _setup(toy_bin, save_dir, "--teacher-path", str(teacher), "--kd-alpha", kd_alpha)
    task.load_dataset("train")
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    return Trainer(cfg, task, model, criterion), task, model, criterion


def test_teacher_is_frozen_not_optimised_and_not_saved(toy_bin, baseline, tmp_path):
    trainer, task, model, criterion = _trainer(toy_bin, baseline.teacher, tmp_path)
    teacher = criterion.teacher
    saved = torch.load(baseline.teacher, weights_only=True)["model"]
    assert set(teacher.state_dict()) == set(saved)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    optimised |= {id(p) for p in trainer.optimizer.params}
    assert not optimised & {id(p) for p in teacher.parameters()}
    assert list(criterion.parameters()) == []  # not a submodule: fairseq would save and optimise it

    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in model.state_dict().items()}
    itr = task.get_batch_iterator(dataset=task.dataset("train"), max_tokens=1000, seed=1).next_epoch_itr(shuffle=False)
    kd = []
    for _, sample in zip(range(3), itr):
        log = trainer.train_step([sample])
        kd.append(log["kd_loss"])
    assert all(k > 0 for k in kd)
    assert not teacher.training  # trainer.train_step put the criterion in train mode, not the teacher
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, before[k]), f"teacher {k} changed"
    assert any(not torch.equal(v, student_before[k]) for k, v in model.state_dict().items()), (
        "the student did not train"
    )

    trainer.save_checkpoint(str(tmp_path / "student.pt"), {})
    state = torch.load(tmp_path / "student.pt", weights_only=True)
    assert set(state["model"]) == set(model.state_dict())
    assert state["criterion"] is None
    assert state["cfg"]["criterion"]["teacher_path"] == str(baseline.teacher)


def test_startup_errors_name_the_flag(toy_bin, tmp_path):
    # fairseq-train builds the criterion before it loads any training data (test_cli.py shows
    # that for the intra-distillation criterion's checks, which are raised the same way).
    cfg, task = _setup(toy_bin, tmp_path)
    with pytest.raises(ValueError, match="needs --teacher-path"):
        task.build_criterion(cfg.criterion)

    from fairseq_intradistill.criterions.self_distillation import check_config, load_teacher

    ok = tmp_path / "teacher.pt"
    ok.write_bytes(b"")
    with pytest.raises(ValueError, match="--teacher-path .*missing.pt: no such checkpoint"):
        check_config(SimpleNamespace(teacher_path=str(tmp_path / "missing.pt"), kd_alpha=1.0))
    for alpha in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="--kd-alpha must be a finite number >= 0"):
            check_config(SimpleNamespace(teacher_path=str(ok), kd_alpha=alpha))
    with pytest.raises(ValueError, match="--teacher-path .*teacher.pt: cannot read it"):
        load_teacher(str(ok), task=None)


def test_self_distill_script_makes_the_case_study_table(toy_bin, toy_raw, tmp_path):
    out = tmp_path / "sd"
    tiny = [a for a in TINY_MODEL if a != "--cpu"]  # train.sh adds --cpu itself without a GPU
    proc = run(
        [
            "bash",
            REPO / "scripts/iwslt14/self_distill.sh",
            "--data",
            toy_bin,
            "--reference",
            toy_raw / "test.tgt",
            "--out",
            out,
            "--generations",
            "2",
            "--beam",
            "1",
            "--max-batches",
            "1",
            "--",
            *tiny,
            "--lr",
            "5e-3",
            "--warmup-updates",
            "1",
            "--max-update",
            "20",
        ]
    )
    rows = json.loads((out / "case_study" / "compare.json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["model 1", "model 2"]
    for g, row in enumerate(rows, start=1):
        bleu = json.loads((out / f"model{g}" / "bleu-test.json").read_text())["bleu"]
        summary = json.loads((out / f"model{g}" / "sensitivity.json").read_text())["summary"]
        assert row["bleu_test"] == bleu and row["sensitivity_std"] == summary["std"]
    assert "| model 2 |" in proc.stdout and "sensitivity std" in proc.stdout
    assert (out / "case_study" / "compare-sensitivity.png").is_file()
    # Model 2 was trained against model 1, frozen.
    cfg = torch.load(out / "model2" / "checkpoint_best.pt", weights_only=True)["cfg"]
    assert cfg["criterion"]["_name"] == "self_distillation"
    assert Path(cfg["criterion"]["teacher_path"]) == out / "model1" / "checkpoint_best.pt"
    model1 = torch.load(out / "model1" / "checkpoint_best.pt", weights_only=True)["cfg"]
    assert model1["criterion"]["_name"] == "label_smoothed_cross_entropy"
    # A second run finds everything done.
    again = run(
        [
            "bash",
            REPO / "scripts/iwslt14/self_distill.sh",
            "--data",
            toy_bin,
            "--reference",
            toy_raw / "test.tgt",
            "--out",
            out,
            "--generations",
            "2",
            "--beam",
            "1",
            "--max-batches",
            "1",
            "--",
            *tiny,
        ]
    )
    assert "trained, skipping" in again.stderr and "sensitivity measured, skipping" in again.stderr
