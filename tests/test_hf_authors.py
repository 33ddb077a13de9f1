"""The Transformers recipes against the authors' scripts (issue 14): data, batch, clipping, windows, scaling.

The Hub is simulated offline: ``datasets.load_dataset`` is replaced by a fake that serves
``google/xtreme``'s layout (configuration names, split contents, id prefixes, ClassLabel tags).
"""

import json
import os
import random
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# Before transformers and datasets are imported (a broken torchaudio: see hf/_torchaudio.py).
from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio  # noqa: E402

hide_broken_torchaudio()

import datasets  # noqa: E402
import torch  # noqa: E402
from conftest import REPO, run  # noqa: E402

pytestmark = pytest.mark.slow  # runs the Transformers recipes on tiny models

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
WORDS = "the a cat dog sat ran on mat good bad movie is was red blue".split()
TYDIQA_LANGUAGES = "english arabic bengali finnish indonesian korean russian swahili telugu".split()


def squad_row(rng, i, prefix):
    context = " ".join(rng.choice(WORDS) for _ in range(12)) + " . the red cat sat ."
    return {
        "id": f"{prefix}-{1000 + i}-0",
        "title": f"t{i}",
        "context": context,
        "question": "what sat",
        "answers": {"text": ["red cat"], "answer_start": [context.index("red cat")]},
    }


@pytest.fixture
def hub_tydiqa(monkeypatch):
    """google/xtreme's ``tydiqa`` configuration: train and validation both mix the nine languages."""
    rng = random.Random(0)
    splits = {
        split: datasets.Dataset.from_list([squad_row(rng, i, prefix) for prefix in TYDIQA_LANGUAGES for i in range(n)])
        for split, n in (("train", 3), ("validation", 2))
    }
    calls = []

    def load_dataset(path, name=None, **kwargs):
        calls.append((path, name))
        if (path, name) != ("google/xtreme", "tydiqa"):
            raise ValueError(f"BuilderConfig {name!r} not found")
        return datasets.DatasetDict(splits)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


# -- 1: TyDiQA from the Hub is zero-shot ------------------------------------------------------
def test_tydiqa_from_the_hub_trains_on_english_only(hub_tydiqa):
    from fairseq_intradistill.hf.tydiqa import load_split

    train = load_split(None, None)
    assert hub_tydiqa == [("google/xtreme", "tydiqa")]
    assert len(train) == 3 and all(row["id"].startswith("english-") for row in train)
    swahili = load_split(None, "sw")
    assert len(swahili) == 2 and all(row["id"].startswith("swahili-") for row in swahili)


# -- GLUE: a tiny BERT and RTE-like data -------------------------------------------------------
@pytest.fixture(scope="module")
def glue(tmp_path_factory):
    from fairseq_intradistill.hf.tiny import make_tiny_model

    root = tmp_path_factory.mktemp("glue")
    make_tiny_model(root / "model", "bert", "sequence-classification", WORDS)
    rng = random.Random(0)
    (root / "rte").mkdir()
    for split, n in (("train", 8), ("validation", 4)):
        with open(root / "rte" / f"{split}.jsonl", "w") as f:
            for i in range(n):
                row = {
                    "sentence1": " ".join(rng.choice(WORDS) for _ in range(5)),
                    "sentence2": " ".join(rng.choice(WORDS) for _ in range(4)),
                    "label": rng.randrange(2),
                    "idx": i,
                }
                f.write(json.dumps(row) + "\n")
    return root


def trainer_arguments(run_dir):
    """The TrainingArguments the Trainer ran with, as it saved them beside its checkpoint."""
    (saved,) = sorted(run_dir.glob("checkpoints/checkpoint-*/training_args.bin"))[-1:]
    return torch.load(saved, weights_only=False)


