"""WMT'17 en→de: the training corpora, newstest2016 (valid) and newstest2017 (test).

    python -m fairseq_intradistill.data.wmt17 fetch --archive-dir DIR
    python -m fairseq_intradistill.data.wmt17 raw --archive-dir DIR --out RAW [--workers N]
    python -m fairseq_intradistill.data.wmt17 compound-bleu --hypotheses H --reference R --out J

``raw`` reads the archives of :data:`FILES` from DIR (as downloaded, names unchanged) and
writes ``RAW/{train,valid,test}.{en,de}``.  Training pairs (Europarl v7, Common Crawl, News
Commentary v12, Rapid 2016) are punctuation-normalised and stripped of non-printing
characters (Moses), Moses-tokenised only to measure them, and dropped when a side has
fewer than 1 or more than 250 tokens or one side is over 1.5 times longer than the other;
the kept pairs stay untokenised (SentencePiece works on raw text and BLEU is detokenised).
valid/test: the ``<seg>`` text of the SGML files; the English source is normalised like the
training data, the German reference is kept as it is (sacreBLEU scores against it).

``compound-bleu`` is the tokenised, compound-split BLEU of older papers (tensor2tensor's
``get_ende_bleu.sh``): Moses-tokenise both sides, split hyphenated compounds into
``a ##AT##-##AT## b``, BLEU on those tokens.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from fairseq_intradistill.data import moses
from fairseq_intradistill.data.archives import (
    ArchiveError,
    decode,
    download,
    find_member,
    member_names,
    open_tar,
    read_member,
)
from fairseq_intradistill.textio import read_lines

SRC, TGT = "en", "de"


@dataclass(frozen=True)
class Source:
    archive: str  # file name in --archive-dir
    url: str
    md5: Optional[str]  # known checksum, else None (then only the archive's integrity is checked)


FILES: Dict[str, Source] = {
    "europarl": Source(
        "training-parallel-europarl-v7.tgz", "https://www.statmt.org/wmt13/training-parallel-europarl-v7.tgz", None
    ),
    "commoncrawl": Source(
        "training-parallel-commoncrawl.tgz", "https://www.statmt.org/wmt13/training-parallel-commoncrawl.tgz", None
    ),
    "news-commentary": Source(
        "training-parallel-nc-v12.tgz",
        "https://data.statmt.org/wmt17/translation-task/training-parallel-nc-v12.tgz",
        None,
    ),
    "rapid": Source("rapid2016.tgz", "https://data.statmt.org/wmt17/translation-task/rapid2016.tgz", None),
    # The two test archives and their md5 as sacreBLEU's dataset registry lists them
    # (wmt16 and wmt17); both are called test.tgz upstream, so they are saved under these names.
    "newstest2016": Source(
        "wmt16-test.tgz", "https://data.statmt.org/wmt16/translation-task/test.tgz", "3d809cd0c2c86adb2c67034d15c4e446"
    ),
    "newstest2017": Source(
        "wmt17-test.tgz", "https://data.statmt.org/wmt17/translation-task/test.tgz", "86a1724c276004aa25455ae2a04cef26"
    ),
}
# Member base names of the parallel text: <prefix>.de / <prefix>.en.
TRAIN_PREFIXES: Dict[str, str] = {
    "europarl": "europarl-v7.de-en",
    "commoncrawl": "commoncrawl.de-en",
    "news-commentary": "news-commentary-v12.de-en",
    "rapid": "rapid2016.de-en",
}
# (source SGML, reference SGML) base names; also accepted as plain files in --archive-dir.
EVAL_SETS: Dict[str, Tuple[str, str]] = {
    "valid": ("newstest2016-ende-src.en.sgm", "newstest2016-ende-ref.de.sgm"),
    "test": ("newstest2017-ende-src.en.sgm", "newstest2017-ende-ref.de.sgm"),
}
EVAL_ARCHIVE = {"valid": "newstest2016", "test": "newstest2017"}
MAX_TOKENS = 250
RATIO = 1.5
MANUAL_HINT = (
    "Download the files by hand (URLs in docs/reproduction.md) into one folder, names unchanged "
    "except test.tgz of WMT16/WMT17 saved as wmt16-test.tgz/wmt17-test.tgz, and pass --archive-dir."
)

_SEG = re.compile(r"<seg[^>]*>(.*)</seg>")


def sgm_lines(lines: Sequence[str]) -> List[str]:
    """The text of the ``<seg ...>`` lines of a WMT SGML file, stripped, as sacreBLEU reads them."""
    return [m.group(1).strip() for m in (_SEG.search(line) for line in lines) if m]


def missing_files(archive_dir: Path) -> List[str]:
    """The archives of :data:`FILES` absent from ``archive_dir`` (plain SGML files stand in for test archives)."""
    missing = []
    for key, source in FILES.items():
        if (archive_dir / source.archive).is_file():
            continue
        split = next((s for s, k in EVAL_ARCHIVE.items() if k == key), None)
        if split and all((archive_dir / name).is_file() for name in EVAL_SETS[split]):
            continue
        missing.append(source.archive)
    return missing


def fetch(archive_dir: Path) -> None:
    """Download every missing file of :data:`FILES` into ``archive_dir`` and check it."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    for source in FILES.values():
        target = archive_dir / source.archive
        if target.is_file():
            continue
        print(f"downloading {source.url} -> {target}", file=sys.stderr)
        download([source.url], target, md5=source.md5, manual_hint=MANUAL_HINT)


