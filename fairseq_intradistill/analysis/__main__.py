"""python -m fairseq_intradistill.analysis {sensitivity,prune,compare,curves} ...

sensitivity DATA --path CKPT [--subset valid] [--max-batches N] [--out DIR]
prune       DATA --path CKPT --fractions 0,0.1,...,0.9 [--out DIR]
sensitivity GLUE_DATA --path MODEL_DIR --glue-task TASK ...   a Transformers model folder (config.json)
prune       GLUE_DATA --path MODEL_DIR --glue-task TASK ...   the task's metric instead of BLEU
compare     DIR_A DIR_B ...     overlays and a table
curves      LOG_A LOG_B ...     training curves from fairseq --log-format json logs
length      DATA --path CKPT [--path CKPT ...] [--passes K]   where the hypotheses end: P(EOS), entropy
"""

import argparse
import importlib
import logging
import sys
from typing import Optional, Sequence

from fairseq_intradistill.analysis import AnalysisError

COMMANDS = {
    "sensitivity": "per-parameter sensitivity |θ·∂L/∂θ|: balance statistics and histogram",
    "prune": "BLEU (GLUE: the task's metric) after zeroing the least-sensitive fraction of the parameters",
    "compare": "overlay and tabulate several sensitivity/prune output folders",
    "curves": "training curves from fairseq --log-format json logs",
    "length": "entropy and end-of-sentence probability by distance to the reference's end (teacher forcing)",
}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command, with ``command``'s options.

    Only ``command``'s module is imported (the others are listed by name and help): sensitivity,
    prune and length import torch, compare and curves do not, so that --help, compare and curves
    start in a fraction of the time.
    """
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.analysis",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(f"fairseq_intradistill.analysis.{name}")
        # sensitivity and prune share their checkpoint arguments (an argparse parent).
        parents = module.parents() if hasattr(module, "parents") else []
        p = sub.add_parser(
            name,
            help=help_text,
            description=module.__doc__,
            parents=parents,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(module=module)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The command is the first argument (the parser has no options of its own but --help).
    command = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(command).parse_args(argv)
    # fairseq logs at INFO to the root logger; keep the analysis output readable.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s | %(name)s | %(message)s")
    try:
        args.module.run(args)
    except AnalysisError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from e


if __name__ == "__main__":
    main()