# -- 4: GLUE does not clip gradients -----------------------------------------------------------
def test_glue_trains_without_gradient_clipping(glue):
    out = glue / "no-clip"
    run(
        [sys.executable, "-m", "fairseq_intradistill.hf.glue", "--task", "rte", "--method", "baseline"]
        + ["--model", glue / "model", "--data-dir", glue / "rte", "--output-dir", out]
        + ["--max-steps", "1", "--batch-size", "8"],
        cwd=REPO,
        env=OFFLINE,
    )
    # run_glue_no_trainer.py steps Adamax with no clip_grad_norm_; Trainer clips only when max_grad_norm > 0.
    args = trainer_arguments(out)
    assert args.max_grad_norm == 0 and args.learning_rate == pytest.approx(2e-4)  # the authors' lr


# -- 8: the scripts reach every module option (GLUE's: with 9, below) ------------------------------
@pytest.mark.parametrize("script", ["xtreme/panx.sh", "xtreme/tydiqa.sh"])
def test_xtreme_scripts_pass_module_options_through(script, tmp_path):
    """What the scripts hand the module: a stub module on PYTHONPATH prints its arguments."""
    module = script.split("/")[1][: -len(".sh")]
    stub = tmp_path / "stub" / "fairseq_intradistill" / "hf"
    stub.mkdir(parents=True)
    (stub.parent / "__init__.py").write_text("")
    (stub / "__init__.py").write_text("")
    (stub / f"{module}.py").write_text("import json, sys\nprint('ARGS ' + json.dumps(sys.argv[1:]))\n")
    (stub / "results.py").write_text("")
    proc = run(
        ["bash", REPO / "scripts" / script, "--method", "intra", "--out", tmp_path / "runs"]
        + ["--lr", "1e-5", "--divergence-reduction", "mean", "--num-passes", "2", "--alpha", "0.5"],
        cwd=tmp_path,  # not the repository: `python -m` puts the working folder first on sys.path
        env={**OFFLINE, "PYTHONPATH": str(tmp_path / "stub")},
    )
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("ARGS ")]
    args = json.loads(line[len("ARGS ") :])
    for flag, value in (("--lr", "1e-5"), ("--divergence-reduction", "mean"), ("--num-passes", "2")):
        assert args[args.index(flag) + 1] == value
    assert args[args.index("--seed") + 1] == "1" and args.count("--seed") == 1


@pytest.mark.parametrize("flag", ["--seed", "--output-dir", "--output_dir"])
def test_scripts_refuse_options_the_seed_loop_sets(flag):
    proc = run(
        ["bash", REPO / "scripts" / "xtreme" / "panx.sh", "--method", "intra", flag, "3"],
        cwd=REPO,
        env=OFFLINE,
        check=False,
    )
    assert proc.returncode == 2 and "--seeds" in proc.stderr


# -- PAN-X: google/xtreme's layout -------------------------------------------------------------
# The PAN-X configurations of google/xtreme (its dataset card: the 40 XTREME languages).
HUB_PANX = (
    "af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru "
    "sw ta te th tl tr ur vi yo zh"
).split()
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


@pytest.fixture
def hub_panx(monkeypatch):
    """``PAN-X.<lang>`` for the 40 languages above (tags as ClassLabel); any other name fails as the Hub does."""
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=TAGS)),
            "langs": datasets.Sequence(datasets.Value("string")),
        }
    )
    rng = random.Random(3)
    calls = []

    def rows(lang, n):
        out = []
        for _ in range(n):
            tokens = [rng.choice(WORDS + ["paris", "john"]) for _ in range(5)]
            tags = [{"paris": 5, "john": 1}.get(t, 0) for t in tokens]
            out.append({"tokens": tokens, "ner_tags": tags, "langs": [lang] * 5})
        return out

    def load_dataset(path, name=None, **kwargs):
        calls.append(name)
        lang = (name or "").removeprefix("PAN-X.")
        if path != "google/xtreme" or not (name or "").startswith("PAN-X.") or lang not in HUB_PANX:
            raise ValueError(f"BuilderConfig '{name}' not found. Available: {['PAN-X.' + x for x in HUB_PANX]}")
        sizes = {"train": 8, "validation": 4, "test": 2}
        return datasets.DatasetDict(
            {split: datasets.Dataset.from_list(rows(lang, n), features=features) for split, n in sizes.items()}
        )

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