def _parallel(archive: Path, prefix: str) -> Dict[str, List[str]]:
    tar = open_tar(archive, str(archive))
    try:
        names = member_names(tar, str(archive))
        sides = {}
        for lang in (SRC, TGT):
            member = find_member(names, f"{prefix}.{lang}")
            if member is None:
                raise ArchiveError(f"{archive}: missing {prefix}.{lang}")
            sides[lang] = decode(read_member(tar, member, str(archive)), f"{archive}:{member}")
            if not sides[lang]:
                raise ArchiveError(f"{archive}: {member} is empty (empty split)")
    finally:
        tar.close()
    if len(sides[SRC]) != len(sides[TGT]):
        raise ArchiveError(
            f"{archive}: {prefix}.{SRC} and {prefix}.{TGT} are not aligned "
            f"({len(sides[SRC])} and {len(sides[TGT])} lines)"
        )
    return sides


def _eval_file(archive_dir: Path, split: str, basename: str) -> List[str]:
    plain = archive_dir / basename
    if plain.is_file():
        name, lines = str(plain), decode(plain.read_bytes(), str(plain))
    else:
        archive = archive_dir / FILES[EVAL_ARCHIVE[split]].archive
        tar = open_tar(archive, str(archive))
        try:
            member = find_member(member_names(tar, str(archive)), basename)
            if member is None:
                raise ArchiveError(f"{archive}: missing {basename}")
            name, lines = f"{archive}:{member}", decode(read_member(tar, member, str(archive)), f"{archive}:{member}")
        finally:
            tar.close()
    segs = sgm_lines(lines)
    if not segs:
        raise ArchiveError(f"{name}: no <seg> line (empty split)")
    return segs


def clean_corpus(sides: Dict[str, List[str]], workers: int) -> Tuple[Dict[str, List[str]], int]:
    """Normalised pairs that pass the length filters, and how many were dropped."""
    normalised = {lang: moses.normalize_lines(sides[lang], lang, workers) for lang in (SRC, TGT)}
    tokens = {lang: moses.tokenize_lines(normalised[lang], lang, workers) for lang in (SRC, TGT)}
    keep = moses.clean_mask(tokens[SRC], tokens[TGT], ratio=RATIO, min_len=1, max_len=MAX_TOKENS)
    kept = {lang: [moses.collapse_spaces(x) for x in moses.filter_lines(normalised[lang], keep)] for lang in (SRC, TGT)}
    return kept, len(keep) - sum(keep)


