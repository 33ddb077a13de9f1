"""IWSLT'14 xx→en from the IWSLT 2014 release (``2014-01.tgz``), processed as the authors did.

    python -m fairseq_intradistill.data.iwslt14 fetch --target DIR/2014-01.tgz [--sha256 HEX]
    python -m fairseq_intradistill.data.iwslt14 unpack --archive 2014-01.tgz --langs "de nl" --out DIR
    python -m fairseq_intradistill.data.iwslt14 raw --pair-archive DIR/de-en.tgz --lang de --out RAW
    python -m fairseq_intradistill.data.iwslt14 select --pair-dir DIR/data/de-en --lang de \
        --train-pairs 8000 --subset-seed 1 --vocab-size 4000
    python -m fairseq_intradistill.data.iwslt14 corpus --orig DIR --langs "de nl" [--archive 2014-01.tgz]
    python -m fairseq_intradistill.data.iwslt14 langs

``langs`` prints the paper's eight source languages, space-separated: run_all.sh's default
``--langs`` (prepare.sh's is :data:`LANGS` itself), so that the list lives in one place
(:data:`~fairseq_intradistill.data.corpora.PAPER_IWSLT14_LANGS`).  scripts/iwslt14/prepare.sh
runs these steps in order, in one process: :mod:`fairseq_intradistill.data.prepare`.

``unpack`` pulls ``2014-01/texts/<src>/en/<src>-en.tgz`` for every requested language out of
the release in one pass, each with ``<src>-en.source.json`` beside it: the release it came from,
its sha256 and the corpus that sha256 names (:mod:`~fairseq_intradistill.data.corpora`: the
IWSLT 2014 release, or a known corpus in its layout that is not the paper's data).  ``corpus``
prints each pair's recorded corpus, one line per language (empty for a pair unpacked before
the record existed) and, given ``--archive``, refuses a pair taken from another archive.
``raw`` turns one pair's archive into ``RAW/{train,valid,test}.{src,en}``:

- train: the ``train.tags.<src>-en.*`` files without the ``<url>``, ``<talkid>``, ``<keywords>``
  lines and with the ``<title>``/``<description>`` tags stripped; Moses-tokenised; pairs
  with a length ratio over 1.5 or a length outside 1-175 tokens dropped; lowercased;
  Moses-detokenised.  Every 23rd line becomes the validation set.
- test: dev2010 + dev2012 + tst2010 + tst2011 + tst2012, the text of the ``<seg id=...>``
  lines, typographic apostrophes made ASCII, lowercased (no tokenisation).

``select`` records how a pair is prepared (``preparation.json``: the training subset and the
vocabulary size) and, with ``--train-pairs N``, writes a seeded random subset of N training
pairs to ``subset/`` (valid and test unchanged), before SentencePiece is trained on it.  A
pair folder prepared with other settings is refused, so that one never silently reuses it.

A missing language or file, a truncated archive or an empty split raises
:class:`~fairseq_intradistill.data.archives.ArchiveError` naming the file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from fairseq_intradistill.data import corpora, moses
from fairseq_intradistill.data.archives import (
    _READ_ERRORS,
    ArchiveError,
    decode,
    download,
    file_hash,
    find_member,
    member_names,
    open_tar,
    read_member,
    read_to_end,
    verify_archive,
)
from fairseq_intradistill.textio import read_lines

# The paper's eight, the scripts' default; any other source language of the archive works too.
LANGS = corpora.PAPER_IWSLT14_LANGS
TARGET = "en"
ARCHIVE_NAME = "2014-01.tgz"
# The release as the authors fetched it (Google Drive copy of the WIT3 archive).
ARCHIVE_URLS = (
    "https://drive.usercontent.google.com/download?id=1GnBarJIbNgEIIDvUyKDtLmv35Qcxg6Ed&export=download&confirm=t",
    "https://drive.google.com/uc?id=1GnBarJIbNgEIIDvUyKDtLmv35Qcxg6Ed&export=download&confirm=t",
)
# Not known to us: we could not fetch the release to compute it.  Until it is filled in, a
# download is checked to be a complete tar.gz and its sha256 is recorded beside it
# (2014-01.tgz.sha256) so that later runs and other machines can compare.
ARCHIVE_SHA256: Optional[str] = None
MANUAL_HINT = (
    "Get the IWSLT 2014 release by hand from https://wit3.fbk.eu/2014-01 (the 'texts' archive, "
    "2014-01.tgz; Google Drive id 1GnBarJIbNgEIIDvUyKDtLmv35Qcxg6Ed, e.g. `gdown 1GnBarJIbNgEIIDvUyKDtLmv35Qcxg6Ed`) "
    "and pass it with --archive FILE."
)
TEST_SETS = (
    "IWSLT14.TED.dev2010",
    "IWSLT14.TEDX.dev2012",
    "IWSLT14.TED.tst2010",
    "IWSLT14.TED.tst2011",
    "IWSLT14.TED.tst2012",
)
VALID_EVERY = 23
# Sizes the paper reports, to warn when a preparation differs.
EXPECTED_SIZES: Dict[str, Dict[str, int]] = {"de": {"train": 160239, "valid": 7283}}

_DROP = ("<url>", "<talkid>", "<keywords>")
_STRIP = re.compile(r"</?(title|description)>")
_SEG_OPEN = re.compile(r'<seg id="[0-9]*">\s*')
_SEG_CLOSE = re.compile(r"\s*</seg>\s*")


def pair_member(lang: str) -> str:
    """Where a pair's archive sits inside the release."""
    return f"2014-01/texts/{lang}/{TARGET}/{lang}-{TARGET}.tgz"