@pytest.fixture(scope="module")
def tiny_xlmr(tmp_path_factory):
    from fairseq_intradistill.hf.tiny import make_tiny_model

    root = tmp_path_factory.mktemp("xlmr")
    return make_tiny_model(root / "model", "xlm-roberta", "token-classification", WORDS + ["paris", "john"])


def panx_main(model, out, *extra):
    from fairseq_intradistill.hf import panx

    return panx.main(
        ["--method", "intra", "--model", str(model), "--output-dir", str(out), "--max-steps", "1"]
        + ["--eval-steps", "1", "--batch-size", "4", "--accumulation", "1", *extra]
    )


# -- 7: PAN-X from the Hub finishes, and a language that fails spares the others -----------------
def test_panx_default_languages_all_load_from_the_hub(hub_panx, tiny_xlmr, tmp_path):
    results = panx_main(tiny_xlmr, tmp_path / "run")
    assert sorted(results["languages"]) == sorted(HUB_PANX)
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["languages"].keys() == set(HUB_PANX)
    assert not (tmp_path / "run" / "results.partial.json").exists()


def test_panx_language_that_fails_to_load_keeps_the_others(hub_panx, tiny_xlmr, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match="--langs: 1 language.*qu: ValueError"):
        panx_main(tiny_xlmr, out, "--langs", "en,qu,de")
    partial = json.loads((out / "results.partial.json").read_text())
    assert set(partial["languages"]) == {"en", "de"} and set(partial["failed_languages"]) == {"qu"}
    assert 0 <= partial["languages"]["de"]["f1"] <= 1
    assert not (out / "results.json").exists()  # a finished-looking run would be skipped by the scripts
    assert (out / "best" / "config.json").exists()  # the trained model is not lost either


# -- 2: PAN-X's batch per model, as train_panx.sh ----------------------------------------------
@pytest.mark.parametrize(
    "model, per_device, accumulation",
    [
        ("xlm-roberta-large", 2, 16),
        ("FacebookAI/xlm-roberta-large", 2, 16),
        ("/models/xlm-roberta-large/", 2, 16),
        ("xlm-roberta-base", 8, 4),
        ("bert-base-multilingual-cased", 8, 4),
    ],
)
def test_panx_batch_follows_the_authors_per_model(model, per_device, accumulation, tmp_path, monkeypatch):
    from fairseq_intradistill.hf.common import per_device_batch
    from fairseq_intradistill.hf.panx import parse_args

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    args = parse_args(["--method", "intra", "--model", model, "--output-dir", str(tmp_path)])
    assert (args.batch_size, args.accumulation) == (32, accumulation)
    assert per_device_batch(args.batch_size, args.accumulation) == per_device
    # An explicit --accumulation still wins.
    assert (
        parse_args(["--method", "intra", "--model", model, "--output-dir", "x", "--accumulation", "2"]).accumulation
        == 2
    )


# -- 5: TyDiQA windows as the authors cut them -------------------------------------------------
@pytest.fixture(scope="module")
def qa_tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from fairseq_intradistill.hf.tiny import write_tokenizer

    folder = tmp_path_factory.mktemp("qa_tokenizer")
    write_tokenizer(folder, WORDS + ["what", "where"])
    return AutoTokenizer.from_pretrained(folder)


def expected_windows(context_tokens, room, step):
    """Windows start at 0, step, 2*step, ... until one reaches the end: counted without a tokenizer."""
    starts = [0]
    while starts[-1] + room < context_tokens:
        starts.append(starts[-1] + step)
    return starts