def prepare_raw(archive_dir: Path, out: Path, workers: int = 1) -> Dict[str, int]:
    """Write ``out/{train,valid,test}.{en,de}`` and ``out/stats.json`` (last); return the sizes."""
    archive_dir, out = Path(archive_dir), Path(out)
    missing = missing_files(archive_dir)
    if missing:
        raise ArchiveError(f"{archive_dir}: missing {', '.join(missing)}. {MANUAL_HINT}")
    # Read the small evaluation sets first, so that a broken one fails before hours of cleaning.
    evaluation = {}
    for split, (src_name, ref_name) in EVAL_SETS.items():
        src, ref = _eval_file(archive_dir, split, src_name), _eval_file(archive_dir, split, ref_name)
        if len(src) != len(ref):
            raise ArchiveError(f"{archive_dir}: {src_name} and {ref_name} have {len(src)} and {len(ref)} segments")
        evaluation[split] = {SRC: moses.normalize_lines(src, SRC), TGT: ref}
    out.mkdir(parents=True, exist_ok=True)
    stats: Dict[str, int] = {}
    tmp = {lang: out / f"train.{lang}.tmp" for lang in (SRC, TGT)}
    handles = {lang: open(tmp[lang], "w", encoding="utf-8") for lang in (SRC, TGT)}
    try:
        for key, prefix in TRAIN_PREFIXES.items():
            archive = archive_dir / FILES[key].archive
            print(f"{key}: reading {archive}", file=sys.stderr, flush=True)
            kept, dropped = clean_corpus(_parallel(archive, prefix), workers)
            for lang in (SRC, TGT):
                handles[lang].writelines(line + "\n" for line in kept[lang])
            stats[f"train.{key}"] = len(kept[SRC])
            print(f"{key}: {len(kept[SRC]):,} pairs kept, {dropped:,} dropped", file=sys.stderr, flush=True)
    finally:
        for handle in handles.values():
            handle.close()
    stats["train"] = sum(v for k, v in stats.items() if k.startswith("train."))
    if stats["train"] == 0:
        raise ArchiveError(f"{archive_dir}: no training pair left after cleaning (empty split)")
    for lang in (SRC, TGT):
        tmp[lang].replace(out / f"train.{lang}")
    for split, sides in evaluation.items():
        for lang, lines in sides.items():
            (out / f"{split}.{lang}").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
        stats[split] = len(sides[SRC])
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def describe_sizes(stats: Dict[str, int], out: Path) -> str:
    """One line of what :func:`prepare_raw` wrote."""
    return f"{SRC}-{TGT}: train {stats['train']:,}, valid {stats['valid']:,}, test {stats['test']:,} pairs in {out}"


def compound_split(line: str) -> str:
    """``a-b`` → ``a ##AT##-##AT## b`` (tensor2tensor's ``s{(\\S)-(\\S)}{$1 ##AT##-##AT## $2}g``)."""
    return re.sub(r"(\S)-(\S)", r"\1 ##AT##-##AT## \2", line)


def compound_bleu(hypotheses: Sequence[str], references: Sequence[str], lang: str = TGT) -> dict:
    """Tokenised compound-split BLEU (multi-bleu style: no further tokenisation, case-sensitive)."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    hyp = [compound_split(x) for x in moses.tokenize_lines(hypotheses, lang)]
    ref = [compound_split(x) for x in moses.tokenize_lines(references, lang)]
    bleu = sacrebleu.BLEU(tokenize="none", force=True)
    result = bleu.corpus_score(hyp, [ref])
    return {
        "bleu": round(result.score, 2),
        "signature": str(bleu.get_signature()) + "|moses-tok+compound-split",
        "score_string": str(result),
        "num_sentences": len(hyp),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.data.wmt17",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fetch", help="download the missing files")
    p.add_argument("--archive-dir", type=Path, required=True)
    p = sub.add_parser("raw", help="cleaned train/valid/test text")
    p.add_argument("--archive-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--workers", type=int, default=0, help="processes for Moses (0: up to 8 cores)")
    p = sub.add_parser("compound-bleu", help="tokenised compound-split BLEU")
    p.add_argument("--hypotheses", type=Path, required=True)
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            fetch(args.archive_dir)
        elif args.command == "raw":
            stats = prepare_raw(args.archive_dir, args.out, moses.default_workers(args.workers))
            print(describe_sizes(stats, args.out))
        else:
            for flag, path in (("--hypotheses", args.hypotheses), ("--reference", args.reference)):
                if not path.is_file():
                    raise ValueError(f"{flag} {path} does not exist")
            result = compound_bleu(read_lines(args.hypotheses), read_lines(args.reference))
            args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
            print(f"tokenised compound-split {result['score_string']}")
    except (ArchiveError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from e


if __name__ == "__main__":
    main()
