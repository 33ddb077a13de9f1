"""Joint SentencePiece models: train one on several files, encode text with it.

python -m fairseq_intradistill.data.spm train --inputs A B --model-prefix P --vocab-size N
python -m fairseq_intradistill.data.spm encode --model P.model --input IN --output OUT
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path
from typing import Iterator, List, Sequence

import sentencepiece as spm
from tqdm import tqdm

from fairseq_intradistill.textio import iter_lines

# The smallest --vocab-size taken: SentencePiece needs room for its meta pieces and an alphabet
# (a corpus's alphabet may ask for more; SentencePiece then says so).
MIN_VOCAB_SIZE = 8
# Lines handed to SentencePiece per call: enough to keep every thread busy, few enough
# (about 10 MB of text) to hold comfortably.
BATCH_LINES = 100_000


def train_joint(
    inputs: Sequence[Path],
    model_prefix: Path,
    vocab_size: int,
    character_coverage: float = 1.0,
    model_type: str = "unigram",
    input_sentence_size: int = 0,
    num_threads: int = 0,
) -> Path:
    """Train one model on all ``inputs``; return the path of the ``.model`` file.

    SentencePiece reports its progress (corpus loading, EM iterations) on stderr: on
    WMT'17's millions of lines training takes long enough that silence looks like a hang.
    ``num_threads`` 0 uses every core.
    """
    for path in inputs:
        if not Path(path).is_file() or Path(path).stat().st_size == 0:
            raise ValueError(f"SentencePiece input {path} is missing or empty")
    Path(model_prefix).parent.mkdir(parents=True, exist_ok=True)
    options = dict(
        input=",".join(str(p) for p in inputs),
        model_prefix=str(model_prefix),
        vocab_size=vocab_size,
        character_coverage=character_coverage,
        model_type=model_type,
        # A small corpus may not support the requested size; take what it supports.
        hard_vocab_limit=False,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        unk_id=0,
        num_threads=_threads(num_threads),
    )
    if input_sentence_size > 0:
        options.update(input_sentence_size=input_sentence_size, shuffle_input_sentence=True)
    spm.SentencePieceTrainer.train(**options)
    return Path(f"{model_prefix}.model")


def encode_file(model: Path, source: Path, target: Path, num_threads: int = 0, batch_lines: int = BATCH_LINES) -> int:
    """Encode ``source`` into pieces, one line per line; return the number of lines.

    Lines end at ``\\n`` only (:mod:`fairseq_intradistill.textio`), so that a ``\\r`` or U+2028
    inside a sentence cannot shift the file against its other side.  ``num_threads`` 0 uses
    every core; a progress bar (tqdm, on stderr) shows for a file that takes a while.
    """
    processor = spm.SentencePieceProcessor(model_file=str(model))
    n = 0
    # No bar for a small file: it shows after 10 s.
    bar = tqdm(desc=f"  encoding {source.name}", unit=" lines", unit_scale=True, delay=10)
    with bar, open(target, "w", encoding="utf-8", newline="\n") as fout:
        for batch in _batches(iter_lines(source), batch_lines):
            encoded = processor.encode(batch, out_type=str, num_threads=_threads(num_threads))
            fout.writelines(" ".join(pieces) + "\n" for pieces in encoded)
            n += len(batch)
            bar.update(len(batch))
    return n


def _threads(num_threads: int) -> int:
    return num_threads if num_threads > 0 else (os.cpu_count() or 1)


def _batches(lines: Iterator[str], size: int) -> Iterator[List[str]]:
    while True:
        batch = list(itertools.islice(lines, size))
        if not batch:
            return
        yield batch


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.data.spm",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a joint model")
    train.add_argument("--inputs", nargs="+", type=Path, required=True)
    train.add_argument("--model-prefix", type=Path, required=True)
    train.add_argument("--vocab-size", type=int, required=True)
    train.add_argument("--character-coverage", type=float, default=1.0)
    train.add_argument("--input-sentence-size", type=int, default=0, help="sample this many lines (0 = all)")
    train.add_argument("--threads", type=int, default=0, help="threads (0 = every core)")
    encode = sub.add_parser("encode", help="encode a file")
    encode.add_argument("--model", type=Path, required=True)
    encode.add_argument("--input", type=Path, required=True)
    encode.add_argument("--output", type=Path, required=True)
    encode.add_argument("--threads", type=int, default=0, help="threads (0 = every core)")
    args = parser.parse_args(argv)
    if args.threads < 0:
        parser.error(f"--threads must be >= 0 (got {args.threads})")
    if args.command == "train":
        if args.vocab_size < MIN_VOCAB_SIZE:
            parser.error(f"--vocab-size must be >= {MIN_VOCAB_SIZE} (got {args.vocab_size})")
        try:
            model = train_joint(
                args.inputs,
                args.model_prefix,
                args.vocab_size,
                args.character_coverage,
                input_sentence_size=args.input_sentence_size,
                num_threads=args.threads,
            )
        except ValueError as e:
            parser.error(str(e))
        print(f"SentencePiece model: {model}")
    else:
        if not args.model.is_file():
            parser.error(f"--model {args.model} does not exist")
        if not args.input.is_file():
            parser.error(f"--input {args.input} does not exist")
        print(f"encoded {encode_file(args.model, args.input, args.output, args.threads)} lines into {args.output}")


if __name__ == "__main__":
    main()
