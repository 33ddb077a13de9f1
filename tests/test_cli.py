"""fairseq's real command-line entry points with the plugin: train, resume, generate, interactive, validate."""

import re
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import REPO, TINY_MODEL, USER_DIR, cli, json_records, run

from fairseq_intradistill.schedule import adaptive_alpha

INTRA = [
    "--user-dir",
    USER_DIR,
    "--task",
    "translation_intra_distillation",
    "--criterion",
    "intra_distillation",
    "--label-smoothing",
    "0.1",
]
SCHEDULE = [
    "--num-passes",
    "3",
    "--alpha",
    "5",
    "--adaptive-alpha",
    "--alpha-p",
    "5",
    "--alpha-q",
    "10",
    "--alpha-max-update",
    "40",
    "--divergence",
    "x",
]

# Runs a fairseq command in a process where `import fairseq_intradistill` fails, as on the
# machine of a colleague who does not have the plugin.
WITHOUT_PLUGIN = """
import importlib.abc, sys
class NoPlugin(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "fairseq_intradistill":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, NoPlugin())
import runpy
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__")
"""


def train(data, save_dir, *extra):
    return run(
        [
            cli("fairseq-train"),
            data,
            "--save-dir",
            save_dir,
            "--log-format",
            "json",
            "--log-interval",
            "1",
            *TINY_MODEL,
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def resumed(toy_bin, tmp_path_factory):
    """An intra-distillation model trained 6 updates, then resumed to 12 (schedule over N = 40)."""
    save = tmp_path_factory.mktemp("intra") / "ckpt"
    first = train(toy_bin, save, *INTRA, *SCHEDULE, "--max-update", "6")
    second = train(toy_bin, save, *INTRA, *SCHEDULE, "--max-update", "12")
    return save, first, second


@pytest.mark.slow
def test_alpha_follows_the_schedule_across_resume(resumed):
    _, first, second = resumed
    records = json_records(first.stdout, "train_inner") + json_records(second.stdout, "train_inner")
    assert [int(r["num_updates"]) for r in records] == list(range(1, 13))
    assert "Loaded checkpoint" in second.stdout  # the second run resumed
    for r in records:
        t = int(r["num_updates"]) - 1  # the step that produced update t+1 ran at update_num t
        assert float(r["alpha"]) == pytest.approx(adaptive_alpha(5.0, t, 40, 5.0, 10.0), abs=1e-4)
        assert float(r["intra_distillation_loss"]) > 0
        for key in ("loss", "nll_loss", "ppl"):
            assert key in r
    valid = json_records(second.stdout, "valid")
    assert valid and "valid_loss" in valid[-1] and "valid_alpha" not in valid[-1]


@pytest.mark.slow
def test_checkpoint_loads_with_weights_only_and_no_plugin(resumed):
    save, _, _ = resumed
    code = WITHOUT_PLUGIN.replace(
        "import runpy",
        "import torch\nsd = torch.load(sys.argv[1], weights_only=True)\nprint(sorted(sd)); raise SystemExit(0)",
    )
    out = run([sys.executable, "-c", code, save / "checkpoint_last.pt"])
    assert "'model'" in out.stdout and "'cfg'" in out.stdout


@pytest.mark.slow
def test_generate_with_the_plugin(resumed, toy_bin):
    save, _, _ = resumed
    out = run(
        [
            cli("fairseq-generate"),
            toy_bin,
            "--path",
            save / "checkpoint_last.pt",
            "--user-dir",
            USER_DIR,
            "--beam",
            "5",
            "--max-len-b",  # a barely trained model would write 200 tokens a line
            "10",
            "--remove-bpe",
            "sentencepiece",
            "--scoring",
            "sacrebleu",
            "--cpu",
            "--max-tokens",
            "2000",
            "--required-batch-size-multiple",
            "1",
        ]
    )
    assert sum(line.startswith("H-") for line in out.stdout.splitlines()) == 40
    assert "BLEU" in out.stdout.splitlines()[-1]


@pytest.mark.slow
def test_generate_on_a_machine_without_the_plugin(resumed, toy_bin):
    save, _, _ = resumed
    out = run(
        [
            sys.executable,
            "-c",
            WITHOUT_PLUGIN,
            "fairseq_cli.generate",
            toy_bin,
            "--path",
            save / "checkpoint_last.pt",
            "--task",
            "translation",
            "--beam",
            "2",
            "--max-len-b",
            "10",
            "--cpu",
            "--max-tokens",
            "2000",
            "--required-batch-size-multiple",
            "1",
        ]
    )
    assert sum(line.startswith("H-") for line in out.stdout.splitlines()) == 40


@pytest.mark.slow
def test_interactive_and_validate(resumed, toy_bin):
    save, _, _ = resumed
    source = (toy_bin.parent / "spm" / "test.src").read_text().splitlines()[:3]
    out = run(
        [
            cli("fairseq-interactive"),
            toy_bin,
            "--path",
            save / "checkpoint_last.pt",
            "--user-dir",
            USER_DIR,
            "--beam",
            "2",
            "--max-len-b",
            "10",
            "--cpu",
            "--source-lang",
            "src",
            "--target-lang",
            "tgt",
        ],
        input_text="\n".join(source) + "\n",
    )
    assert sum(line.startswith("H-") for line in out.stdout.splitlines()) == 3
    out = run(
        [
            cli("fairseq-validate"),
            toy_bin,
            "--path",
            save / "checkpoint_last.pt",
            "--user-dir",
            USER_DIR,
            "--task",
            "translation_intra_distillation",
            "--cpu",
            "--max-tokens",
            "2000",
        ]
    )
    log = out.stdout + out.stderr
    assert "valid on 'valid' subset" in log and "| loss " in log


@pytest.mark.slow
def test_one_pass_alpha_zero_trains_like_stock_criterion(toy_bin, tmp_path):
    common = ["--max-update", "5", "--label-smoothing", "0.1", "--no-save"]
    stock = train(
        toy_bin, tmp_path / "stock", "--task", "translation", "--criterion", "label_smoothed_cross_entropy", *common
    )
    ours = train(toy_bin, tmp_path / "ours", *INTRA, "--num-passes", "1", "--alpha", "0", *common)
    keys = ("loss", "nll_loss", "gnorm", "wpb", "num_updates")
    stock_rows = [[r[k] for k in keys] for r in json_records(stock.stdout, "train_inner")]
    our_rows = [[r[k] for k in keys] for r in json_records(ours.stdout, "train_inner")]
    assert len(stock_rows) == 5 and stock_rows == our_rows
    assert json_records(stock.stdout, "valid")[-1]["valid_loss"] == json_records(ours.stdout, "valid")[-1]["valid_loss"]


@pytest.mark.slow
def test_baseline_checkpoint_with_user_dir_is_portable(trained):
    # The shared baseline run (conftest.py): scripts/common/train.sh loads the plugin for both methods.
    log = trained["consoles"]["baseline"]
    assert f"'user_dir': '{USER_DIR}'" in log and "'_name': 'label_smoothed_cross_entropy'" in log
    # The plugin patches fairseq for the baseline too, and says so once, naming the patches.
    assert log.count("fairseq patched by fairseq_intradistill.compat:") == 1, log[-3000:]
    assert "portable checkpoint writer" in log and "log file once" in log
    code = WITHOUT_PLUGIN.replace(
        "import runpy", "import torch\ntorch.load(sys.argv[1], weights_only=True)\nraise SystemExit(0)"
    )
    run([sys.executable, "-c", code, trained["exp"] / "baseline" / "checkpoint_last.pt"])


# Every refusal is checked in-process (tests/test_criterion.py); here, that fairseq-train itself
# stops on one of the criterion's checks and on one of its argument choices, before training.
BAD_CONFIGS = [
    (["--num-passes", "0"], "--num-passes must be >= 1"),
    (["--divergence", "kl"], "argument --divergence: invalid choice: 'kl'"),
]


@pytest.mark.slow
def test_bad_configurations_fail_before_training(toy_bin, tmp_path):
    def attempt(case):
        flags, _ = case
        return run(
            [
                cli("fairseq-train"),
                toy_bin,
                *INTRA,
                *TINY_MODEL,
                "--save-dir",
                tmp_path / "x",
                "--max-update",
                "3",
                *flags,
            ],
            check=False,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(attempt, BAD_CONFIGS))
    for (flags, message), proc in zip(BAD_CONFIGS, results):
        assert proc.returncode != 0, flags
        log = proc.stdout + proc.stderr
        assert message in log, (flags, log[-2000:])
        assert "Start iterating over samples" not in log
    assert not (tmp_path / "x" / "checkpoint_last.pt").exists()


def test_log_file_fix_wraps_fairseq_once():
    # That a --log-file holds each record once, over two epochs of train.sh, is checked on the
    # shared runs' logs (tests/test_analysis_jsonlog.py).
    from fairseq.logging import progress_bar

    import fairseq_intradistill.plugin  # noqa: F401  (installs the fix)
    from fairseq_intradistill import compat

    installed = progress_bar.progress_bar
    compat.log_file_once()
    assert progress_bar.progress_bar is installed and installed._intradistill_log_file_once
    assert not getattr(installed.__wrapped__, "_intradistill_log_file_once", False)


HF_RECIPES = ("fairseq_intradistill.hf.glue", "fairseq_intradistill.hf.panx", "fairseq_intradistill.hf.tydiqa")


@pytest.mark.slow
def test_help_lists_the_tools_and_each_tool_names_its_command():
    from fairseq_intradistill.__main__ import TOOLS

    out = run([sys.executable, "-m", "fairseq_intradistill", "--help"]).stdout
    assert "--user-dir" in out
    for tool in TOOLS:
        assert f"python -m {tool} " in out, tool
    # Every listed tool exists and has --help.  The Transformers recipes' (which start Transformers)
    # are run behind a broken torchaudio in tests/test_hf_authors.py, with the same usage check.
    assert set(HF_RECIPES) <= set(TOOLS)
    tools = [tool for tool in TOOLS if tool not in HF_RECIPES]
    with ThreadPoolExecutor(max_workers=2) as pool:
        helps = dict(zip(tools, pool.map(lambda tool: run([sys.executable, "-m", tool, "--help"]).stdout, tools)))
    for tool in tools:  # each usage line says how to call the tool
        text = TOOLS[tool]
        assert helps[tool].startswith(f"usage: python -m {tool} "), (tool, helps[tool][:200])
        # a tool with subcommands: the list names exactly those its --help offers ("a | b: ...")
        offered = re.search(r"(?<!\[)\{([a-z0-9_,-]+)\}\s+\.\.\.", helps[tool])
        listed = text.split(":")[0].split(" | ") if " | " in text.split(":")[0] else None
        assert listed == (offered.group(1).split(",") if offered else None), (tool, text)


def test_the_tool_list_names_every_module_run_as_main():
    """__main__'s list of tools cannot drift from the package: every module with a main guard is in it."""
    from fairseq_intradistill.__main__ import TOOLS

    package = REPO / "fairseq_intradistill"
    entry_points = set()
    for path in package.rglob("*.py"):
        if path.name == "__main__.py" and path.parent != package:
            entry_points.add(".".join(path.parent.relative_to(REPO).parts))
        elif 'if __name__ == "__main__":' in path.read_text(encoding="utf-8") and path.name != "__main__.py":
            entry_points.add(".".join(path.with_suffix("").relative_to(REPO).parts))
    assert "fairseq_intradistill.hf.tiny" in entry_points and "fairseq_intradistill.analysis" in entry_points
    assert set(TOOLS) == entry_points
