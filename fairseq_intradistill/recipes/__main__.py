"""``python -m fairseq_intradistill.recipes``: the command line over the recipe table.

Kept apart from the table (``recipes/__init__.py``) so that imports point one way: this
module uses the table, the runner (:mod:`fairseq_intradistill.launch`) and the pipelines over
it (:mod:`fairseq_intradistill.pipelines`, :mod:`fairseq_intradistill.quickstart`); the
pipelines use the runner, the runner the table.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from fairseq_intradistill import launch, pipelines, quickstart, recipes
from fairseq_intradistill.console import split_prog
from fairseq_intradistill.recipes import (
    ALPHA_MODES,
    METHOD_FLAGS,
    RECIPES,
    batch_plan,
    method_flags,
    recipe_field,
    train_flags,
)


def _positive(parser: argparse.ArgumentParser, flag: str, value: Optional[int]) -> None:
    if value is not None and value < 1:
        parser.error(f"{flag} must be a positive integer (got {value})")


def main(argv: Optional[Sequence[str]] = None) -> None:
    prog, argv = split_prog(list(sys.argv[1:] if argv is None else argv))
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.recipes",
        description=recipes.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--prog", metavar="NAME", help="(first) the name of the calling script, in its usage and error messages"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    launch.add_parsers(sub, prog)
    pipelines.add_parsers(sub, prog)
    quickstart.add_parser(sub, prog)
    p = sub.add_parser("flags", help="the recipe's fairseq-train flags, one per line")
    p.add_argument("--recipe", choices=sorted(RECIPES), help="without it: the method's flags only")
    p.add_argument("--method", required=True, choices=sorted(METHOD_FLAGS))
    p.add_argument("--gpus", type=int, default=0, help="GPUs found (0: the CPU); sets the batch plan")
    p.add_argument("--arch", help="with --recipe: replaces its architecture")
    p.add_argument("--max-update", type=int, help="with --recipe: replaces its N (the schedule follows)")
    p.add_argument("--max-tokens", type=int, help="with --recipe: the per-GPU micro-batch (update-freq follows)")
    p.add_argument("--num-passes", type=int, help="K (intra only; default: the recipe's)")
    p.add_argument("--alpha-mode", choices=ALPHA_MODES, default="adaptive", help="intra only")
    p = sub.add_parser("batch", help="print the batch plan for this many GPUs")
    p.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    p.add_argument("--gpus", type=int, required=True)
    p = sub.add_parser("get", help="print one field of a recipe (vocab_size, beam, lenpen, ...)")
    p.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    p.add_argument("field")
    # After "--" only the recipe's replacements are still read (as the scripts did); the rest
    # is fairseq's, whatever it looks like.
    head, tail = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    args, extra = parser.parse_known_args(head)
    if args.command in ("train", "evaluate"):
        args, rest = launch.tail_parser(args.command).parse_known_args(tail, namespace=args)
        sys.exit(launch.run(args, extra + rest, argv[2:]))  # the options after "train iwslt14" etc.
    if args.command in pipelines.COMMANDS:
        sys.exit(pipelines.run(args, extra, tail))
    if args.command == "quickstart":
        sys.exit(quickstart.run(args, extra + tail))
    if extra or tail:
        parser.error(f"unrecognized arguments: {' '.join(extra + tail)}")
    try:
        if args.command == "get":
            print(recipe_field(args.recipe, args.field))
            return
        if args.gpus < 0:
            parser.error(f"--gpus must be >= 0 (got {args.gpus})")
        if args.command == "batch":
            r = RECIPES[args.recipe]
            per_gpu, update_freq = batch_plan(r.effective_tokens, r.max_tokens, args.gpus)
            print(
                f"{max(1, args.gpus)} device(s) x {per_gpu} tokens x update-freq {update_freq} "
                f"(recipe: {r.effective_tokens} tokens per update)"
            )
            return
        _positive(parser, "--max-update", args.max_update)
        _positive(parser, "--max-tokens", args.max_tokens)
        if args.recipe is None:
            given = [
                flag
                for flag, value in (
                    ("--arch", args.arch),
                    ("--max-update", args.max_update),
                    ("--max-tokens", args.max_tokens),
                )
                if value is not None
            ]
            if given:
                parser.error(
                    f"{', '.join(given)} replace a recipe's settings: give --recipe, "
                    "or pass them to fairseq-train directly"
                )
            flags = method_flags(args.method, num_passes=args.num_passes, alpha_mode=args.alpha_mode)
        else:
            flags = train_flags(
                args.recipe,
                args.method,
                args.gpus,
                args.arch,
                args.max_update,
                args.max_tokens,
                args.num_passes,
                args.alpha_mode,
            )
    except ValueError as e:
        parser.error(str(e))
    print("\n".join(flags))


if __name__ == "__main__":
    main()