def check_langs(langs: Sequence[str]) -> List[str]:
    langs = list(dict.fromkeys(langs))
    if not langs:
        raise ValueError("no language given")
    unknown = [lang for lang in langs if not re.fullmatch(r"[a-z]{2}(-[a-z]{2})?", lang)]
    if unknown:
        raise ValueError(f"not a language code: {', '.join(unknown)}")
    return langs


def unpack(archive: Path, langs: Sequence[str], out: Path) -> Dict[str, Path]:
    """Copy ``<src>-en.tgz`` of every language out of the release into ``out``; return their paths.

    Reads the release once, to its end, so that a truncated download is noticed even when
    the wanted members come before the cut.
    """
    archive = Path(archive)
    wanted = {pair_member(lang): lang for lang in langs}
    found: Dict[str, Path] = {}
    out.mkdir(parents=True, exist_ok=True)
    tar = open_tar(archive, str(archive))
    try:
        source = source_record(archive)
        for member in _stream(tar, archive):
            lang = wanted.get(member.name.lstrip("./"))
            if lang is None or not member.isfile():
                continue
            data = read_member(tar, member, str(archive))
            target = out / f"{lang}-{TARGET}.tgz"
            # Before the pair's archive, whose presence marks the step done: a pair archive never
            # lacks its record of which corpus it is.
            source_file(out, lang).write_text(json.dumps(source, indent=2) + "\n")
            part = target.with_name(target.name + ".part")
            part.write_bytes(data)
            part.replace(target)
            found[lang] = target
        read_to_end(tar, str(archive))
    finally:
        tar.close()
    missing = [lang for lang in langs if lang not in found]
    if missing:
        raise ArchiveError(
            f"{archive}: no {', '.join(pair_member(lang) for lang in missing)} "
            f"(language{'s' if len(missing) > 1 else ''} {' '.join(missing)} not in this release?)"
        )
    return found


def source_file(orig: Path, lang: str) -> Path:
    """Where :func:`unpack` records which release (and corpus) a pair's archive came from."""
    return Path(orig) / f"{lang}-{TARGET}.source.json"


def source_record(archive: Path) -> Dict[str, str]:
    """The release a pair is unpacked from: its path, sha256 and the corpus that sha256 names."""
    digest = file_hash(archive)
    return {"release": str(Path(archive).resolve()), "release_sha256": digest, "corpus": corpora.identify(digest)}


