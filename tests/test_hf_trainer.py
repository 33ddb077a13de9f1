"""IntraDistillationTrainer on tiny offline models: every task kind, K=1 identity, schedule, resume, options."""

import math
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# Before transformers and datasets are imported (a broken torchaudio: see hf/_torchaudio.py);
# a block of its own, so that import sorting cannot move it below them.
from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio  # noqa: E402

hide_broken_torchaudio()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    HfArgumentParser,
    Seq2SeqTrainingArguments,
    Trainer,
    TrainingArguments,
)

from fairseq_intradistill.divergence import divergence_rows, mse_rows  # noqa: E402
from fairseq_intradistill.hf import (  # noqa: E402
    IntraDistillationArguments,
    IntraDistillationSeq2SeqTrainer,
    IntraDistillationTrainer,
)
from fairseq_intradistill.hf.loss import repeat_batch  # noqa: E402
from fairseq_intradistill.hf.tiny import make_tiny_model  # noqa: E402
from fairseq_intradistill.schedule import adaptive_alpha  # noqa: E402

pytestmark = pytest.mark.slow  # trains tiny Transformers models

WORDS = "the a cat dog sat ran on mat good bad movie is was red blue big small house".split()
K = 3


def sentences(n, length=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [" ".join(WORDS[i] for i in torch.randint(len(WORDS), (length,), generator=g).tolist()) for _ in range(n)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_models")
    return {
        "classification": make_tiny_model(root / "cls", "bert", "sequence-classification", WORDS, num_labels=3),
        "regression": make_tiny_model(root / "reg", "bert", "sequence-classification", WORDS, num_labels=1),
        "token": make_tiny_model(root / "tok", "xlm-roberta", "token-classification", WORDS, num_labels=4),
        "question_answering": make_tiny_model(root / "qa", "bert", "question-answering", WORDS),
        "seq2seq": make_tiny_model(root / "s2s", "t5", "seq2seq", WORDS),
        "causal_lm": make_tiny_model(root / "lm", "gpt2", "causal-lm", WORDS),
    }


def dataset(kind, tokenizer, n=16):
    texts = sentences(n)
    g = torch.Generator().manual_seed(1)
    if kind in ("classification", "regression"):
        enc = tokenizer(texts)
        labels = (
            torch.randint(3, (n,), generator=g).tolist()
            if kind == "classification"
            else torch.rand(n, generator=g).tolist()
        )
        return Dataset.from_dict({**enc, "labels": labels}), DataCollatorWithPadding(tokenizer)
    if kind == "token":
        enc = tokenizer(texts)
        # -100 on [CLS]/[SEP], as Transformers' token-classification recipes label them.
        labels = [[-100] + torch.randint(4, (len(ids) - 2,), generator=g).tolist() + [-100] for ids in enc["input_ids"]]
        return Dataset.from_dict({**enc, "labels": labels}), DataCollatorForTokenClassification(tokenizer)
    if kind == "question_answering":
        enc = tokenizer(["what sat"] * n, texts, padding="max_length", max_length=16)
        starts = torch.randint(4, 8, (n,), generator=g)
        return (
            Dataset.from_dict({**enc, "start_positions": starts.tolist(), "end_positions": (starts + 1).tolist()}),
            DataCollatorWithPadding(tokenizer),
        )
    if kind == "seq2seq":
        targets = [
            " ".join(t.split()[: 2 + i % 3]) for i, t in enumerate(sentences(n, length=4, seed=2))
        ]  # padded batches
        enc = tokenizer(texts, text_target=targets)
        return Dataset.from_dict(dict(enc)), None
    raise AssertionError(kind)


AUTO = {
    "classification": AutoModelForSequenceClassification,
    "regression": AutoModelForSequenceClassification,
    "token": AutoModelForTokenClassification,
    "question_answering": AutoModelForQuestionAnswering,
    "seq2seq": AutoModelForSeq2SeqLM,
}


def make_trainer(kind, folder, out, intra=None, trainer_cls=None, **train_args):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AUTO[kind].from_pretrained(folder)
    data, collator = dataset(kind, tokenizer)
    if kind == "seq2seq":
        collator = DataCollatorForSeq2Seq(tokenizer, model=model)
    settings = dict(
        output_dir=str(out),
        per_device_train_batch_size=4,
        max_steps=4,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        seed=1,
        learning_rate=1e-3,
        disable_tqdm=True,
    )
    settings.update(train_args)
    args_cls = Seq2SeqTrainingArguments if kind == "seq2seq" else TrainingArguments
    if trainer_cls is None:
        trainer_cls = IntraDistillationSeq2SeqTrainer if kind == "seq2seq" else IntraDistillationTrainer
    extra = {} if intra is None else {"intra_distillation": intra}
    return trainer_cls(model=model, args=args_cls(**settings), train_dataset=data, data_collator=collator, **extra)


def first_batch(trainer):
    batch = next(iter(trainer.get_train_dataloader()))
    return {k: v for k, v in batch.items()}


def expected_loss(kind, model, batch, alpha, reduction="mean"):
    """The loss written out from the definitions: mean task loss over K passes + alpha * divergence."""
    out = model(
        **{k: v for k, v in repeat_batch(batch, K).items() if k not in ("labels", "start_positions", "end_positions")},
        **({"labels": repeat_batch(batch, K)["labels"]} if kind == "seq2seq" else {}),
    )
    if kind == "question_answering":
        s, e = out.start_logits, out.end_logits
        task = (
            F.cross_entropy(s, batch["start_positions"].repeat(K))
            + F.cross_entropy(e, batch["end_positions"].repeat(K))
        ) / 2
        div = sum(divergence_rows(x.log_softmax(-1).view(K, -1, x.size(-1)), "x").sum() for x in (s, e)) / 2
        rows = s.size(0) // K
    elif kind == "regression":
        y = out.logits.view(K, -1)
        task = F.mse_loss(y.reshape(-1), batch["labels"].repeat(K).float())
        div, rows = mse_rows(y).sum(), y.size(1)
    else:
        logits = out.logits
        labels = batch["labels"].repeat(K, *([1] * (batch["labels"].dim() - 1))).reshape(-1)
        task = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels, ignore_index=-100)
        lp = logits.log_softmax(-1).reshape(K, -1, logits.size(-1))
        keep = batch["labels"].reshape(-1) != -100
        div, rows = divergence_rows(lp[:, keep], "x").sum(), int(keep.sum())
    return task + alpha * (div / rows if reduction == "mean" else div)


@pytest.mark.parametrize("kind", ["classification", "regression", "token", "question_answering", "seq2seq"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_of_every_task_kind_matches_the_definitions(models, tmp_path, kind, reduction):
    alpha = 2.0
    trainer = make_trainer(
        kind,
        models[kind],
        tmp_path,
        IntraDistillationArguments(num_passes=K, alpha=alpha, divergence_reduction=reduction),
    )
    model = trainer.model.train()
    batch = first_batch(trainer)
    torch.manual_seed(7)
    loss = trainer.compute_loss(model, dict(batch))
    torch.manual_seed(7)  # the same dropout masks
    expected = expected_loss(kind, model, batch, alpha, reduction)
    assert torch.allclose(loss, expected, rtol=1e-5, atol=1e-6), (kind, loss.item(), expected.item())
    # Dropout makes the passes differ, so the divergence term is really there.
    torch.manual_seed(7)
    assert not torch.allclose(expected_loss(kind, model, batch, 0.0), loss)


@pytest.mark.parametrize("kind", ["classification", "token", "seq2seq"])
def test_training_logs_divergence_and_alpha(models, tmp_path, kind):
    intra = IntraDistillationArguments(num_passes=K, alpha=5, adaptive_alpha=True, alpha_p=2, alpha_q=4)
    trainer = make_trainer(kind, models[kind], tmp_path, intra)
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert [entry["step"] for entry in logs] == [1, 2, 3, 4]
    for entry in logs:
        assert entry["intra_distillation_loss"] > 0
        assert entry["alpha"] == pytest.approx(adaptive_alpha(5, entry["step"] - 1, 4, 2, 4))
    # Evaluation runs one pass: predictions keep the batch size.
    output = trainer.predict(trainer.train_dataset)
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    assert len(logits) == len(trainer.train_dataset)


def test_seq2seq_with_label_smoothing(models, tmp_path):
    """Trainer's label smoother (labels popped from the repeated batch) still gets the divergence added."""
    trainer = make_trainer(
        "seq2seq",
        models["seq2seq"],
        tmp_path,
        IntraDistillationArguments(num_passes=K, alpha=2.0),
        label_smoothing_factor=0.1,
    )
    model = trainer.model.train()
    batch = first_batch(trainer)
    torch.manual_seed(4)
    loss = trainer.compute_loss(model, dict(batch))
    torch.manual_seed(4)
    repeated = repeat_batch(batch, K)
    out = model(**{k: v for k, v in repeated.items() if k != "labels"})
    smoothed = trainer.label_smoother(out, repeated["labels"])
    lp = out.logits.log_softmax(-1).reshape(K, -1, out.logits.size(-1))
    keep = batch["labels"].reshape(-1) != -100
    assert torch.allclose(loss, smoothed + 2.0 * divergence_rows(lp[:, keep], "x").sum() / keep.sum(), rtol=1e-5)


def test_one_pass_alpha_zero_is_the_plain_trainer_step_by_step(models, tmp_path):
    runs = {}
    for name, cls, intra in (
        ("plain", Trainer, None),
        ("intra", IntraDistillationTrainer, IntraDistillationArguments(num_passes=1, alpha=0)),
    ):
        trainer = make_trainer(
            "classification",
            models["classification"],
            tmp_path / name,
            intra,
            trainer_cls=cls,
            gradient_accumulation_steps=2,
        )
        trainer.train()
        runs[name] = (
            [e["loss"] for e in trainer.state.log_history if "loss" in e],
            [e["grad_norm"] for e in trainer.state.log_history if "loss" in e],
            {k: v.clone() for k, v in trainer.model.state_dict().items()},
        )
    assert len(runs["plain"][0]) == 4
    assert runs["plain"][0] == runs["intra"][0]
    assert runs["plain"][1] == runs["intra"][1]
    for name, value in runs["plain"][2].items():
        assert torch.equal(value, runs["intra"][2][name]), name


def test_three_passes_train_on_the_divergence(models, tmp_path):
    """The counterpart of the identity test: K=3 with alpha 50 against alpha 0 (the same K passes and
    dropout masks).  The first step's losses differ by exactly 50 x the logged divergence (about
    1e-5 per example on this tiny model), and the divergence reaches the gradients: the weights
    end different."""
    runs = {}
    for alpha in (0.0, 50.0):
        trainer = make_trainer(
            "classification",
            models["classification"],
            tmp_path / str(alpha),
            IntraDistillationArguments(num_passes=3, alpha=alpha, divergence_reduction="mean"),
        )
        trainer.train()
        logs = [e for e in trainer.state.log_history if "loss" in e]
        runs[alpha] = (logs, {k: v.clone() for k, v in trainer.model.state_dict().items()})
    (first0, first50), divergence = (runs[a][0][0] for a in (0.0, 50.0)), runs[50.0][0][0]["intra_distillation_loss"]
    assert divergence > 1e-6 and runs[0.0][0][0]["intra_distillation_loss"] == pytest.approx(divergence, rel=1e-4)
    assert first50["loss"] - first0["loss"] == pytest.approx(50 * divergence, rel=2e-3)
    weights0, weights50 = runs[0.0][1], runs[50.0][1]
    assert any(not torch.allclose(weights0[name], weights50[name], rtol=1e-4, atol=1e-6) for name in weights0)


def test_schedule_continues_across_a_resume(models, tmp_path):
    intra = IntraDistillationArguments(num_passes=2, alpha=5, adaptive_alpha=True, alpha_p=2, alpha_q=4)
    full = make_trainer("classification", models["classification"], tmp_path / "full", intra, max_steps=6)
    full.train()
    alphas = {e["step"]: e["alpha"] for e in full.state.log_history if "alpha" in e}
    assert alphas == pytest.approx({s: adaptive_alpha(5, s - 1, 6, 2, 4) for s in range(1, 7)})
    assert len(set(alphas.values())) > 2  # the ramp is visible at this horizon

    first = make_trainer(
        "classification",
        models["classification"],
        tmp_path / "run",
        intra,
        max_steps=6,
        save_strategy="steps",
        save_steps=3,
    )
    first.train()
    resumed = make_trainer(
        "classification", models["classification"], tmp_path / "run", intra, max_steps=6, save_strategy="no"
    )
    resumed.train(resume_from_checkpoint=str(tmp_path / "run" / "checkpoint-3"))
    after = {e["step"]: e["alpha"] for e in resumed.state.log_history if "alpha" in e and e["step"] > 3}
    assert after == pytest.approx({s: alphas[s] for s in (4, 5, 6)})


def test_gradient_accumulation_normalises_the_divergence_like_the_task_loss(models, tmp_path):
    # Token classification: the model ignores num_items_in_batch (its loss is this batch's mean),
    # so the divergence stays this batch's mean too.
    trainer = make_trainer(
        "token", models["token"], tmp_path / "tok", IntraDistillationArguments(num_passes=K, alpha=1.0)
    )
    model = trainer.model.train()
    batch = first_batch(trainer)
    items = int((batch["labels"] != -100).sum())
    torch.manual_seed(3)
    local = trainer.compute_loss(model, dict(batch))
    torch.manual_seed(3)
    assert torch.equal(trainer.compute_loss(model, dict(batch), num_items_in_batch=torch.tensor(2 * items)), local)

    # A causal LM divides its loss by num_items_in_batch (the count over the accumulated batch):
    # the divergence is divided by the same count, so both terms halve for twice the count.
    tokenizer = AutoTokenizer.from_pretrained(models["causal_lm"])
    trainer = IntraDistillationTrainer(
        model=AutoModelForCausalLM.from_pretrained(models["causal_lm"]),
        args=TrainingArguments(output_dir=str(tmp_path / "lm"), report_to=[], use_cpu=True),
        intra_distillation=IntraDistillationArguments(num_passes=K, alpha=1.0),
    )
    enc = tokenizer(sentences(4), return_tensors="pt", padding=True)
    batch = {**enc, "labels": enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)}
    model = trainer.model.train()
    items = int((batch["labels"][:, 1:] != -100).sum())
    torch.manual_seed(3)
    once = trainer.compute_loss(model, dict(batch), num_items_in_batch=torch.tensor(items))
    torch.manual_seed(3)
    twice = trainer.compute_loss(model, dict(batch), num_items_in_batch=torch.tensor(2 * items))
    torch.manual_seed(3)
    out = model(**repeat_batch({k: v for k, v in batch.items() if k != "labels"}, K))
    lp = out.logits[:, :-1].log_softmax(-1).reshape(K, -1, out.logits.size(-1))
    keep = batch["labels"][:, 1:].reshape(-1) != -100
    task = F.cross_entropy(
        out.logits[:, :-1].reshape(-1, out.logits.size(-1)), batch["labels"][:, 1:].repeat(K, 1).reshape(-1)
    )
    expected = task + divergence_rows(lp[:, keep], "x").sum() / items
    assert torch.allclose(once, expected, rtol=1e-5)
    assert torch.allclose(twice, once / 2, rtol=1e-5)


def test_divergence_scaled_like_the_task_loss_over_processes(models, tmp_path, monkeypatch):
    """Trainer multiplies the task loss by the number of processes (average_tokens_across_devices); so is the
    divergence."""
    trainer = make_trainer(
        "classification", models["classification"], tmp_path, IntraDistillationArguments(num_passes=K, alpha=50.0)
    )
    model = trainer.model.train()
    batch = first_batch(trainer)
    items = torch.tensor(len(batch["labels"]))
    torch.manual_seed(5)
    one = trainer.compute_loss(model, dict(batch), num_items_in_batch=items)
    monkeypatch.setattr(type(trainer.accelerator), "num_processes", property(lambda self: 2))
    torch.manual_seed(5)
    two = trainer.compute_loss(model, dict(batch), num_items_in_batch=items)
    assert torch.allclose(two, 2 * one, rtol=1e-6)


# bf16 only: accelerate does not autocast to fp16 on a CPU (the logits stay float32), so an fp16
# run here would not test half precision; the GPU is where fp16 applies.
def test_bf16_autocast_on_cpu(models, tmp_path):
    trainer = make_trainer(
        "classification",
        models["classification"],
        tmp_path,
        IntraDistillationArguments(num_passes=K, alpha=1),
        max_steps=2,
        bf16=True,
    )
    seen = []
    hook = trainer.model.classifier.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    trainer.train()
    hook.remove()
    assert torch.bfloat16 in seen  # the logits really came out of autocast
    logs = [e for e in trainer.state.log_history if "loss" in e]
    assert len(logs) == 2 and all(math.isfinite(e["loss"]) and e["intra_distillation_loss"] > 0 for e in logs)


@pytest.mark.parametrize(
    "settings, flag",
    [
        (dict(num_passes=0), "--num_passes"),
        (dict(num_passes=2.5), "--num_passes"),
        (dict(alpha=-1.0), "--alpha"),
        (dict(alpha=float("nan")), "--alpha"),
        (dict(divergence="kl"), "--divergence"),
        (dict(divergence_reduction="max"), "--divergence_reduction"),
        (dict(adaptive_alpha=True, alpha_p=0.0), "--alpha_p"),
        (dict(adaptive_alpha=True, alpha_p=10.0, alpha_q=5.0), "--alpha_q"),
        (dict(alpha_max_steps=-1), "--alpha_max_steps"),
    ],
)
def test_bad_settings_are_rejected_with_the_option_name(settings, flag):
    with pytest.raises(ValueError, match=flag):
        IntraDistillationArguments(**settings)


def test_command_line_flags_and_mse_on_distributions(models, tmp_path):
    parser = HfArgumentParser(IntraDistillationArguments)
    (parsed,) = parser.parse_args_into_dataclasses(
        ["--num_passes", "2", "--alpha", "3", "--adaptive_alpha", "--divergence", "js"]
    )
    assert (parsed.num_passes, parsed.alpha, parsed.adaptive_alpha, parsed.divergence) == (2, 3.0, True, "js")
    with pytest.raises(SystemExit):
        parser.parse_args_into_dataclasses(["--divergence", "kl"])
    trainer = make_trainer(
        "classification", models["classification"], tmp_path, IntraDistillationArguments(divergence="mse")
    )
    with pytest.raises(ValueError, match="--divergence mse"):
        trainer.compute_loss(trainer.model.train(), first_batch(trainer))


def test_the_hf_package_does_not_import_fairseq_and_fairseq_modules_do_not_import_it():
    import re
    import subprocess
    import sys

    code = (
        "import sys, fairseq_intradistill.hf, fairseq_intradistill.hf.glue; "
        "assert not any(m == 'fairseq' or m.startswith('fairseq.') for m in sys.modules), 'fairseq imported'"
    )
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True)
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "fairseq_intradistill"
    # No module of the fairseq side imports the hf package (the tool list of __main__ only names
    # it); the analysis tools use both, each only for its own kind of model.
    importing = re.compile(
        r"^\s*(from|import)\s+fairseq_intradistill\.hf\b|^\s*from\s+fairseq_intradistill\s+import\s+hf\b"
    )
    for path in package.rglob("*.py"):
        if not {"hf", "analysis"} & set(path.relative_to(package).parts):
            assert not any(importing.search(line) for line in path.read_text().split("\n")), path


def test_trainer_internals_the_mixin_mirrors(models, tmp_path, monkeypatch):
    """IntraDistillationMixin._intra_scale copies how Trainer scales the task loss; this fails when that changes.

    Checked on the installed transformers: (1) with a model whose forward takes **kwargs, Trainer
    counts num_items_in_batch and leaves the loss undivided by the accumulation steps; with
    accepts_loss_kwargs = False it passes no count and divides; (2) compute_loss multiplies the
    loss by the processes when given a count (average_tokens_across_devices); (3) the attributes
    the mixin reads exist.
    """
    import transformers

    where = f"transformers {transformers.__version__}: Trainer internals changed; revisit IntraDistillationMixin"
    seen = []

    class Recording(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            seen.append(("compute_loss", num_items_in_batch, loss.detach().clone()))
            return loss

    for accepts in (True, False):
        seen.clear()
        trainer = make_trainer(
            "classification",
            models["classification"],
            tmp_path / str(accepts),
            trainer_cls=Recording,
            max_steps=1,
            gradient_accumulation_steps=2,
            per_device_train_batch_size=2,
        )
        if not accepts:
            trainer.model.accepts_loss_kwargs = False
            trainer = Recording(
                model=trainer.model,
                args=trainer.args,
                train_dataset=trainer.train_dataset,
                data_collator=trainer.data_collator,
            )
        assert hasattr(trainer, "model_accepts_loss_kwargs") and hasattr(trainer, "compute_loss_func"), where
        assert hasattr(trainer, "get_tp_size") and hasattr(Trainer, "loss_is_scaled_for_ga"), where

        def record_backward(loss, _backward=trainer.accelerator.backward, **kwargs):
            seen.append(("backward", None, loss.detach().clone()))
            return _backward(loss, **kwargs)

        monkeypatch.setattr(trainer.accelerator, "backward", record_backward)
        trainer.train()
        assert trainer.model_accepts_loss_kwargs is accepts, where
        assert trainer.current_gradient_accumulation_steps == 2, where
        pairs = list(zip(seen[0::2], seen[1::2]))
        assert len(pairs) == 2 and all(c[0] == "compute_loss" and b[0] == "backward" for c, b in pairs), where
        for (_, items, computed), (_, _, backed) in pairs:
            if accepts:  # counted, and taken as already normalised over the update: not divided
                assert items is not None and torch.allclose(backed, computed), where
            else:  # no count: a per-batch mean, divided by the accumulation steps
                assert items is None and torch.allclose(backed, computed / 2), where

    # (2) the processes' factor: the same batch and count on "2 processes" gives twice the loss.
    trainer = make_trainer("classification", models["classification"], tmp_path / "scale", trainer_cls=Trainer)
    model = trainer.model.eval()  # no dropout: the two calls see the same outputs
    batch = first_batch(trainer)
    items = torch.tensor(len(batch["labels"]))
    one = trainer.compute_loss(model, dict(batch), num_items_in_batch=items)
    monkeypatch.setattr(type(trainer.accelerator), "num_processes", property(lambda self: 2))
    two = trainer.compute_loss(model, dict(batch), num_items_in_batch=items)
    assert torch.allclose(two, 2 * one), where
