"""The analysis commands on a Transformers GLUE model, through ``python -m fairseq_intradistill.analysis``.

The tiny BERT classifier and the tiny GLUE data are test_hf_recipes.py's (its ``glue``
fixture); the numbers are checked against the definitions computed here, by hand.
"""

import json
import sys

import numpy as np
import pytest
import test_hf_recipes
import torch
from conftest import REPO, run

pytestmark = pytest.mark.slow  # fine-tunes a tiny GLUE model and runs the analysis commands on it

OFFLINE = test_hf_recipes.OFFLINE
glue = test_hf_recipes.glue  # the recipes' tests' fixture: a tiny BERT classifier and tiny GLUE data

ANALYSIS = [sys.executable, "-m", "fairseq_intradistill.analysis"]


def imported_modules(stderr: str) -> set:
    """The modules a ``python -X importtime`` run imported (its stderr lists them)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.fixture(scope="module")
def rte_sensitivity(glue, tmp_path_factory):
    """``sensitivity`` on RTE's validation split (12 examples) in batches of 5, scores saved."""
    out = tmp_path_factory.mktemp("hf_sensitivity")
    proc = run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "fairseq_intradistill.analysis",
            "sensitivity",
            glue / "rte",
            "--path",
            glue / "model",
            "--glue-task",
            "rte",
            "--batch-size",
            "5",
            "--save-scores",
            "--label",
            "tiny",
            "--out",
            out,
            "--cpu",
            "--no-progress",
        ],
        cwd=REPO,
        env=OFFLINE,
    )
    modules = imported_modules(proc.stderr)
    assert "transformers" in modules, "the importtime listing should show Transformers"
    assert not [m for m in modules if m == "fairseq" or m.startswith("fairseq.")], (
        "the Transformers path imported fairseq"
    )
    assert "(3 batches, 12 examples of validation)" in proc.stdout
    return out


