"""analysis.backend: sensitivity and prune read a model through one interface, picked by --path.

No model is loaded here (the end-to-end tests are test_analysis_commands.py and test_analysis_hf.py).
"""

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from fairseq_intradistill.analysis import AnalysisError, prune, sensitivity
from fairseq_intradistill.analysis.arguments import backend_for
from fairseq_intradistill.analysis.backend import Backend
from fairseq_intradistill.analysis.fairseq_io import FairseqBackend
from fairseq_intradistill.analysis.hf_io import TransformersBackend


def _args(command, argv):
    from fairseq_intradistill.analysis.__main__ import build_parser

    return build_parser(command).parse_args([command, *map(str, argv)])


def test_path_picks_the_backend_and_fills_its_defaults(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    args = _args("prune", [tmp_path, "--path", checkpoint])
    backend = backend_for(args, {"fairseq": prune.BLEU_ONLY})
    assert isinstance(backend, FairseqBackend) and args.kind == "fairseq"
    assert (args.max_tokens, args.beam, args.lowercase, args.batch_size) == (4096, 5, False, None)
    assert backend.default_subset() == "valid" and backend.metric == "bleu"
    args = _args("sensitivity", [tmp_path, "--path", model, "--glue-task", "rte"])
    backend = backend_for(args)
    assert isinstance(backend, TransformersBackend) and args.kind == "transformers"
    assert (args.batch_size, args.max_length, args.max_tokens) == (32, 128, None)
    with pytest.raises(AnalysisError, match="--max-tokens does not apply to a Transformers model folder"):
        backend_for(_args("sensitivity", [tmp_path, "--path", model, "--max-tokens", "9"]))
    with pytest.raises(AnalysisError, match="--lenpen does not apply to a Transformers model folder"):
        backend_for(_args("prune", [tmp_path, "--path", model, "--lenpen", "2"]), {"fairseq": prune.BLEU_ONLY})


def test_every_backend_implements_the_whole_interface():
    for backend in (FairseqBackend, TransformersBackend):
        assert issubclass(backend, Backend) and not backend.__abstractmethods__, backend
        assert backend.unit in ("tokens", "examples") and backend.described
    with pytest.raises(TypeError):
        Backend(argparse.Namespace())  # abstract


@pytest.mark.parametrize("module", [prune, sensitivity])
def test_the_commands_call_only_the_interface(module):
    """No branch per kind in the commands: they never name fairseq_io, hf_io or a kind's own functions."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.attr for a in ast.walk(tree) if isinstance(a, ast.Attribute)
    }
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        alias.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for alias in n.names
    }
    assert not ({"fairseq_io", "hf_io", "TRANSFORMERS"} & (names | imported)), module.__name__
    assert not any(m.endswith((".fairseq_io", ".hf_io")) for m in imported)


def test_choosing_a_backend_imports_neither_fairseq_nor_transformers(tmp_path):
    code = (
        "import sys\n"
        "from fairseq_intradistill.analysis.__main__ import build_parser\n"
        "from fairseq_intradistill.analysis.arguments import backend_for\n"
        f"argv = ['sensitivity', {str(tmp_path)!r}, '--path', {str(tmp_path / 'x.pt')!r}]\n"
        "args = build_parser('sensitivity').parse_args(argv)\n"
        "backend_for(args)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fairseq', 'transformers')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_compare_and_curves_start_without_torch(tmp_path):
    """Only the chosen command's module is imported: --help, compare and curves need no torch."""
    code = (
        "import contextlib, io, sys\n"
        "from fairseq_intradistill.analysis.__main__ import main\n"
        f"for argv in (['--help'], ['compare', {str(tmp_path)!r}], ['curves', {str(tmp_path / 'none.log')!r}]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit as e:\n"
        "            code = e.code\n"
        "    print(argv[0], code, err.getvalue().strip().splitlines()[-1:])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "--help 0 []"
    assert lines[1].startswith("compare 2 ['error: ") and "no sensitivity.json" in lines[1]
    assert lines[2].startswith("curves 2 ['error: ") and "log not found" in lines[2]
    assert lines[3] == "False", out
    # The chosen command is still fully defined: sensitivity's options are there.
    from fairseq_intradistill.analysis.__main__ import build_parser

    args = build_parser("sensitivity").parse_args(["sensitivity", str(tmp_path), "--path", str(tmp_path / "m.pt")])
    assert args.module.__name__.endswith(".sensitivity") and args.max_batches is None
