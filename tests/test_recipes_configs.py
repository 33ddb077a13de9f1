"""configs/iwslt14/*.yaml give the runs of scripts/iwslt14/train.sh (for fairseq-hydra-train)."""

import json
import sys
from pathlib import Path

import pytest
from conftest import REPO, USER_DIR, cli, run

# Runs in a fresh interpreter: fairseq's argument parsing needs the plugin registered, and an
# in-process import would leave fairseq in sys.modules for the other tests.
CHECK = r"""
import argparse, json, sys
from omegaconf import OmegaConf
from fairseq import options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
import fairseq_intradistill.plugin  # registers the task and criterion, as --user-dir does
from fairseq_intradistill.recipes import METHOD_FLAGS, train_flags

repo, method, data, config_dir = sys.argv[1:5]
# What scripts/common/train.sh runs (recipes.py's flags, all of them), on one fp16 GPU.
script_args = [data, *train_flags("iwslt14", method, gpus=1), "--fp16", "--log-format", "json"]
default_args = [data, *METHOD_FLAGS[method], "--arch", "transformer_iwslt_de_en", "--optimizer", "adam",
                "--lr-scheduler", "inverse_sqrt"]

def config(argv):
    parser = options.get_training_parser()
    return convert_namespace_to_omegaconf(options.parse_args_and_arch(parser, argv))

script, default = config(script_args), config(default_args)
yaml = OmegaConf.load(f"{config_dir}/{method}.yaml")

def get(cfg, group, key):
    node = cfg[group]
    if node is None:  # a group the command line leaves unset (e.g. no --optimizer)
        return None
    if isinstance(node, argparse.Namespace):  # a legacy --arch model's settings
        return node.arch if key == "_name" else getattr(node, key, None)
    return node.get(key)

def keys(cfg, group):
    node = cfg[group]
    if node is None:
        return []
    return list(vars(node)) if isinstance(node, argparse.Namespace) else list(node.keys())

def same(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, (list, tuple)) or OmegaConf.is_list(a):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)

problems, checked = [], 0
unset = {("common", "user_dir"), ("task", "data"), ("checkpoint", "save_dir")}
for group, values in yaml.items():
    for key in values:
        if (group, key) in unset:
            continue
        checked += 1
        if not same(yaml[group][key], get(script, group, key)):
            problems.append(f"{group}.{key}: yaml {yaml[group][key]!r}, script {get(script, group, key)!r}")
# Every setting the script changes from fairseq's defaults must be in the yaml.
# Copies fairseq makes of values the yaml sets (optimization.lr, max_update, dataset.max_tokens).
mirrored = {("optimizer", "lr"), ("lr_scheduler", "lr"), ("dataset", "max_tokens_valid"),
            ("criterion", "max_update")}
groups = ("common", "task", "model", "criterion", "optimizer", "lr_scheduler", "optimization", "dataset", "checkpoint")
for group in groups:
    # A legacy --arch model keeps the whole command line in its Namespace: judge only its own keys.
    others = ({k for g in groups if g != group for k in keys(script, g)} | set(groups)) if group == "model" else set()
    for key in keys(script, group):
        if key in others or (group, key) in mirrored:
            continue
        if key in ("_name", "data", "arch", "user_dir") or key.startswith("_"):
            continue
        a, b = get(script, group, key), get(default, group, key)
        if not same(a, b) and key not in (yaml.get(group) or {}):
            problems.append(f"{group}.{key} = {a!r} in the script, missing from the yaml")
print(json.dumps({"checked": checked, "problems": problems}))
"""


def config_problems(method: str, data: Path, config_dir: Path) -> dict:
    proc = run([sys.executable, "-c", CHECK, REPO, method, data, config_dir])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_yaml_configs_equal_the_recipe_flags(toy_bin):
    for method in ("baseline", "intra"):
        result = config_problems(method, toy_bin, REPO / "configs" / "iwslt14")
        assert result["problems"] == [], (method, result["problems"])
        assert result["checked"] >= 25


def test_the_check_fails_when_a_yaml_and_the_recipe_disagree(toy_bin, tmp_path):
    # A changed value and a missing key are both caught (recipes.py is the source of truth).
    text = (REPO / "configs" / "iwslt14" / "intra.yaml").read_text()
    assert "  alpha_q: 10.0\n" in text and "  patience: 40\n" in text
    (tmp_path / "intra.yaml").write_text(
        text.replace("  alpha_q: 10.0\n", "  alpha_q: 8.0\n").replace("  patience: 40\n", "")
    )
    problems = config_problems("intra", toy_bin, tmp_path)["problems"]
    assert any(p.startswith("criterion.alpha_q: yaml 8.0") for p in problems), problems
    assert any(p.startswith("checkpoint.patience = 40 in the script, missing from the yaml") for p in problems), (
        problems
    )


@pytest.mark.slow
def test_hydra_train_runs_the_intra_config(toy_bin, tmp_path):
    save = tmp_path / "ckpt"
    save.mkdir()  # fairseq opens common.log_file before it creates the save folder
    tiny = {
        "model._name": "transformer",
        "++model.encoder_layers": 1,
        "++model.decoder_layers": 1,
        "++model.encoder_embed_dim": 32,
        "++model.decoder_embed_dim": 32,
        "++model.encoder_ffn_embed_dim": 64,
        "++model.decoder_ffn_embed_dim": 64,
        "++model.encoder_attention_heads": 2,
        "++model.decoder_attention_heads": 2,
        "common.fp16": "false",
        "++common.cpu": "true",
        "optimization.max_update": 2,
        "dataset.max_tokens": 1000,
        "++dataset.num_workers": 0,
        "++common.log_file": save / "train.log",
    }
    run(
        [
            cli("fairseq-hydra-train"),
            "--config-dir",
            REPO / "configs" / "iwslt14",
            "--config-name",
            "intra",
            f"task.data={toy_bin}",
            f"checkpoint.save_dir={save}",
            f"common.user_dir={USER_DIR}",
            *[f"{k}={v}" for k, v in tiny.items()],
        ],
        cwd=tmp_path,
    )
    assert (save / "checkpoint_last.pt").is_file()
    records = [json.loads(line) for line in (save / "train.log").read_text().splitlines() if line.startswith('{"')]
    epoch = next(r for r in records if "train_num_updates" in r)
    assert epoch["train_num_updates"] == "2" and "train_intra_distillation_loss" in epoch