@pytest.mark.parametrize("question_words", [2, 100])
def test_tydiqa_windows_step_by_doc_stride(qa_tokenizer, question_words):
    from fairseq_intradistill.hf.tydiqa import train_features

    rng = random.Random(5)
    words = [rng.choice(WORDS) for _ in range(1000)]  # every word is one token of this vocabulary
    answer_at = 900
    context = " ".join(words)
    question = " ".join(["what"] * question_words)
    start_char = len(" ".join(words[:answer_at])) + 1
    row = {
        "id": "q",
        "question": question,
        "context": context,
        "answers": {"text": [" ".join(words[answer_at : answer_at + 2])], "answer_start": [start_char]},
    }
    features = train_features(datasets.Dataset.from_list([row]), qa_tokenizer, 384, 128)
    # [CLS] question [SEP] context [SEP]; the question is cut at 64 tokens (max_query_length).
    question_tokens = min(question_words, 64)
    room = 384 - question_tokens - 3
    starts = expected_windows(1000, room, 128)
    assert len(features) == len(starts)
    for feature, start in zip(features, starts):
        ids = feature["input_ids"]
        assert len(ids) == min(384, question_tokens + 3 + 1000 - start)
        context_ids = ids[question_tokens + 2 : -1]
        assert qa_tokenizer.convert_ids_to_tokens(context_ids) == words[start : start + room]
        if start <= answer_at and answer_at + 2 <= start + room:  # the answer lies whole in this window
            offset = question_tokens + 2 - start
            assert (feature["start_positions"], feature["end_positions"]) == (
                answer_at + offset,
                answer_at + 1 + offset,
            )
        else:
            assert (feature["start_positions"], feature["end_positions"]) == (0, 0)


# -- 6: gradient accumulation for token classification -------------------------------------------
@pytest.fixture(scope="module")
def panx_equal_lengths(tmp_path_factory):
    """A dropout-free tiny XLM-R and English sentences of 5 one-token words, every word labelled:
    each micro-batch has as many labelled tokens as any other, so the mean over 8 sentences equals
    the mean of the means over 4 x 2 of them."""
    from fairseq_intradistill.hf.tiny import make_tiny_model

    root = tmp_path_factory.mktemp("panx_equal")
    vocabulary = WORDS + ["paris", "john"]
    # Seven labels, PAN-X's: a head of another size would be drawn afresh, differently in each run.
    model = make_tiny_model(
        root / "model", "xlm-roberta", "token-classification", vocabulary, num_labels=7, dropout=0.0
    )
    rng = random.Random(6)
    (root / "data" / "en").mkdir(parents=True)
    for split, n in (("train", 16), ("validation", 4), ("test", 2)):
        with open(root / "data" / "en" / f"{split}.jsonl", "w") as f:
            for _ in range(n):
                tokens = [rng.choice(vocabulary) for _ in range(5)]
                tags = [{"paris": "B-LOC", "john": "B-PER"}.get(t, "O") for t in tokens]
                f.write(json.dumps({"tokens": tokens, "ner_tags": tags}) + "\n")
    return model, root / "data"


def first_update_grad_norm(run_dir):
    state = json.loads((run_dir / "checkpoints" / "checkpoint-1" / "trainer_state.json").read_text())
    (entry,) = [e for e in state["log_history"] if "grad_norm" in e]
    return entry["grad_norm"]


@pytest.mark.parametrize("method", ["baseline", "intra"])
def test_panx_accumulation_gives_the_gradient_of_one_big_batch(panx_equal_lengths, method, tmp_path):
    """1 x 8 and 4 x 2 examples per update: the same gradient (before clipping), as in the authors'
    loop, which divides each micro-batch's mean loss by the accumulation steps."""
    from fairseq_intradistill.hf import panx

    model, data = panx_equal_lengths
    norms = {}
    for accumulation in (1, 4):
        out = tmp_path / f"acc{accumulation}"
        panx.main(
            ["--method", method, "--model", str(model), "--data-dir", str(data), "--output-dir", str(out)]
            + ["--langs", "en", "--max-steps", "1", "--eval-steps", "1", "--batch-size", "8"]
            + ["--accumulation", str(accumulation)]
        )
        norms[accumulation] = first_update_grad_norm(out)
    assert norms[4] == pytest.approx(norms[1], rel=1e-4), norms


