"""``python -m fairseq_intradistill --user-dir`` prints the folder to pass to ``fairseq-train --user-dir``."""

import argparse
from pathlib import Path

import fairseq_intradistill


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fairseq_intradistill", description=__doc__)
    parser.add_argument("--user-dir", action="store_true", help="print the folder for fairseq's --user-dir")
    parser.add_argument("--version", action="store_true", help="print the plugin's version")
    args = parser.parse_args(argv)
    if not (args.user_dir or args.version):
        parser.error("nothing to do: give --user-dir or --version")
    if args.version:
        print(fairseq_intradistill.__version__)
    if args.user_dir:
        print(Path(fairseq_intradistill.__file__).resolve().parent)


if __name__ == "__main__":
    main()
