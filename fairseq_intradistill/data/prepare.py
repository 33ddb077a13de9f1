"""A recipe's data, step by step: what ``scripts/iwslt14/prepare.sh`` and ``scripts/wmt17/prepare.sh`` run.

    python -m fairseq_intradistill.data.prepare iwslt14 [--langs "de nl"] [--archive 2014-01.tgz] [--out DIR] ...
    python -m fairseq_intradistill.data.prepare wmt17 [--archive-dir DIR] [--out DIR] ...

The scripts name their recipe and pass every option through (``--prog NAME``, first, puts the
script's name in ``--help`` and in the error messages).  The steps call the data modules in this
process (:mod:`~fairseq_intradistill.data.iwslt14`, :mod:`~fairseq_intradistill.data.wmt17`,
:mod:`~fairseq_intradistill.data.spm`) and run ``fairseq-preprocess`` as a child, its output
in ``preprocess.log``.  Each step writes the file that marks it finished last (the pair's
archive, ``raw/stats.json``, ``preparation.json``, ``spm/done``, ``bin/done``), so that a second
run skips it and an interrupted one redoes it; a redone step also redoes the steps after it.
Progress goes to stderr as ``[HH:MM:SS] message`` lines, ending with the "ready" line that
says what was binarised.  A wrong option stops before any work with the option's name and
what it accepts; a problem with the data stops with ``error: MESSAGE`` and exit status 1.

The ``--vocab-size`` defaults are the recipe table's (:data:`fairseq_intradistill.recipes.RECIPES`),
the default ``--langs`` the paper's (:data:`fairseq_intradistill.data.iwslt14.LANGS`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

from fairseq_intradistill import recipes
from fairseq_intradistill.console import ScriptFormatter, log, split_prog
from fairseq_intradistill.data import iwslt14, moses, spm, wmt17
from fairseq_intradistill.data.archives import ArchiveError

IWSLT14_OUT = "work/iwslt14"
WMT17_OUT = "work/wmt17"
# SentencePiece settings of the authors' IWSLT'14 script; WMT'17 samples --spm-sentences lines.
IWSLT14_CHARACTER_COVERAGE = 0.99999995
IWSLT14_SPM_SENTENCES = 1_000_000
WMT17_SPM_SENTENCES = 2_000_000


class StepError(Exception):
    """A step's tool failed (fairseq-preprocess, SentencePiece): reported as ``error: MESSAGE``."""


# ---------------------------------------------------------------------------------------------
# Options: the user's text checked and turned into values, before any step runs.


def _count(flag: str, value: Union[int, str], minimum: int, allowed: str) -> int:
    """``value`` as an integer of at least ``minimum``; else ValueError naming ``flag`` and what it takes.

    Digits only, as the scripts took them: "+3", " 3" or "3_000" are refused, not read.
    """
    text = str(value)
    if not re.fullmatch(r"[0-9]+", text) or int(text) < minimum:
        raise ValueError(f"{flag} must be {allowed} (got '{text}')")
    return int(text)


def _vocab_size(value: Union[int, str, None], recipe: str) -> int:
    if value is None:
        return recipes.RECIPES[recipe].vocab_size
    # spm's own floor: fewer pieces cannot hold SentencePiece's meta pieces and an alphabet.
    return _count("--vocab-size", value, spm.MIN_VOCAB_SIZE, f"a positive integer, {spm.MIN_VOCAB_SIZE} or more")


def _workers(value: Union[int, str]) -> int:
    return moses.default_workers(_count("--workers", value, 0, "a non-negative integer, 0 for up to 8 cores"))


def _required(flag: str, value: str) -> str:
    if not value:
        raise ValueError(f"{flag} is required (see --help)")
    return value


@dataclass(frozen=True)
class Iwslt14Options:
    langs: Tuple[str, ...]  # source languages; every pair is <src>-en
    out: Path
    archive: Optional[Path]  # None: the release, downloaded into OUT/downloads/
    train_pairs: int  # 0: every training pair
    subset_seed: int
    vocab_size: int
    workers: int  # processes for Moses and fairseq-preprocess (resolved: never 0)
    force: bool

    @property
    def orig(self) -> Path:
        return self.out / "orig"

    def pair_dir(self, lang: str) -> Path:
        return self.out / "data" / f"{lang}-{iwslt14.TARGET}"


