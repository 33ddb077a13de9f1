"""``python -m fairseq_intradistill.results DIR [DIR...]``: the command; its help is the package's docstring."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import fairseq_intradistill.results as results
from fairseq_intradistill.results.formatting import format_report
from fairseq_intradistill.results.report import report, report_json
from fairseq_intradistill.results.significance import DEFAULT_SAMPLES


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.results",
        description=results.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "dirs",
        nargs="*",
        type=Path,
        metavar="DIR",
        help="experiment folders, each with one folder per method (baseline, intra, ...)",
    )
    parser.add_argument(
        "--add",
        type=Path,
        action="append",
        default=[],
        metavar="SUMMARY.json",
        help="a summary this command wrote before (--json), whose runs and tests join the DIRs' as recorded "
        "(e.g. seeds trained elsewhere, whose folders are not at hand); repeatable",
    )
    parser.add_argument("--json", type=Path, help="also write everything as JSON here")
    parser.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="equal-compute budget for every run (default: the baseline's training time in each folder)",
    )
    parser.add_argument(
        "--bootstrap-samples",
        type=int,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"resamples of the paired bootstrap test (default: {DEFAULT_SAMPLES}, sacreBLEU's); "
        "sacreBLEU seeds it with $SACREBLEU_SEED (default 12345)",
    )
    parser.add_argument("--no-significance", action="store_true", help="leave the paired bootstrap test out")
    args = parser.parse_args(argv)
    if not args.dirs and not args.add:
        parser.error("give at least one DIR or --add SUMMARY.json")
    try:
        result = report(args.dirs, args.time_budget, not args.no_significance, args.bootstrap_samples, earlier=args.add)
    except (ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from e
    print(format_report(result))
    if args.json:
        args.json.write_text(json.dumps(report_json(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