def _validation(glue):
    """RTE's validation split by hand: the model, tokenizer, the 12 rows' tensors and labels."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rows = [json.loads(line) for line in (glue / "rte" / "validation.jsonl").read_text().splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(glue / "model")
    model = AutoModelForSequenceClassification.from_pretrained(glue / "model").eval()
    labels = torch.tensor([r["label"] for r in rows])
    return model, tokenizer, rows, labels


def _encode(tokenizer, rows):
    return tokenizer(
        [r["sentence1"] for r in rows],
        [r["sentence2"] for r in rows],
        padding=True,
        truncation=True,
        max_length=128,
        return_tensors="pt",
    )


def test_sensitivity_of_a_glue_model_equals_theta_times_gradient(glue, rte_sensitivity):
    record = json.loads((rte_sensitivity / "sensitivity.json").read_text())
    scores = torch.load(rte_sensitivity / "sensitivity-scores.pt", weights_only=True)
    model, tokenizer, rows, labels = _validation(glue)
    # By hand: batches of 5, 5 and 2 examples in file order; |θ · ∂(summed cross-entropy)/∂θ| per
    # batch, summed, divided by the 12 examples.
    expected = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    total_loss = 0.0
    for start in range(0, len(rows), 5):
        model.zero_grad()
        logits = model(**_encode(tokenizer, rows[start : start + 5])).logits
        loss = torch.nn.functional.cross_entropy(logits, labels[start : start + 5], reduction="sum")
        loss.backward()
        total_loss += float(loss.detach())
        for name, p in model.named_parameters():
            expected[name] += (p.detach() * p.grad).abs()
    assert set(scores) == set(expected)
    for name, value in expected.items():
        torch.testing.assert_close(scores[name], value / len(rows), rtol=1e-4, atol=1e-10)
    assert record["kind"] == "transformers" and record["glue_task"] == "rte" and record["subset"] == "validation"
    assert record["batches"] == 3 and record["examples"] == 12
    assert record["loss_per_example"] == pytest.approx(total_loss / 12, rel=1e-5)

    flat = torch.cat([v.reshape(-1) / len(rows) for v in expected.values()]).double().numpy()
    summary = record["summary"]
    assert summary["count"] == flat.size == sum(p.numel() for p in model.parameters())
    assert summary["std"] == pytest.approx(flat.std(), rel=1e-4)
    top = np.sort(flat)[::-1][: int(np.ceil(0.2 * flat.size))]
    assert summary["top_share"] == pytest.approx(top.sum() / flat.sum(), rel=1e-4)
    modules = {m["module"]: m for m in record["modules"]}
    assert modules["bert.embeddings.word_embeddings"]["embedding"] and not modules["classifier"]["embedding"]


def test_prune_a_glue_model_scores_with_the_task_metric(glue, rte_sensitivity, tmp_path):
    out = tmp_path / "prune"
    proc = run(
        [
            *ANALYSIS,
            "prune",
            glue / "rte",
            "--path",
            glue / "model",
            "--glue-task",
            "rte",
            "--fractions",
            "0,0.5,1",
            "--scores",
            rte_sensitivity / "sensitivity-scores.pt",
            "--exclude-embeddings",
            "--batch-size",
            "5",
            "--label",
            "tiny",
            "--out",
            out,
            "--cpu",
            "--no-progress",
        ],
        cwd=REPO,
        env=OFFLINE,
    )
    assert "tiny: pruned 0.5" in proc.stdout and "accuracy" in proc.stdout
    record = json.loads((out / "prune.json").read_text())
    assert record["metric"] == "accuracy" and record["glue_task"] == "rte"
    points = {p["fraction"]: p for p in record["points"]}

    model, tokenizer, rows, labels = _validation(glue)
    scores = torch.load(rte_sensitivity / "sensitivity-scores.pt", weights_only=True)
    # By hand: the embeddings are left out; the k least sensitive of the rest are zeroed, ties in parameter order.
    names = [
        n
        for n in scores
        if not any(e in n for e in ("word_embeddings", "position_embeddings", "token_type_embeddings"))
    ]
    n = sum(scores[name].numel() for name in names)
    assert record["prunable_parameters"] == n and record["model_parameters"] == sum(
        p.numel() for p in model.parameters()
    )

    def accuracy():
        with torch.no_grad():
            predictions = model(**_encode(tokenizer, rows)).logits.argmax(-1)
        return float((predictions == labels).float().mean())

    assert points[0.0]["pruned"] == 0 and points[0.0]["accuracy"] == pytest.approx(accuracy())
    flat = torch.cat([scores[name].reshape(-1) for name in names])
    k = round(0.5 * n)
    chosen = torch.zeros(n, dtype=torch.bool)
    chosen[torch.sort(flat, stable=True).indices[:k]] = True
    params = dict(model.named_parameters())
    offset = 0
    with torch.no_grad():
        for name in names:
            size = scores[name].numel()
            params[name].view(-1)[chosen[offset : offset + size]] = 0.0
            offset += size
    assert points[0.5]["pruned"] == k and points[0.5]["accuracy"] == pytest.approx(accuracy())
    # All but the embeddings zeroed: every logit is 0, so every prediction is class 0.
    assert points[1.0]["pruned"] == n and points[1.0]["accuracy"] == pytest.approx(float((labels == 0).float().mean()))
    assert (out / "prune.csv").read_text().splitlines()[0] == "model,fraction,pruned,accuracy"

    # compare overlays them as it does fairseq models; its pruning columns name the metric.
    (tmp_path / "both").mkdir()
    for name in ("sensitivity.json",):
        (tmp_path / "both" / name).write_bytes((rte_sensitivity / name).read_bytes())
    (tmp_path / "both" / "prune.json").write_bytes((out / "prune.json").read_bytes())
    compared = run(
        [*ANALYSIS, "compare", tmp_path / "both", out, "--labels", "a,b", "--out", tmp_path / "cmp"], cwd=REPO
    )
    assert (
        "| model | parameters | sensitivity mean | sensitivity std | top-20% share | accuracy pruned 0 |"
        in compared.stdout
    )
    for name in ("compare-prune.png", "compare-sensitivity.png"):
        assert (tmp_path / "cmp" / name).read_bytes()[:4] == b"\x89PNG"
    rows_ = json.loads((tmp_path / "cmp" / "compare.json").read_text())["rows"]
    assert [r["prune_0.5"] for r in rows_] == [points[0.5]["accuracy"]] * 2
    assert (
        rows_[0]["sensitivity_std"] == json.loads((rte_sensitivity / "sensitivity.json").read_text())["summary"]["std"]
    )

    # A BLEU curve (a fairseq model's prune.json) does not go on the same axis.
    (tmp_path / "bleu").mkdir()
    (tmp_path / "bleu" / "prune.json").write_text(
        json.dumps({"label": "mt", "points": [{"fraction": 0.0, "pruned": 0, "bleu": 20.0}]})
    )
    mixed = run([*ANALYSIS, "compare", out, tmp_path / "bleu", "--out", tmp_path / "cmp2"], cwd=REPO, check=False)
    assert mixed.returncode == 2 and "different metrics: accuracy" in mixed.stderr and "bleu" in mixed.stderr


def _error(capsys, argv):
    from fairseq_intradistill.analysis.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in argv])
    assert exit_.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("command", ["sensitivity", "prune"])
def test_bad_input_on_a_glue_model_names_the_option(glue, tmp_path, capsys, command):
    data, model = glue / "rte", glue / "model"
    cases = [
        ([data, "--path", model], "--glue-task is required with a Transformers model"),
        ([data, "--path", model, "--glue-task", "wnli"], "--glue-task must be one of cola, mnli"),
        (
            [data, "--path", model, "--glue-task", "rte", "--max-tokens", "100"],
            "--max-tokens does not apply to a Transformers model folder",
        ),
        ([data, "--path", model, "--glue-task", "rte", "--batch-size", "0"], "--batch-size must be >= 1 (got 0)"),
        (
            [data, "--path", model, "--glue-task", "rte", "--subset", "test"],
            "--subset 'test': the GLUE task rte has the splits train, validation",
        ),
        ([tmp_path, "--path", model, "--glue-task", "rte"], f"DATA {tmp_path}: no validation."),
        (
            [tmp_path / "nowhere", "--path", model, "--glue-task", "rte"],
            "DATA " + str(tmp_path / "nowhere") + ": no such folder",
        ),
        (
            [glue / "stsb", "--path", model, "--glue-task", "stsb"],
            "--glue-task stsb has 1 label(s), the model at --path",
        ),
        ([data, "--path", tmp_path, "--glue-task", "rte"], "a folder without config.json"),
    ]
    if command == "prune":
        cases.append(
            (
                [data, "--path", model, "--glue-task", "rte", "--beam", "2"],
                "--beam does not apply to a Transformers model folder",
            )
        )
        cases.append(
            (
                [data, "--path", model, "--glue-task", "rte", "--sensitivity-subset", "valid"],
                "--sensitivity-subset 'valid': the GLUE task rte has the splits",
            )
        )
    for argv, message in cases:
        assert message in _error(capsys, [command, *argv]), (argv, message)
    # And a Transformers option given with a fairseq checkpoint.
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"")
    assert "--glue-task does not apply to a fairseq checkpoint" in _error(
        capsys, [command, data, "--path", checkpoint, "--glue-task", "rte"]
    )