def iwslt14_options(
    langs: Union[str, Sequence[str], None] = None,
    archive: Union[str, Path, None] = None,
    out: Union[str, Path] = IWSLT14_OUT,
    train_pairs: Union[int, str] = 0,
    subset_seed: Union[int, str] = 1,
    preset: str = "paper",
    vocab_size: Union[int, str, None] = None,
    workers: Union[int, str] = 0,
    force: bool = False,
) -> Iwslt14Options:
    """The options of ``prepare.sh``, checked (ValueError names the option and what it accepts).

    ``langs`` is a space-separated string or a list (None: the paper's eight); ``vocab_size``
    None takes the recipe of ``preset`` (``paper``: iwslt14, ``small``: iwslt14-small).
    """
    if langs is None:
        langs = iwslt14.LANGS
    names = langs.split() if isinstance(langs, str) else list(langs)
    _required("--langs", " ".join(names))
    out = _required("--out", str(out))
    if preset not in recipes.IWSLT_PRESETS:
        raise ValueError(f"--preset must be {' or '.join(recipes.IWSLT_PRESETS)} (got '{preset}')")
    options = dict(
        train_pairs=_count("--train-pairs", train_pairs, 0, "a positive integer, or 0 for all"),
        subset_seed=_count("--subset-seed", subset_seed, 0, "a non-negative integer"),
        vocab_size=_vocab_size(vocab_size, recipes.IWSLT_PRESETS[preset]),
        workers=_workers(workers),
    )
    for lang in names:
        if not re.fullmatch(r"[a-z][a-z]", lang):
            raise ValueError(f"--langs: '{lang}' is not a two-letter language code")
        if lang == iwslt14.TARGET:
            raise ValueError(f"--langs: {lang} is the target side of every pair; give source languages")
    if archive is not None and not Path(archive).is_file():
        raise ValueError(f"--archive {archive} does not exist")
    return Iwslt14Options(
        langs=tuple(dict.fromkeys(names)),  # a language given twice is prepared once
        out=Path(out),
        archive=Path(archive) if archive is not None else None,
        force=force,
        **options,
    )


@dataclass(frozen=True)
class Wmt17Options:
    out: Path
    archive_dir: Optional[Path]  # None: the corpora, downloaded into OUT/downloads/
    vocab_size: int
    spm_sentences: int  # lines sampled to train SentencePiece
    workers: int  # resolved: never 0
    force: bool

    @property
    def data(self) -> Path:
        return self.out / "data" / f"{wmt17.SRC}-{wmt17.TGT}"


def wmt17_options(
    archive_dir: Union[str, Path, None] = None,
    out: Union[str, Path] = WMT17_OUT,
    vocab_size: Union[int, str, None] = None,
    spm_sentences: Union[int, str] = WMT17_SPM_SENTENCES,
    workers: Union[int, str] = 0,
    force: bool = False,
) -> Wmt17Options:
    """The options of ``scripts/wmt17/prepare.sh``, checked (ValueError names the option)."""
    out = _required("--out", str(out))
    options = dict(
        vocab_size=_vocab_size(vocab_size, "wmt17"),
        spm_sentences=_count("--spm-sentences", spm_sentences, 1, "a positive integer"),
        workers=_workers(workers),
    )
    if archive_dir is not None and not Path(archive_dir).is_dir():
        raise ValueError(f"--archive-dir {archive_dir} is not a folder")
    return Wmt17Options(
        out=Path(out), archive_dir=Path(archive_dir) if archive_dir is not None else None, force=force, **options
    )


# ---------------------------------------------------------------------------------------------
# The steps both recipes share.