# -- 3: divergence_reduction=sum over processes ------------------------------------------------
def test_one_process_and_two_processes_give_the_same_update(tmp_path):
    """Two real processes (torchrun, gloo), each with 4 different examples, against one process with
    all 8: the same logged loss and the same weights after one SGD step (no clipping), with the
    divergence summed and averaged over positions."""
    probe = REPO / "tests" / "hf_two_processes.py"
    reductions = ("sum", "mean")
    results = {}
    for processes in (1, 2):
        out = tmp_path / f"p{processes}" / "result.json"
        out.parent.mkdir()
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
        command = launcher if processes == 2 else [sys.executable]
        run([*command, probe, "--reductions", *reductions, "--out", out], cwd=REPO, env=OFFLINE)
        results[processes] = json.loads(out.read_text())
    for reduction in reductions:
        one, two = results[1][reduction], results[2][reduction]
        assert two["processes"] == 2 and one["processes"] == 1
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-4), reduction
        for name, value in one["weights"].items():
            assert torch.allclose(torch.tensor(two["weights"][name]), torch.tensor(value), atol=1e-6), (reduction, name)
        # The divergence is really in the update (the copies' offsets make it non-zero).
        assert one["divergence"] > 0.01 and two["divergence"] == pytest.approx(one["divergence"]), reduction


# -- 10: the package boundary ----------------------------------------------------------------
def test_importing_the_recipes_loads_neither_torch_nor_transformers():
    code = (
        "import sys\n"
        "from fairseq_intradistill.hf import glue, panx, tydiqa\n"
        "print('LOADED', [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules])\n"
    )
    proc = run([sys.executable, "-c", code], cwd=REPO, env=OFFLINE)
    assert "LOADED []" in proc.stdout


@pytest.mark.parametrize("module", ["glue", "panx", "tydiqa"])
def test_recipe_help_lists_every_option_behind_a_broken_torchaudio(module, tmp_path):
    """--help builds the HfArgumentParser, so it loads Transformers: after hiding a torchaudio that cannot load."""
    (tmp_path / "torchaudio").mkdir()
    (tmp_path / "torchaudio" / "__init__.py").write_text(
        "raise OSError('libtorchaudio.so: cannot open shared object')\n"
    )
    proc = run(
        [sys.executable, "-m", f"fairseq_intradistill.hf.{module}", "--help"],
        cwd=REPO,
        env={**OFFLINE, "PYTHONPATH": f"{tmp_path}:{REPO}"},
    )
    # How to call it (as every tool's --help says: tests/test_cli.py), then the recipe's flags,
    # IntraDistillationArguments' and TrainingArguments'.
    assert proc.stdout.startswith(f"usage: python -m fairseq_intradistill.hf.{module} "), proc.stdout[:200]
    for flag in ("--lr", "--max-steps", "--num-passes", "--divergence-reduction", "--weight_decay", "--logging_steps"):
        assert flag in proc.stdout, flag


