"""Joint SentencePiece models: train one on several files, encode text with it.

    python -m fairseq_intradistill.data.spm train --inputs A B --model-prefix P --vocab-size N
    python -m fairseq_intradistill.data.spm encode --model P.model --input IN --output OUT
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece as spm


def train_joint(
    inputs: Sequence[Path],
    model_prefix: Path,
    vocab_size: int,
    character_coverage: float = 1.0,
    model_type: str = "unigram",
    input_sentence_size: int = 0,
) -> Path:
    """Train one model on all ``inputs``; return the path of the ``.model`` file."""
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
        minloglevel=2,
    )
    if input_sentence_size > 0:
        options.update(input_sentence_size=input_sentence_size, shuffle_input_sentence=True)
    spm.SentencePieceTrainer.train(**options)
    return Path(f"{model_prefix}.model")


def encode_lines(model: Path, lines: Iterable[str]) -> Iterable[str]:
    processor = spm.SentencePieceProcessor(model_file=str(model))
    for line in lines:
        yield " ".join(processor.encode(line.rstrip("\n"), out_type=str))


def encode_file(model: Path, source: Path, target: Path) -> int:
    """Encode ``source`` into pieces, one line per line; return the number of lines."""
    n = 0
    with open(source, encoding="utf-8") as fin, open(target, "w", encoding="utf-8") as fout:
        for n, line in enumerate(encode_lines(model, fin), start=1):
            fout.write(line + "\n")
    return n


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a joint model")
    train.add_argument("--inputs", nargs="+", type=Path, required=True)
    train.add_argument("--model-prefix", type=Path, required=True)
    train.add_argument("--vocab-size", type=int, required=True)
    train.add_argument("--character-coverage", type=float, default=1.0)
    train.add_argument("--input-sentence-size", type=int, default=0, help="sample this many lines (0 = all)")
    encode = sub.add_parser("encode", help="encode a file")
    encode.add_argument("--model", type=Path, required=True)
    encode.add_argument("--input", type=Path, required=True)
    encode.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "train":
        if args.vocab_size < 8:
            parser.error(f"--vocab-size must be >= 8 (got {args.vocab_size})")
        try:
            model = train_joint(args.inputs, args.model_prefix, args.vocab_size, args.character_coverage,
                                input_sentence_size=args.input_sentence_size)
        except ValueError as e:
            parser.error(str(e))
        print(f"SentencePiece model: {model}")
    else:
        if not args.model.is_file():
            parser.error(f"--model {args.model} does not exist")
        if not args.input.is_file():
            parser.error(f"--input {args.input} does not exist")
        print(f"encoded {encode_file(args.model, args.input, args.output)} lines into {args.output}")


if __name__ == "__main__":
    main()