def remove(*paths: Path) -> None:
    """``rm -rf``, except that a file or folder that cannot be removed is an error, not left behind."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def count_lines(path: Path) -> int:
    """Newline characters in ``path``, as ``wc -l`` counts them (one per encoded sentence)."""
    n = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


def compact_stats(path: Path) -> str:
    """``stats.json`` on one line, spaces and newlines dropped: the sizes in the "ready" line."""
    return path.read_text(encoding="utf-8").replace("\n", "").replace(" ", "")


def joint_sentencepiece(
    spm_dir: Path,
    train: Sequence[Path],
    texts: Dict[str, Path],
    vocab_size: int,
    character_coverage: float = 1.0,
    input_sentence_size: int = 0,
) -> None:
    """One model on the ``train`` files, then each ``texts`` source encoded into ``spm_dir/<name>``; ``done`` last.

    SentencePiece reports its own failures as RuntimeError (e.g. a --vocab-size below the
    corpus's alphabet): that becomes a StepError with its message.
    """
    try:
        model = spm.train_joint(
            train,
            spm_dir / "spm",
            vocab_size,
            character_coverage=character_coverage,
            input_sentence_size=input_sentence_size,
        )
    except RuntimeError as e:
        raise StepError(f"SentencePiece could not train {spm_dir / 'spm'} with --vocab-size {vocab_size}: {e}") from e
    print(f"SentencePiece model: {model}")
    for name, source in texts.items():
        n = spm.encode_file(model, source, spm_dir / name)
        print(f"encoded {n} lines into {spm_dir / name}")
    (spm_dir / "done").touch()


def fairseq_preprocess() -> str:
    """The fairseq-preprocess of this Python's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "fairseq-preprocess"
    return str(beside) if beside.is_file() else "fairseq-preprocess"


def binarise(data: Path, source: str, target: str, workers: int, what: str) -> None:
    """``fairseq-preprocess`` of ``data/spm/{train,valid,test}`` into ``data/bin`` with a joint
    dictionary, its output in ``data/preprocess.log``; ``bin/done`` last.  ``what`` names the
    data in the error message."""
    bin_dir, log_path = data / "bin", data / "preprocess.log"
    remove(bin_dir)
    bin_dir.mkdir(parents=True)
    spm_dir = data / "spm"
    command = [fairseq_preprocess(), "--source-lang", source, "--target-lang", target, "--joined-dictionary"]
    command += ["--trainpref", str(spm_dir / "train"), "--validpref", str(spm_dir / "valid")]
    command += ["--testpref", str(spm_dir / "test"), "--destdir", str(bin_dir), "--workers", str(workers)]
    with open(log_path, "w", encoding="utf-8") as output:
        try:
            status = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT).returncode
        except FileNotFoundError as e:
            raise StepError(f"fairseq-preprocess not found ({e}); is fairseq installed (pip install -e .)?") from e
    if status != 0:
        raise StepError(f"fairseq-preprocess failed{what}, see {log_path}")
    (bin_dir / "done").touch()


# ---------------------------------------------------------------------------------------------
# IWSLT'14 xx->en.


def iwslt14_unpack(options: Iwslt14Options) -> None:
    """Step 1: the pairs' archives out of the release, one pass over it for all missing languages.

    A pair already taken out of another archive (say, the IWSLT release's fr-en when this is
    another corpus's fr-en) is refused (ValueError) rather than silently reused.
    """
    orig = options.orig
    present = [lang for lang in options.langs if (orig / f"{lang}-{iwslt14.TARGET}.tgz").is_file()]
    missing = [lang for lang in options.langs if lang not in present]
    archive = options.archive
    if archive is not None and present:
        release = iwslt14.source_record(archive)  # hashed once: the release can be large
        for lang in present:
            iwslt14.pair_corpus(orig, lang, release)
    if not missing:
        log(f"step 1: pair archives present in {orig}, skipping")
        return
    if archive is None:
        archive = options.out / "downloads" / iwslt14.ARCHIVE_NAME
        log(f"step 1: fetching the IWSLT 2014 release into {archive}")
        iwslt14.fetch(archive, os.environ.get("IWSLT14_SHA256"))
    log(f"step 1: taking {' '.join(missing)} out of {archive}")
    for lang, path in iwslt14.unpack(archive, missing, orig).items():
        print(f"{lang}: {path}")


