"""scripts/common/*: a broken installation stops the scripts with its real error (lib.sh)."""

import importlib.metadata
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, TINY_MODEL, run

from fairseq_intradistill import launch

TRAIN = REPO / "scripts" / "common" / "train.sh"
EVALUATE = REPO / "scripts" / "common" / "evaluate.sh"


def _env(shadow: Path) -> dict:
    """PYTHONPATH with ``shadow`` first (the worktree's package stays importable)."""
    return {"PYTHONPATH": f"{shadow}:{REPO}"}


def test_a_fairseq_that_fails_to_import_shows_its_error(toy_bin, tmp_path):
    shadow = tmp_path / "shadow"
    (shadow / "fairseq").mkdir(parents=True)
    (shadow / "fairseq" / "__init__.py").write_text('raise RuntimeError("broken fairseq for the test")\n')
    save = tmp_path / "run"
    proc = run(
        ["bash", TRAIN, "--data", toy_bin, "--method", "intra", "--save-dir", save, *TINY_MODEL, "--max-update", "1"],
        env=_env(shadow),
        check=False,
    )
    assert proc.returncode != 0
    assert "RuntimeError: broken fairseq for the test" in proc.stderr, proc.stderr
    assert "cannot import fairseq (the Python error above)" in proc.stderr
    assert "not installed" not in proc.stderr and not (save / "train.log").exists()
    # The evaluation script stops the same way, before decoding.
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"not used")
    ref = tmp_path / "ref.txt"
    ref.write_text("a\n")
    proc = run(
        ["bash", EVALUATE, "--data", toy_bin, "--checkpoint", ckpt, "--reference", ref, "--out", tmp_path / "eval"],
        env=_env(shadow),
        check=False,
    )
    assert proc.returncode != 0 and "RuntimeError: broken fairseq for the test" in proc.stderr
    assert "cannot import fairseq (the Python error above)" in proc.stderr
    assert not (tmp_path / "eval" / "bleu-test.json").exists()


def test_a_torch_that_cannot_initialise_cuda_stops_instead_of_training_on_the_cpu(toy_bin, tmp_path):
    # What torch does when its CUDA build and the driver disagree: a warning, and 0 devices.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "sitecustomize.py").write_text(
        "import warnings\n"
        "import torch\n"
        "def device_count():\n"
        "    warnings.warn('CUDA initialization: The NVIDIA driver on your system is too old (test)')\n"
        "    return 0\n"
        "torch.cuda.device_count = device_count\n"
    )
    # ... of a CUDA build: a CPU-only torch (2.13.0+cpu, as on CI) is not asked at all.
    (shadow / "torch-2.13.0.dist-info").mkdir()
    (shadow / "torch-2.13.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0\n")
    save = tmp_path / "run"
    # Without --cpu the GPUs are counted, and the failure stops the run.
    model = [option for option in TINY_MODEL if option != "--cpu"]
    args = ["bash", TRAIN, "--data", toy_bin, "--method", "baseline", "--save-dir", save, *model, "--max-update", "1"]
    proc = run(args, env=_env(shadow), check=False)
    assert proc.returncode != 0
    assert "The NVIDIA driver on your system is too old (test)" in proc.stderr, proc.stderr
    assert "cannot count the GPUs with torch" in proc.stderr
    assert "training on the CPU" not in proc.stderr and not (save / "train.log").exists()
    # With --cpu the user has chosen the CPU: nothing is counted, and the command uses no GPU.
    proc = run([*args, "--cpu", "--dry-run"], env=_env(shadow))
    assert "NVIDIA" not in proc.stderr and "cannot count" not in proc.stderr and "no GPU found" not in proc.stderr
    assert "--cpu" in shlex.split(proc.stdout) and "--fp16" not in proc.stdout


@pytest.mark.parametrize(
    "version, probed",
    [("2.13.0+cpu", False), ("2.13.0", True), ("2.13.0+cu126", True), ("2.13.0+rocm6.2", True), (None, True)],
)
def test_a_cpu_only_torch_is_not_asked_for_gpus(monkeypatch, version, probed):
    def metadata_version(name):
        assert name == "torch"
        if version is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return version

    calls = []

    def probe(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout='{"gpus": 2, "fp16": true}\n')

    monkeypatch.setattr(importlib.metadata, "version", metadata_version)
    monkeypatch.setattr(launch.subprocess, "run", probe)
    found = launch.find_devices(["--max-update", "5"])
    assert (len(calls), found) == ((1, launch.Devices(2, True)) if probed else (0, launch.Devices(0, False)))


def test_dry_run_without_a_recipe_and_with_one(tmp_path):
    # Without --recipe: the method's flags, then --arch/--max-update/--max-tokens and the rest as
    # fairseq options, in the order given; nothing is checked or written (no data here).
    save = tmp_path / "run"
    args = ["--data", tmp_path / "bin", "--method", "intra", "--save-dir", save, "--dry-run"]
    env = {"CUDA_VISIBLE_DEVICES": ""}
    proc = run(["bash", TRAIN, *args, "--max-update", "9", "--seed", "4", "--alpha-mode", "fixed"], env=env)
    command = shlex.split(proc.stdout)
    assert command[1:4] == [str(tmp_path / "bin"), "--user-dir", str(REPO / "fairseq_intradistill")]
    assert command[4:8] == ["--task", "translation_intra_distillation", "--criterion", "intra_distillation"]
    assert "--adaptive-alpha" not in command and command[-5:] == ["--cpu", "--max-update", "9", "--seed", "4"]
    assert f"--log-file {save / 'train.log'}" in proc.stdout and not save.exists()
    # With --recipe, --max-update replaces the recipe's.
    proc = run(["bash", TRAIN, *args, "--recipe", "quickstart", "--max-update", "9"], env=env)
    command = shlex.split(proc.stdout)
    assert command.count("--max-update") == 1 and command[command.index("--max-update") + 1] == "9"


@pytest.mark.slow
def test_without_a_recipe_the_method_defaults_come_first_and_later_options_win(toy_bin, tmp_path):
    # No --recipe: the method's defaults, then the user's model and options, which fairseq takes.
    # (scripts/common/evaluate.sh passing its unknown options to fairseq-generate is checked by the
    # quickstart's end-to-end test, which decodes through it with --max-len-b.)
    save = tmp_path / "run"
    proc = run(
        [
            "bash",
            TRAIN,
            "--data",
            toy_bin,
            "--method",
            "intra",
            "--save-dir",
            save,
            *TINY_MODEL,
            "--max-update",
            "1",
            "--alpha-p",
            "2",
            "--alpha-mode",
            "fixed",
        ]
    )
    config = proc.stdout + proc.stderr
    assert "'num_passes': 3" in config and "'alpha_p': 2.0, 'alpha_q': 10.0" in config
    assert "'adaptive_alpha': False" in config and "'max_update': 1" in config