def test_broken_torchaudio_is_hidden_before_transformers_loads(tmp_path):
    """A torchaudio that fails to load (as a CUDA build beside a CPU torch does) cannot break the trainer's import."""
    (tmp_path / "torchaudio").mkdir()
    (tmp_path / "torchaudio" / "__init__.py").write_text(
        "raise OSError('libtorchaudio.so: cannot open shared object')\n"
    )
    code = (
        "import sys\n"
        "from fairseq_intradistill.hf import IntraDistillationTrainer, IntraDistillationArguments\n"
        "import transformers\n"
        "print('TORCHAUDIO', sys.modules['torchaudio'])\n"
    )
    proc = run([sys.executable, "-c", code], cwd=REPO, env={**OFFLINE, "PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert "TORCHAUDIO None" in proc.stdout


# -- 9: HfArgumentParser over the recipe's dataclass, IntraDistillationArguments and TrainingArguments ----
def test_glue_script_reaches_module_trainer_and_intra_distillation_options(glue):
    """The module's own options (8), and those that only TrainingArguments and
    IntraDistillationArguments have, through scripts/glue/run.sh: one run, as each starts Transformers."""
    out = glue / "hf-options"
    run(
        ["bash", REPO / "scripts" / "glue" / "run.sh", "--task", "rte", "--method", "intra"]
        + ["--model", glue / "model", "--data-dir", glue / "rte", "--out", out, "--max-steps", "1"]
        + ["--batch-size", "8", "--lr", "1e-4", "--divergence-reduction", "mean", "--num-passes", "2"]
        + ["--weight_decay", "0.01", "--warmup_steps", "0.25", "--adam-epsilon", "1e-6"]
        + ["--alpha_max_steps", "7", "--divergence", "js"],
        cwd=REPO,
        env=OFFLINE,
    )
    run_dir = out / "rte" / "intra" / "seed1"
    args = trainer_arguments(run_dir)
    assert args.learning_rate == pytest.approx(1e-4)
    assert (args.weight_decay, args.warmup_steps, args.adam_epsilon) == (0.01, 0.25, 1e-6)
    # The recipe's own flags and settings still set theirs.
    assert args.max_grad_norm == 0
    assert (args.seed, args.max_steps, args.output_dir) == (1, 1, str(run_dir / "checkpoints"))
    # The authors' Adamax gets the decay, as run_glue_no_trainer.py: not on biases and LayerNorm weights.
    (saved,) = run_dir.glob("checkpoints/checkpoint-*/optimizer.pt")
    groups = torch.load(saved, weights_only=False)["param_groups"]
    assert sorted(g["weight_decay"] for g in groups) == [0.0, 0.01] and all(g["eps"] == 1e-6 for g in groups)
    intra = json.loads((run_dir / "results.json").read_text())["intra_distillation"]
    assert (intra["alpha_max_steps"], intra["divergence"]) == (7, "js")
    assert intra["divergence_reduction"] == "mean" and intra["num_passes"] == 2


RECIPES = {"glue": ["--task", "rte"], "panx": [], "tydiqa": []}


@pytest.mark.parametrize("module", sorted(RECIPES))
def test_recipes_parse_intra_distillation_and_trainer_options(module):
    import importlib

    from fairseq_intradistill.hf import IntraDistillationArguments

    recipe = importlib.import_module(f"fairseq_intradistill.hf.{module}")
    args = recipe.parse_args(
        RECIPES[module]
        + ["--method", "intra", "--output-dir", "x", "--alpha_max_steps", "7", "--divergence", "sym_kl"]
        + ["--adaptive-alpha", "false", "--num_passes", "2", "--logging_steps", "3", "--lr_scheduler_type", "constant"]
    )
    assert isinstance(args.intra, IntraDistillationArguments)
    intra = args.intra
    assert (intra.alpha_max_steps, intra.divergence, intra.adaptive_alpha, intra.num_passes) == (7, "sym_kl", False, 2)
    assert args.training["logging_steps"] == 3 and args.training["lr_scheduler_type"] == "constant"
    # The baseline has none, and the recipe's intra-distillation defaults stay (the authors' K = 3, adaptive alpha).
    baseline = recipe.parse_args(RECIPES[module] + ["--method", "baseline", "--output-dir", "x"])
    assert baseline.intra is None
    assert recipe.parse_args(RECIPES[module] + ["--method", "intra", "--output-dir", "x"]).intra.adaptive_alpha


@pytest.mark.parametrize(
    "module, flags, recipe_flag",
    [
        ("glue", ["--learning_rate", "1e-3"], "--lr"),
        ("glue", ["--num-train-epochs", "3"], "--epochs"),
        ("glue", ["--per_device_train_batch_size", "4"], "--batch-size"),
        ("glue", ["--fp16"], "--precision fp16"),
        ("glue", ["--optim", "sgd"], "Adamax"),
        ("panx", ["--gradient_accumulation_steps", "2"], "--accumulation"),
        ("panx", ["--save_steps", "10"], "--eval-steps"),
        ("tydiqa", ["--per_device_eval_batch_size", "4"], "--eval-batch-size"),
    ],
)
def test_recipes_refuse_trainer_flags_that_their_own_flags_set(module, flags, recipe_flag, capsys):
    import importlib

    recipe = importlib.import_module(f"fairseq_intradistill.hf.{module}")
    with pytest.raises(SystemExit) as stopped:
        recipe.parse_args(RECIPES[module] + ["--method", "intra", "--output-dir", "x"] + flags)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {flags[0].replace('-', '_').replace('__', '--', 1)}" in error and recipe_flag in error


# -- 12: the remaining differences, and the settings that match the authors exactly -------------
def authors_divergence(logits, k):
    """run_tag.py / run_squad.py's term: softmax per pass, m their mean, sum of (p - m)(log p - log m) over
    every row and class, divided by the passes."""
    probs = [p.softmax(-1) for p in logits.float().chunk(k)]
    m = sum(probs) / k
    return sum(((p - m) * (p.log() - m.log())).sum() for p in probs) / k


def intra_trainer(folder, auto, data, collator, tmp_path, **settings):
    from transformers import TrainingArguments

    from fairseq_intradistill.hf import IntraDistillationArguments, IntraDistillationTrainer

    return IntraDistillationTrainer(
        model=auto.from_pretrained(folder),
        args=TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True, per_device_train_batch_size=4),
        train_dataset=data,
        data_collator=collator,
        intra_distillation=IntraDistillationArguments(num_passes=3, divergence_reduction="sum", **settings),
    )


def test_ner_token_positions_all_is_the_authors_sum_over_every_position(tiny_xlmr, tmp_path):
    from transformers import AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification

    tokenizer = AutoTokenizer.from_pretrained(tiny_xlmr)
    texts = [["john", "sat"], ["the", "cat", "sat", "on", "the", "mat"], ["paris"], ["a", "dog", "ran"]]
    enc = tokenizer(texts, is_split_into_words=True)
    labels = [[-100] + [1] * len(words) + [-100] for words in texts]
    data = datasets.Dataset.from_dict({**enc, "labels": labels})
    collator = DataCollatorForTokenClassification(tokenizer, padding="max_length", max_length=12)
    batch = collator([data[i] for i in range(4)])
    for positions in ("all", "labelled"):
        trainer = intra_trainer(
            tiny_xlmr, AutoModelForTokenClassification, data, collator, tmp_path, alpha=1.5, token_positions=positions
        )
        model = trainer.model.train()
        torch.manual_seed(2)
        loss = trainer.compute_loss(model, dict(batch))
        torch.manual_seed(2)  # the same dropout masks
        out = model(**{name: value.repeat(3, 1) for name, value in batch.items()})
        logits = out.logits
        keep = batch["labels"].reshape(-1) != -100
        if positions == "labelled":
            logits = logits.reshape(3, -1, logits.size(-1))[:, keep].reshape(-1, logits.size(-1))
        expected = out.loss + 1.5 * authors_divergence(logits.reshape(-1, logits.size(-1)), 3)
        assert torch.allclose(loss, expected, rtol=1e-5), (positions, loss.item(), expected.item())
    # The two settings differ on a padded batch: the padding and [CLS]/[SEP] positions count under "all".
    assert int(keep.sum()) < keep.numel()


def test_qa_alpha_two_here_is_the_authors_alpha_one(tmp_path_factory, tmp_path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, DataCollatorWithPadding

    from fairseq_intradistill.hf.tiny import make_tiny_model

    folder = make_tiny_model(tmp_path_factory.mktemp("qa") / "model", "bert", "question-answering", WORDS)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    enc = tokenizer(["what sat"] * 4, ["the cat sat on the mat", "a dog ran", "the red cat", "big mat"])
    data = datasets.Dataset.from_dict({**enc, "start_positions": [4, 4, 5, 4], "end_positions": [5, 4, 6, 5]})
    collator = DataCollatorWithPadding(tokenizer)
    batch = collator([data[i] for i in range(4)])
    trainer = intra_trainer(folder, AutoModelForQuestionAnswering, data, collator, tmp_path, alpha=2.0)
    model = trainer.model.train()
    torch.manual_seed(4)
    loss = trainer.compute_loss(model, dict(batch))
    torch.manual_seed(4)
    out = model(**{name: value.repeat(3, *([1] * (value.dim() - 1))) for name, value in batch.items()})
    # run_squad.py: the start and end distributions side by side, their divergences added, alpha 1.
    both = torch.cat([out.start_logits.reshape(3, 4, -1), out.end_logits.reshape(3, 4, -1)], dim=1)
    expected = out.loss + 1.0 * authors_divergence(both.reshape(12 * 2, -1), 3)
    assert torch.allclose(loss, expected, rtol=1e-5), (loss.item(), expected.item())