def iwslt14_pair(options: Iwslt14Options, lang: str) -> None:
    """Steps 2-4 of one pair: cleaned text, the training subset and its record, SentencePiece, binaries."""
    pair, data = f"{lang}-{iwslt14.TARGET}", options.pair_dir(lang)
    if (data / "raw" / "stats.json").is_file():
        log(f"{pair}: step 2 (cleaned text) done, skipping")
    else:
        log(f"{pair}: step 2: tokenising, cleaning, lowercasing, detokenising")
        remove(data / "raw", data / "subset", data / "spm", data / "bin", data / iwslt14.PREPARATION)
        iwslt14.write_pair_text(options.orig / f"{pair}.tgz", lang, data / "raw", options.workers)

    # Which training pairs, and the record that makes a rerun with other settings fail.
    selected = iwslt14.select_training(data, lang, options.train_pairs or None, options.subset_seed, options.vocab_size)
    train_dir = data / "raw"
    if options.train_pairs:
        train_dir = data / "subset"
        log(f"{pair}: training on {options.train_pairs} pairs drawn with seed {options.subset_seed} ({train_dir})")
    if selected == "written":
        remove(data / "spm", data / "bin")

    if (data / "spm" / "done").is_file():
        log(f"{pair}: step 3 (SentencePiece) done, skipping")
    else:
        log(f"{pair}: step 3: joint SentencePiece model ({options.vocab_size} pieces) and encoding")
        remove(data / "spm", data / "bin")
        texts = {}
        for side in (lang, iwslt14.TARGET):
            texts[f"train.{side}"] = train_dir / f"train.{side}"
            for split in ("valid", "test"):
                texts[f"{split}.{side}"] = data / "raw" / f"{split}.{side}"
        joint_sentencepiece(
            data / "spm",
            [train_dir / f"train.{lang}", train_dir / f"train.{iwslt14.TARGET}"],
            texts,
            options.vocab_size,
            character_coverage=IWSLT14_CHARACTER_COVERAGE,
            input_sentence_size=IWSLT14_SPM_SENTENCES,
        )

    if (data / "bin" / "done").is_file():
        log(f"{pair}: step 4 (binarising) done, skipping")
    else:
        log(f"{pair}: step 4: fairseq-preprocess with a joint dictionary")
        binarise(data, lang, iwslt14.TARGET, options.workers, f" for {pair}")

    corpus = iwslt14.pair_corpus(options.orig, lang) or "unrecorded"
    # What fairseq-preprocess binarised (the subset, with --train-pairs), then the cleaned corpus.
    binarised = ", ".join(
        f"{split} {count_lines(data / 'spm' / f'{split}.{iwslt14.TARGET}')}" for split in ("train", "valid", "test")
    )
    # stats.json counts the cleaned corpus, before any subset (issue 15).
    subset = f"; training on a subset of {options.train_pairs} of those pairs" if options.train_pairs else ""
    log(
        f"{pair}: ready in {data / 'bin'} (corpus {corpus}; binarised {binarised} pairs; "
        f"cleaned corpus {compact_stats(data / 'raw' / 'stats.json')}{subset})"
    )


def prepare_iwslt14(options: Iwslt14Options) -> None:
    """Every step for every language of ``options``; finished steps are skipped."""
    if options.force:
        for lang in options.langs:
            pair = f"{lang}-{iwslt14.TARGET}"
            remove(options.pair_dir(lang), options.orig / f"{pair}.tgz", iwslt14.source_file(options.orig, lang))
    iwslt14_unpack(options)
    for lang in options.langs:
        iwslt14_pair(options, lang)


# ---------------------------------------------------------------------------------------------
# WMT'17 en->de.


