"""fairseq-intradistill: intra-distillation for fairseq, and the tools that prepare, run and measure it.

python -m fairseq_intradistill --user-dir prints the folder to pass to fairseq-train --user-dir.
"""

import argparse
from pathlib import Path
from typing import Dict

import fairseq_intradistill

# Every command-line tool of the package (every module run as ``__main__``); each has --help.
# tests/test_cli.py checks that this names every such module and, for a tool with
# subcommands, exactly the subcommands its --help lists.
TOOLS: Dict[str, str] = {
    "fairseq_intradistill.analysis": "sensitivity | prune | compare | curves: the paper's measurements",
    "fairseq_intradistill.results": "BLEU, length ratio, paired bootstrap, cost, equal compute; mean +- std over seeds",
    "fairseq_intradistill.bench": "cost of a training step for each K and pass mode, and of the divergence",
    "fairseq_intradistill.evaluation": "sacreBLEU of fairseq-generate output, in sentence order",
    "fairseq_intradistill.data.iwslt14": (
        "fetch | unpack | raw | select | corpus | langs: the IWSLT'14 xx-en corpora, as the authors made them"
    ),
    "fairseq_intradistill.data.wmt17": "fetch | raw | compound-bleu: the WMT'17 en-de corpora; tokenised BLEU",
    "fairseq_intradistill.data.spm": "train | encode: a joint SentencePiece model",
    "fairseq_intradistill.data.prepare": "iwslt14 | wmt17: the prepare.sh steps (text, SentencePiece, binaries)",
    "fairseq_intradistill.recipes": (
        "train | evaluate | run-all | ablate | self-distill | quickstart | flags | batch | get: "
        "the recipes; the scripts' runs (--dry-run)"
    ),
    "fairseq_intradistill.data.toy_corpus": "a synthetic parallel corpus (quickstart and tests)",
    "fairseq_intradistill.hf.glue": "GLUE fine-tuning with Transformers, baseline or intra (needs .[hf])",
    "fairseq_intradistill.hf.panx": "XTREME PAN-X zero-shot NER with Transformers (needs .[hf])",
    "fairseq_intradistill.hf.tydiqa": "TyDiQA-GoldP zero-shot QA with Transformers (needs .[hf])",
    "fairseq_intradistill.hf.results": "tables of the GLUE / XTREME runs beside the paper",
    "fairseq_intradistill.hf.tiny": "a tiny random Transformers model and tokenizer, made offline (tests, trials)",
}


def tools_epilog() -> str:
    width = max(len(name) for name in TOOLS) + len("python -m ")
    lines = [f"  {'python -m ' + name:<{width}}  {text}" for name, text in TOOLS.items()]
    return "tools (each with --help):\n" + "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill",
        description=__doc__,
        epilog=tools_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--user-dir", action="store_true", help="print the folder for fairseq's --user-dir")
    parser.add_argument("--version", action="store_true", help="print the plugin's version")
    args = parser.parse_args(argv)
    if not (args.user_dir or args.version):
        parser.error("nothing to do: give --user-dir or --version (--help lists the tools)")
    if args.version:
        print(fairseq_intradistill.__version__)
    if args.user_dir:
        print(Path(fairseq_intradistill.__file__).resolve().parent)


if __name__ == "__main__":
    main()
