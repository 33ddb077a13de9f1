"""The GLUE recipe end to end on a tiny local model and tiny local data (no Hub)."""

import json
import random
import sys

import pytest
from conftest import REPO, run

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
WORDS = "the a cat dog sat ran on mat good bad movie is was red blue".split()


@pytest.fixture(scope="module")
def glue(tmp_path_factory):
    """A tiny BERT and three tiny GLUE tasks in the three local formats the recipe reads."""
    from fairseq_intradistill.hf.tiny import make_tiny_model

    root = tmp_path_factory.mktemp("glue")
    make_tiny_model(root / "model", "bert", "sequence-classification", WORDS)
    rng = random.Random(0)

    def rows(n, regression=False, classes=2, keys=("sentence1", "sentence2")):
        return [
            {
                keys[0]: " ".join(rng.choice(WORDS) for _ in range(5)),
                keys[1]: " ".join(rng.choice(WORDS) for _ in range(4)),
                "label": round(rng.uniform(0, 5), 2) if regression else rng.randrange(classes),
                "idx": i,
            }
            for i in range(n)
        ]

    (root / "rte").mkdir()
    for split, n in (("train", 24), ("validation", 12)):
        with open(root / "rte" / f"{split}.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows(n))
    (root / "stsb").mkdir()
    for split, n in (("train", 16), ("validation", 16)):
        with open(root / "stsb" / f"{split}.csv", "w") as f:
            f.write("sentence1,sentence2,label,idx\n")
            f.writelines(
                f"{r['sentence1']},{r['sentence2']},{r['label']},{r['idx']}\n" for r in rows(n, regression=True)
            )
    import datasets

    mnli = {
        split: datasets.Dataset.from_list(rows(n, classes=3, keys=("premise", "hypothesis")))
        for split, n in (("train", 16), ("validation_matched", 8), ("validation_mismatched", 8))
    }
    datasets.DatasetDict(mnli).save_to_disk(str(root / "mnli"))
    return root


def glue_run(glue, *args, check=True):
    return run(
        ["bash", REPO / "scripts" / "glue" / "run.sh", "--model", glue / "model", "--out", glue / "runs", *args],
        cwd=REPO,
        env=OFFLINE,
        check=check,
    )


def scores_of_the_saved_model(glue, folder, split="validation"):
    """Accuracy and mean cross-entropy of a saved RTE model on a split, computed here from its logits."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rows = [json.loads(line) for line in (glue / "rte" / f"{split}.jsonl").read_text().splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(glue / "model")
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    encoded = tokenizer(
        [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], padding=True, return_tensors="pt"
    )
    labels = torch.tensor([r["label"] for r in rows])
    with torch.no_grad():
        logits = model(**encoded).logits
    return (logits.argmax(-1) == labels).float().mean().item(), F.cross_entropy(logits, labels).item()


@pytest.mark.slow
def test_glue_baseline_and_intra_end_to_end(glue):
    for method in ("baseline", "intra"):
        glue_run(
            glue, "--task", "rte", "--method", method, "--data-dir", glue / "rte", "--epochs", "2", "--batch-size", "8"
        )
    results = {
        m: json.loads((glue / "runs" / "rte" / m / "seed1" / "results.json").read_text()) for m in ("baseline", "intra")
    }
    for method, result in results.items():
        assert result["updates"] == 6 and result["metric"] == "accuracy"
        # The reported scores are the saved model's on the validation split, recomputed here.
        accuracy, loss = scores_of_the_saved_model(glue, glue / "runs" / "rte" / method / "seed1" / "best")
        assert result["validation"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
        assert result["validation"]["loss"] == pytest.approx(loss, rel=1e-4)
    assert results["baseline"]["intra_distillation"] is None
    assert results["intra"]["intra_distillation"]["num_passes"] == 3
    assert results["intra"]["intra_distillation"]["divergence_reduction"] == "sum"  # the authors' GLUE scale
    assert results["baseline"]["validation"]["loss"] != results["intra"]["validation"]["loss"]
    # Idempotent: a finished run is skipped, and the table lists both methods with an empty paper column.
    again = glue_run(glue, "--task", "rte", "--method", "intra", "--data-dir", glue / "rte")
    assert "skip:" in again.stdout
    table = [line for line in again.stdout.splitlines() if line.startswith("| rte")]
    assert len(table) == 2 and all(line.endswith("| n/a |") for line in table)


@pytest.mark.slow
def test_glue_regression_on_two_processes(glue):
    """STS-B (mse between the K outputs) under torchrun with 2 CPU processes (gloo)."""
    glue_run(
        glue,
        "--task",
        "stsb",
        "--method",
        "intra",
        "--data-dir",
        glue / "stsb",
        "--nproc",
        "2",
        "--max-steps",
        "2",
        "--batch-size",
        "8",
    )
    result = json.loads((glue / "runs" / "stsb" / "intra" / "seed1" / "results.json").read_text())
    assert result["processes"] == 2 and result["updates"] == 2
    assert result["intra_distillation"]["divergence"] == "mse"
    assert set(result["validation"]) >= {"pearson", "spearmanr", "loss"}


@pytest.mark.slow
def test_glue_mnli_from_a_saved_datasetdict(glue):
    out = glue / "mnli-run"
    run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.hf.glue",
            "--task",
            "mnli",
            "--method",
            "intra",
            "--model",
            glue / "model",
            "--data-dir",
            glue / "mnli",
            "--output-dir",
            out,
            "--max-steps",
            "2",
            "--batch-size",
            "8",
        ],
        cwd=REPO,
        env=OFFLINE,
    )
    result = json.loads((out / "results.json").read_text())
    assert set(result) >= {"validation_matched", "validation_mismatched"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "wnli", "--method", "intra"], "--task must be one of"),
        (["--task", "rte", "--method", "rdrop"], "--method must be baseline or intra"),
        (["--task", "rte", "--method", "intra", "--nproc", "0"], "--nproc must be a positive integer"),
        # Unknown options go to the module, whose parser names them (a seed without results, so that it runs).
        (["--task", "rte", "--method", "intra", "--seeds", "9", "--bogus", "1"], "unrecognized arguments: --bogus 1"),
    ],
)
def test_glue_script_rejects_bad_flags(glue, args, message):
    proc = glue_run(glue, *args, check=False)
    assert proc.returncode == 2 and message in proc.stderr


@pytest.mark.slow
def test_glue_module_rejects_bad_values(glue):
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.hf.glue",
            "--task",
            "rte",
            "--method",
            "intra",
            "--model",
            glue / "model",
            "--output-dir",
            glue / "x",
            "--batch-size",
            "0",
        ],
        cwd=REPO,
        env=OFFLINE,
        check=False,
    )
    assert proc.returncode == 2 and "--batch-size must be >= 1" in proc.stderr


def test_glue_metrics():
    import numpy as np

    from fairseq_intradistill.hf.glue import glue_metrics

    labels = np.array([0, 1, 1, 0, 1])
    logits = np.array([[2, 1], [0, 3], [1, 0], [5, 1], [0, 1]], dtype=float)  # predicts 0 1 0 0 1
    assert glue_metrics("rte", logits, labels) == {"accuracy": pytest.approx(0.8)}
    assert glue_metrics("mrpc", logits, labels) == {"accuracy": pytest.approx(0.8), "f1": pytest.approx(0.8)}
    assert glue_metrics("cola", logits, labels)["matthews_correlation"] == pytest.approx(2 / 3)
    stsb = glue_metrics("stsb", np.array([[1.0], [2.0], [3.0]]), np.array([2.0, 4.0, 7.0]))
    assert stsb["spearmanr"] == pytest.approx(1.0) and stsb["pearson"] == pytest.approx(0.9933992677987828)


@pytest.fixture(scope="module")
def panx(tmp_path_factory):
    """A tiny XLM-R token classifier and PAN-X-like data for two languages (tag names and indices)."""
    from fairseq_intradistill.hf.panx import LABELS
    from fairseq_intradistill.hf.tiny import make_tiny_model

    root = tmp_path_factory.mktemp("panx")
    words = WORDS + ["paris", "john", "acme", "##s"]
    make_tiny_model(root / "model", "xlm-roberta", "token-classification", words, num_labels=2)
    rng = random.Random(1)
    tags_of = {"paris": "B-LOC", "john": "B-PER", "acme": "B-ORG", "cats": "B-ORG"}
    for lang in ("en", "de"):
        (root / "data" / lang).mkdir(parents=True)
        for split, n in (("train", 16), ("validation", 8), ("test", 8)):
            with open(root / "data" / lang / f"{split}.jsonl", "w") as f:
                for _ in range(n):
                    tokens = [rng.choice(WORDS + ["paris", "john", "acme", "cats"]) for _ in range(5)]
                    tags = [tags_of.get(t, "O") for t in tokens]
                    f.write(
                        json.dumps(
                            {"tokens": tokens, "ner_tags": tags if lang == "en" else [LABELS.index(t) for t in tags]}
                        )
                        + "\n"
                    )
    return root


@pytest.mark.slow
def test_panx_labels_only_the_first_subword(panx):
    import datasets
    from transformers import AutoTokenizer

    from fairseq_intradistill.hf.panx import encode

    tokenizer = AutoTokenizer.from_pretrained(panx / "model")
    data = datasets.Dataset.from_list([{"tokens": ["john", "cats", "sat"], "ner_tags": ["B-PER", "B-ORG", "O"]}])
    row = encode(data, tokenizer, 16)[0]
    pieces = tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert pieces == ["[CLS]", "john", "cat", "##s", "sat", "[SEP]"]
    assert row["labels"] == [-100, 1, 3, -100, 0, -100]


@pytest.mark.slow
def test_panx_zero_shot_end_to_end(panx):
    proc = run(
        [
            "bash",
            REPO / "scripts" / "xtreme" / "panx.sh",
            "--method",
            "intra",
            "--model",
            panx / "model",
            "--data-dir",
            panx / "data",
            "--langs",
            "en,de",
            "--out",
            panx / "runs",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--accumulation",
            "2",
            "--eval-steps",
            "2",
        ],
        cwd=REPO,
        env=OFFLINE,
    )
    result = json.loads((panx / "runs" / "panx" / "intra" / "seed1" / "results.json").read_text())
    assert result["updates"] == 4 and set(result["languages"]) == {"en", "de"}
    assert result["average_f1"] == pytest.approx(
        (result["languages"]["en"]["f1"] + result["languages"]["de"]["f1"]) / 2
    )
    assert result["intra_distillation"]["divergence_reduction"] == "sum"
    assert "| en |" in proc.stdout and "| de |" in proc.stdout and "85.40*" in proc.stdout


def squad_file(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [
        {
            "title": f"t{i}",
            "paragraphs": [
                {
                    "context": c,
                    "qas": [{"id": f"q{i}", "question": q, "answers": [{"text": a, "answer_start": c.index(a)}]}],
                }
            ],
        }
        for i, (c, q, a) in enumerate(rows)
    ]
    path.write_text(json.dumps({"version": "1.1", "data": data}))


@pytest.fixture(scope="module")
def tydiqa(tmp_path_factory):
    """A tiny BERT QA model and TyDiQA-GoldP-format files (SQuAD v1.1 JSON, the XTREME layout)."""
    from fairseq_intradistill.hf.tiny import make_tiny_model

    root = tmp_path_factory.mktemp("tydiqa")
    make_tiny_model(root / "model", "bert", "question-answering", WORDS + ["where", "what", "did", "."])
    rng = random.Random(2)

    def rows(n):
        out = []
        for _ in range(n):
            before = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
            answer = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
            out.append((f"{before} . the {answer} sat on the mat .", "what sat on the mat", answer))
        return out

    squad_file(root / "data" / "tydiqa-goldp-v1.1-train" / "tydiqa.goldp.en.train.json", rows(16))
    for lang in ("en", "sw"):
        squad_file(root / "data" / "tydiqa-goldp-v1.1-dev" / f"tydiqa.goldp.{lang}.dev.json", rows(6))
    return root


@pytest.mark.slow
def test_tydiqa_answer_positions_and_metrics(tydiqa):
    import datasets
    from transformers import AutoTokenizer

    from fairseq_intradistill.hf.tydiqa import qa_metrics, read_squad_json, train_features

    tokenizer = AutoTokenizer.from_pretrained(tydiqa / "model")
    examples = datasets.Dataset.from_list(
        read_squad_json(tydiqa / "data" / "tydiqa-goldp-v1.1-train" / "tydiqa.goldp.en.train.json")
    )
    features = train_features(examples, tokenizer, max_length=24, stride=8)
    assert len(features) > len(examples)  # long contexts give several windows
    found = 0
    for feature in features:
        s, e = feature["start_positions"], feature["end_positions"]
        if s:
            found += 1
            span = tokenizer.decode(feature["input_ids"][s : e + 1])
            assert span in {r["answers"]["text"][0] for r in examples}
    assert found >= len(examples)  # every answer lies whole in at least one window
    gold = [{"id": "a", "answers": {"text": ["The red cat"]}}, {"id": "b", "answers": {"text": ["dog"]}}]
    metrics = qa_metrics(gold, {"a": "red cat!", "b": "a big dog ran"})
    assert metrics["exact_match"] == pytest.approx(0.5)
    assert metrics["f1"] == pytest.approx((1.0 + 2 * (1 / 3) * 1 / (1 / 3 + 1)) / 2)


@pytest.mark.slow
def test_tydiqa_zero_shot_end_to_end(tydiqa):
    proc = run(
        [
            "bash",
            REPO / "scripts" / "xtreme" / "tydiqa.sh",
            "--method",
            "intra",
            "--model",
            tydiqa / "model",
            "--data-dir",
            tydiqa / "data",
            "--langs",
            "en,sw",
            "--out",
            tydiqa / "runs",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--accumulation",
            "1",
            "--max-length",
            "32",
            "--doc-stride",
            "8",
            "--max-query-length",
            "8",
        ],
        cwd=REPO,
        env=OFFLINE,
    )
    run_dir = tydiqa / "runs" / "tydiqa" / "intra" / "seed1"
    result = json.loads((run_dir / "results.json").read_text())
    assert set(result["languages"]) == {"en", "sw"} and result["updates"] >= 2
    assert result["average_f1"] == pytest.approx(sum(m["f1"] for m in result["languages"].values()) / 2)
    predictions = json.loads((run_dir / "predictions.json").read_text())
    assert set(predictions["sw"]) == {f"q{i}" for i in range(6)}
    assert "| sw |" in proc.stdout and "68.20*" in proc.stdout


@pytest.mark.slow
def test_tydiqa_rejects_unknown_language(tydiqa):
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.hf.tydiqa",
            "--method",
            "intra",
            "--output-dir",
            tydiqa / "x",
            "--langs",
            "en,xx",
        ],
        cwd=REPO,
        env=OFFLINE,
        check=False,
    )
    assert proc.returncode == 2 and "--langs must be among" in proc.stderr


@pytest.mark.parametrize("script", ["glue/run.sh", "xtreme/panx.sh", "xtreme/tydiqa.sh"])
def test_recipe_scripts_have_help(script):
    proc = run(["bash", REPO / "scripts" / script, "--help"], cwd=REPO, env=OFFLINE)
    assert proc.stdout.startswith(f"Usage: scripts/{script}")