def prepare_wmt17(options: Wmt17Options) -> None:
    """Cleaned text, joint SentencePiece, binaries; finished steps are skipped."""
    data, src, tgt = options.data, wmt17.SRC, wmt17.TGT
    if options.force:
        remove(data)
    if (data / "raw" / "stats.json").is_file():
        log("step 1 (cleaned text) done, skipping")
    else:
        archive_dir = options.archive_dir
        if archive_dir is None:
            archive_dir = options.out / "downloads"
            log(f"step 1: downloading the corpora into {archive_dir}")
            wmt17.fetch(archive_dir)
        log(f"step 1: normalising and cleaning the corpora of {archive_dir} (long: about 6M pairs)")
        remove(data)
        stats = wmt17.prepare_raw(archive_dir, data / "raw", options.workers)
        print(wmt17.describe_sizes(stats, data / "raw"))

    if (data / "spm" / "done").is_file():
        log("step 2 (SentencePiece) done, skipping")
    else:
        log(f"step 2: joint SentencePiece model ({options.vocab_size} pieces) and encoding")
        remove(data / "spm", data / "bin")
        raw = data / "raw"
        texts = {
            f"{split}.{side}": raw / f"{split}.{side}" for split in ("train", "valid", "test") for side in (src, tgt)
        }
        joint_sentencepiece(
            data / "spm",
            [raw / f"train.{src}", raw / f"train.{tgt}"],
            texts,
            options.vocab_size,
            input_sentence_size=options.spm_sentences,
        )

    if (data / "bin" / "done").is_file():
        log("step 3 (binarising) done, skipping")
    else:
        log("step 3: fairseq-preprocess with a joint dictionary")
        binarise(data, src, tgt, options.workers, "")
    log(f"{src}-{tgt}: ready in {data / 'bin'} ({compact_stats(data / 'raw' / 'stats.json')})")


# ---------------------------------------------------------------------------------------------
# The command line.


_STEPS = """\
Finished steps are skipped on a second run; an interrupted step is redone."""


def _iwslt14_parser(sub: argparse._SubParsersAction, prog: Optional[str]) -> None:
    paper, small = (recipes.RECIPES[recipes.IWSLT_PRESETS[name]] for name in ("paper", "small"))
    p = sub.add_parser(
        "iwslt14",
        help="scripts/iwslt14/prepare.sh: IWSLT'14 xx->en pairs",
        prog=prog,
        usage='%(prog)s [--langs "SRC ..."] [--archive FILE] [--out DIR]\n'
        "    [--train-pairs N] [--subset-seed 1] [--preset {paper,small}]\n"
        "    [--vocab-size N] [--workers N] [--force]",
        description="""\
Prepares IWSLT'14 xx->en as the paper's authors did (docs/reproduction.md), for each source
language of --langs (any source language the archive holds, not only the paper's eight):
  OUT/orig/<src>-en.tgz            the pair's archive, taken out of the release 2014-01.tgz
  OUT/orig/<src>-en.source.json    which archive (sha256) and corpus it came from: the IWSLT
                                   release, or a known corpus in its layout that is not the
                                   paper's data (l10n-fr-sv: docs/reproduction.md)
  OUT/data/<src>-en/raw/           train/valid/test.{<src>,en}: Moses-tokenised, cleaned (ratio 1.5,
                                   1-175 tokens), lowercased, detokenised; valid = every 23rd
                                   training line; test = dev2010+dev2012+tst2010+tst2011+tst2012
  OUT/data/<src>-en/subset/        with --train-pairs: the training pairs kept
  OUT/data/<src>-en/preparation.json  the subset and vocabulary size this pair was prepared with
  OUT/data/<src>-en/spm/           joint SentencePiece model (--vocab-size pieces) and the encoded text
  OUT/data/<src>-en/bin/           fairseq-preprocess output with one joint dictionary
                                   (its output: OUT/data/<src>-en/preprocess.log)""",
        epilog=_STEPS
        + """  A pair prepared
with another --train-pairs, --subset-seed or --vocab-size, or taken from another --archive
(another sha256), is refused (use --force or another --out).""",
        formatter_class=ScriptFormatter if prog else argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,  # iwslt14_options holds the defaults
    )
    p.set_defaults(leaf=p, options=iwslt14_options, pipeline=prepare_iwslt14)
    p.add_argument(
        "--langs",
        metavar='"SRC ..."',
        help=f"source languages (default: the paper's eight, {' '.join(iwslt14.LANGS)})",
    )
    p.add_argument(
        "--archive",
        metavar="FILE",
        help="a local copy of 2014-01.tgz, or another archive in its layout (e.g. "
        "../shared/data/l10n-fr-sv/2014-01.tgz: real fr/sv->en, not the paper's data); without it the "
        "release is downloaded into OUT/downloads/ and checked (see docs/reproduction.md for the checksum)",
    )
    p.add_argument("--out", metavar="DIR", help=f"working folder (default: {IWSLT14_OUT})")
    p.add_argument(
        "--train-pairs",
        metavar="N",
        help="train on a random subset of N training pairs (valid and test unchanged), chosen before "
        "SentencePiece is trained, so the vocabulary is the subset's (default: 0, all)",
    )
    p.add_argument("--subset-seed", metavar="S", help="the subset's random seed (default: 1)")
    p.add_argument(
        "--preset",
        metavar="NAME",
        help=f"sets the --vocab-size default from the recipe table (fairseq_intradistill/recipes/__init__.py): "
        f"paper {paper.vocab_size}, small {small.vocab_size} (default: paper)",
    )
    p.add_argument(
        "--vocab-size",
        metavar="N",
        help=f"SentencePiece pieces per pair, {spm.MIN_VOCAB_SIZE} or more (default: the preset's)",
    )
    p.add_argument(
        "--workers", metavar="N", help="processes for tokenisation and fairseq-preprocess (default: up to 8 cores)"
    )
    p.add_argument("--force", action="store_true", help="redo every step for these languages")