def pair_corpus(orig: Path, lang: str, release: Optional[Dict[str, str]] = None) -> Optional[str]:
    """The recorded corpus of ``orig/<lang>-en.tgz`` (None: unpacked before records existed).

    With ``release`` (a :func:`source_record`), raises ValueError when the pair was taken from
    an archive with another sha256 (say, the IWSLT release's fr-en where another corpus's fr-en
    is asked for), so that a skipped step 1 never silently reuses another corpus.
    """
    record = source_file(orig, lang)
    if not record.is_file():
        return None
    try:
        source = json.loads(record.read_text())
        corpus, digest = str(source["corpus"]), str(source["release_sha256"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{record}: not a valid source record ({e}); prepare again with --force") from e
    if release is not None and release["release_sha256"] != digest:
        raise ValueError(
            f"{Path(orig) / f'{lang}-{TARGET}.tgz'} was taken from {source.get('release')} "
            f"(corpus {corpus}, sha256 {digest[:12]}...), not from {release['release']} (corpus "
            f"{release['corpus']}, sha256 {release['release_sha256'][:12]}...): give --force to prepare it "
            "again, or another --out"
        )
    return corpus


def _stream(tar, archive: Path):
    try:
        yield from tar
    except _READ_ERRORS as e:
        raise ArchiveError(f"{archive}: corrupt or truncated archive ({e})") from e


def train_lines(lines: Sequence[str]) -> List[str]:
    """The text lines of a ``train.tags`` file: metadata lines dropped, title/description tags stripped."""
    return [_STRIP.sub("", line) for line in lines if not any(tag in line for tag in _DROP)]


def seg_lines(lines: Sequence[str]) -> List[str]:
    """The lowercased text of the ``<seg id=...>`` lines of an IWSLT XML file."""
    out = []
    for line in lines:
        if "<seg id" not in line:
            continue
        text = _SEG_CLOSE.sub("", _SEG_OPEN.sub("", line)).replace("\u2019", "'")
        out.append(text.lower())
    return out


def split_valid(lines: Sequence[str], every: int = VALID_EVERY) -> Tuple[List[str], List[str]]:
    """(train, valid): line numbers (1-based) divisible by ``every`` go to valid."""
    train = [line for i, line in enumerate(lines, start=1) if i % every]
    valid = [line for i, line in enumerate(lines, start=1) if i % every == 0]
    return train, valid


def _pair_file(tar, names: Sequence[str], archive: Path, basename: str) -> List[str]:
    member = find_member(names, basename)
    if member is None:
        raise ArchiveError(f"{archive}: missing {basename}")
    return decode(read_member(tar, member, str(archive)), f"{archive}:{member}")


def process_pair(pair_archive: Path, lang: str, workers: int = 1) -> Dict[str, Dict[str, List[str]]]:
    """``{split: {lang: lines}}`` for train, valid and test of one pair's archive."""
    pair_archive = Path(pair_archive)
    pair = f"{lang}-{TARGET}"
    tar = open_tar(pair_archive, str(pair_archive))
    try:
        names = member_names(tar, str(pair_archive))
        raw: Dict[str, List[str]] = {}
        for side in (lang, TARGET):
            basename = f"train.tags.{pair}.{side}"
            raw[side] = train_lines(_pair_file(tar, names, pair_archive, basename))
            if not any(line.strip() for line in raw[side]):
                raise ArchiveError(f"{pair_archive}: {basename} holds no training sentence (empty split)")
        if len(raw[lang]) != len(raw[TARGET]):
            raise ArchiveError(
                f"{pair_archive}: train.tags.{pair}.{lang} and .{TARGET} are not aligned "
                f"({len(raw[lang])} and {len(raw[TARGET])} text lines)"
            )
        test: Dict[str, List[str]] = {lang: [], TARGET: []}
        for name in TEST_SETS:
            per_side = {}
            for side in (lang, TARGET):
                basename = f"{name}.{pair}.{side}.xml"
                per_side[side] = seg_lines(_pair_file(tar, names, pair_archive, basename))
                if not per_side[side]:
                    raise ArchiveError(f"{pair_archive}: {basename} holds no <seg> line (empty split)")
            if len(per_side[lang]) != len(per_side[TARGET]):
                raise ArchiveError(
                    f"{pair_archive}: {name}.{pair}.{lang}.xml and .{TARGET}.xml have different numbers "
                    f"of segments ({len(per_side[lang])} and {len(per_side[TARGET])})"
                )
            for side in (lang, TARGET):
                test[side] += per_side[side]
    finally:
        tar.close()

    tokens = {side: moses.tokenize_lines(raw[side], side, workers) for side in (lang, TARGET)}
    keep = moses.clean_mask(tokens[lang], tokens[TARGET], ratio=1.5, min_len=1, max_len=175)
    cleaned = {
        side: moses.detokenize_lines(
            [moses.collapse_spaces(line).lower() for line in moses.filter_lines(tokens[side], keep)], side, workers
        )
        for side in (lang, TARGET)
    }
    splits: Dict[str, Dict[str, List[str]]] = {"train": {}, "valid": {}, "test": test}
    for side in (lang, TARGET):
        splits["train"][side], splits["valid"][side] = split_valid(cleaned[side])
    for split in ("train", "valid"):
        if not splits[split][lang]:
            raise ArchiveError(
                f"{pair_archive}: train.tags.{pair}.* leave no {split} sentence after cleaning (empty split)"
            )
    return splits


def write_raw(splits: Dict[str, Dict[str, List[str]]], out: Path) -> Dict[str, int]:
    """Write ``out/{split}.{lang}`` (each through a temporary file) and ``out/stats.json`` last."""
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for split, sides in splits.items():
        for side, lines in sides.items():
            target = out / f"{split}.{side}"
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            tmp.replace(target)
        sizes[split] = len(next(iter(sides.values())))
    # Written last: its presence marks a finished step.
    (out / "stats.json").write_text(json.dumps(sizes, indent=2) + "\n")
    return sizes


def write_pair_text(pair_archive: Path, lang: str, out: Path, workers: int = 1) -> Dict[str, int]:
    """The ``raw`` step: :func:`process_pair` written by :func:`write_raw`; return the sizes.

    Prints them, and a note on stderr for each split whose size differs from the paper's.
    """
    sizes = write_raw(process_pair(pair_archive, lang, workers), Path(out))
    print(f"{lang}-{TARGET}: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()) + f" pairs in {out}")
    for split, n in EXPECTED_SIZES.get(lang, {}).items():
        if sizes[split] != n:
            print(f"note: the paper's {split} set has {n:,} pairs, this one {sizes[split]:,}", file=sys.stderr)
    return sizes


PREPARATION = "preparation.json"


class PreparationMismatch(ValueError):
    """A pair folder was prepared with other settings than the ones asked for now."""


def subset_indices(total: int, train_pairs: int, seed: int) -> List[int]:
    """``train_pairs`` distinct line numbers (0-based, in corpus order) out of ``total``, drawn with ``seed``."""
    if train_pairs < 1:
        raise ValueError(f"--train-pairs must be a positive integer (got {train_pairs})")
    if train_pairs > total:
        raise ValueError(f"--train-pairs {train_pairs} is more than the {total} training pairs there are")
    return sorted(random.Random(seed).sample(range(total), train_pairs))


def preparation_settings(train_pairs: Optional[int], seed: int, vocab_size: int) -> Dict[str, Optional[int]]:
    """What ``preparation.json`` records: the seed only matters for a subset."""
    return {"train_pairs": train_pairs, "subset_seed": seed if train_pairs else None, "vocab_size": vocab_size}


def _describe(settings: Dict[str, Optional[int]]) -> str:
    pairs = settings.get("train_pairs")
    subset = f"--train-pairs {pairs} --subset-seed {settings.get('subset_seed')}" if pairs else "all training pairs"
    return f"{subset}, --vocab-size {settings.get('vocab_size')}"


def select_training(pair_dir: Path, lang: str, train_pairs: Optional[int], seed: int, vocab_size: int) -> str:
    """Record the pair's preparation settings; with ``train_pairs``, write the subset.

    Returns "kept" when ``pair_dir`` was already prepared with these settings, "written"
    otherwise (the caller then redoes SentencePiece and binarising).  Raises
    :class:`PreparationMismatch` when it was prepared with other settings.  A folder from
    before these records (SentencePiece done, no record) counts as all pairs, its vocabulary
    size unchecked.
    """
    pair_dir = Path(pair_dir)
    raw = pair_dir / "raw"
    if not (raw / "stats.json").is_file():
        raise ValueError(f"{raw}: no cleaned text (stats.json); run the raw step first")
    wanted = preparation_settings(train_pairs, seed, vocab_size)
    record = pair_dir / PREPARATION
    if record.is_file():
        found = json.loads(record.read_text())
    elif (pair_dir / "spm" / "done").is_file():
        # Prepared before this record existed: all pairs; its vocabulary size is not known.
        found = {**wanted, "train_pairs": None, "subset_seed": None}
        if found == wanted:
            record.write_text(json.dumps(wanted, indent=2) + "\n")
    else:
        found = None
    if found is not None:
        if found == wanted:
            return "kept"
        raise PreparationMismatch(
            f"{pair_dir} was prepared with {_describe(found)}, not {_describe(wanted)}: "
            "give --force to prepare it again, or another --out"
        )
    subset = pair_dir / "subset"
    if train_pairs:
        lines = {side: read_lines(raw / f"train.{side}") for side in (lang, TARGET)}  # \n only: pairs stay aligned
        if len(lines[lang]) != len(lines[TARGET]):
            raise ValueError(
                f"{raw}: train.{lang} and train.{TARGET} are not aligned "
                f"({len(lines[lang])} and {len(lines[TARGET])} lines)"
            )
        keep = subset_indices(len(lines[lang]), train_pairs, seed)
        subset.mkdir(parents=True, exist_ok=True)
        for side in (lang, TARGET):
            target = subset / f"train.{side}"
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text("".join(lines[side][i] + "\n" for i in keep), encoding="utf-8")
            tmp.replace(target)
    elif subset.exists():
        for stale in subset.iterdir():
            stale.unlink()
        subset.rmdir()
    # Written last: its presence marks a finished step.
    record.write_text(json.dumps(wanted, indent=2) + "\n")
    return "written"


def fetch(target: Path, sha256: Optional[str] = None) -> str:
    """Make sure ``target`` holds a verified release; download it when absent.  Return its sha256.

    The checksum is checked against ``sha256``, else :data:`ARCHIVE_SHA256`, else the one
    recorded beside the file by an earlier download (``target.sha256``).
    """
    target = Path(target)
    record = target.with_name(target.name + ".sha256")
    expected = sha256 or ARCHIVE_SHA256 or (record.read_text().split()[0] if record.is_file() else None)
    if target.is_file():
        digest = verify_archive(target, expected)
    else:
        print(f"downloading the IWSLT 2014 release into {target}", file=sys.stderr)
        digest = download(ARCHIVE_URLS, target, expected, MANUAL_HINT)
    if not record.is_file():
        record.write_text(f"{digest}  {target.name}\n")
    if not (sha256 or ARCHIVE_SHA256):
        print(
            f"note: no published sha256 for {ARCHIVE_NAME}; verified as a complete archive, "
            f"sha256 {digest} recorded in {record}",
            file=sys.stderr,
        )
    return digest


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.data.iwslt14",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fetch", help="download (or check) the release")
    p.add_argument("--target", type=Path, required=True)
    p.add_argument("--sha256", default=os.environ.get("IWSLT14_SHA256"), help="expected checksum (env IWSLT14_SHA256)")
    p = sub.add_parser("unpack", help="copy the pairs' archives out of the release")
    p.add_argument("--archive", type=Path, required=True)
    p.add_argument("--langs", required=True, help='source languages, e.g. "de nl"')
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("raw", help="one pair's train/valid/test text")
    p.add_argument("--pair-archive", type=Path, required=True)
    p.add_argument("--lang", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--workers", type=int, default=0, help="processes for Moses (0: up to 8 cores)")
    p = sub.add_parser("select", help="record the preparation settings; write a training subset")
    p.add_argument("--pair-dir", type=Path, required=True, help="OUT/data/<src>-en (with raw/ made)")
    p.add_argument("--lang", required=True)
    p.add_argument("--train-pairs", type=int, default=0, help="a random subset of this many pairs (0: all)")
    p.add_argument("--subset-seed", type=int, default=1)
    p.add_argument("--vocab-size", type=int, required=True)
    p = sub.add_parser("corpus", help="print the recorded corpus of unpacked pairs, one line each")
    p.add_argument("--orig", type=Path, required=True, help="OUT/orig (where unpack wrote the pairs)")
    p.add_argument("--langs", required=True, help='source languages, e.g. "fr sv"')
    p.add_argument("--archive", type=Path, help="fail if a pair was taken from another archive than this one")
    sub.add_parser("langs", help="print the paper's source languages (the scripts' default --langs)")
    args = parser.parse_args(argv)
    try:
        if args.command == "langs":
            print(" ".join(LANGS))
        elif args.command == "fetch":
            fetch(args.target, args.sha256)
        elif args.command == "unpack":
            langs = check_langs(args.langs.split())
            for lang, path in unpack(args.archive, langs, args.out).items():
                print(f"{lang}: {path}")
        elif args.command == "select":
            lang = check_langs([args.lang])[0]
            if args.train_pairs < 0:
                parser.error(f"--train-pairs must be a positive integer, or 0 for all (got {args.train_pairs})")
            state = select_training(args.pair_dir, lang, args.train_pairs or None, args.subset_seed, args.vocab_size)
            print(state)
        elif args.command == "corpus":
            if args.archive and not args.archive.is_file():
                parser.error(f"--archive {args.archive} does not exist")
            # Hashed once for all languages: the release can be large.
            release = source_record(args.archive) if args.archive else None
            for lang in check_langs(args.langs.split()):
                # An empty name: unpacked before the record existed (treated as the IWSLT release).
                print(pair_corpus(args.orig, lang, release) or "")
        else:
            lang = check_langs([args.lang])[0]
            write_pair_text(args.pair_archive, lang, args.out, moses.default_workers(args.workers))
    except (ArchiveError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from e


if __name__ == "__main__":
    main()