def _wmt17_parser(sub: argparse._SubParsersAction, prog: Optional[str]) -> None:
    p = sub.add_parser(
        "wmt17",
        help="scripts/wmt17/prepare.sh: WMT'17 en->de",
        prog=prog,
        usage="%(prog)s [--archive-dir DIR] [--out DIR] [--vocab-size 32000]\n"
        "    [--spm-sentences 2000000] [--workers N] [--force]",
        description="""\
Prepares WMT'17 en->de for the authors' development command (docs/reproduction.md):
  OUT/data/en-de/raw/   train/valid/test.{en,de}: Europarl v7 + Common Crawl + News Commentary
                        v12 + Rapid 2016, punctuation-normalised, pairs with a side outside
                        1-250 Moses tokens or a length ratio over 1.5 dropped (about 4.5M pairs
                        kept); valid = newstest2016, test = newstest2017 (raw references)
  OUT/data/en-de/spm/   joint SentencePiece model (--vocab-size pieces) and the encoded text
  OUT/data/en-de/bin/   fairseq-preprocess output, one joint dictionary (embeddings not shared;
                        its output: OUT/data/en-de/preprocess.log)""",
        epilog=_STEPS,
        formatter_class=ScriptFormatter if prog else argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,  # wmt17_options holds the defaults
    )
    p.set_defaults(leaf=p, options=wmt17_options, pipeline=prepare_wmt17)
    p.add_argument(
        "--archive-dir",
        metavar="DIR",
        help="the downloaded files (names in docs/reproduction.md); without it they are downloaded into OUT/downloads/",
    )
    p.add_argument("--out", metavar="DIR", help=f"working folder (default: {WMT17_OUT})")
    p.add_argument(
        "--vocab-size",
        metavar="N",
        help=f"SentencePiece pieces (default: the recipe's, {recipes.RECIPES['wmt17'].vocab_size})",
    )
    p.add_argument(
        "--spm-sentences",
        metavar="N",
        help=f"sentences sampled to train SentencePiece (default: {WMT17_SPM_SENTENCES})",
    )
    p.add_argument("--workers", metavar="N", help="processes for Moses and fairseq-preprocess (default: up to 8 cores)")
    p.add_argument("--force", action="store_true", help="redo every step")


def main(argv: Optional[Sequence[str]] = None) -> None:
    prog, argv = split_prog(list(sys.argv[1:] if argv is None else argv))
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.data.prepare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--prog", metavar="NAME", help="(first) the name of the calling script, in its usage and error messages"
    )
    sub = parser.add_subparsers(dest="recipe", required=True)
    _iwslt14_parser(sub, prog)
    _wmt17_parser(sub, prog)
    args, unknown = parser.parse_known_args(argv)
    leaf = args.leaf
    if unknown:
        leaf.error(f"unknown option '{unknown[0]}' (see --help)")
    given = {k: v for k, v in vars(args).items() if k not in ("prog", "recipe", "leaf", "options", "pipeline")}
    try:
        options = args.options(**given)
    except ValueError as e:
        leaf.error(str(e))
    try:
        args.pipeline(options)
    except (ArchiveError, StepError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from e
    except KeyboardInterrupt as e:  # the finished steps stay finished; the interrupted one is redone
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from e


if __name__ == "__main__":
    main()
