"""Tiny randomly initialised Transformers models and a word-level tokenizer, made offline.

For the tests and for trying the recipes without the Hugging Face Hub: a model folder made
here loads with ``AutoModel*.from_pretrained`` / ``AutoTokenizer.from_pretrained`` like a
downloaded one (``python -m fairseq_intradistill.hf.tiny --help``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterable, List

import torch

from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio

hide_broken_torchaudio()  # before transformers is imported (in the functions below): see _torchaudio.py

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ARCHITECTURES = ("bert", "xlm-roberta", "t5", "gpt2")
HEADS = ("sequence-classification", "token-classification", "question-answering", "seq2seq", "causal-lm")


def write_tokenizer(folder: Path, words: Iterable[str]):
    """A lower-casing WordPiece tokenizer whose vocabulary is the special tokens plus ``words``."""
    from transformers import BertTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab: List[str] = list(SPECIAL_TOKENS)
    for word in words:
        word = word.lower()
        if word not in vocab:
            vocab.append(word)
    # Transformers 5 builds the WordPiece model from a dict (a vocab_file argument is ignored).
    tokenizer = BertTokenizer(
        vocab={piece: i for i, piece in enumerate(vocab)}, do_lower_case=True, model_max_length=512
    )
    tokenizer.save_pretrained(folder)
    return tokenizer


def tiny_config(architecture: str, vocab_size: int, num_labels: int = 2, dropout: float = 0.1):
    """A config with hidden size 32, one layer and two heads."""
    from transformers import BertConfig, GPT2Config, T5Config, XLMRobertaConfig

    encoder = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        num_labels=num_labels,
    )
    if architecture == "bert":
        return BertConfig(**encoder, max_position_embeddings=512)
    if architecture == "xlm-roberta":
        # pad 0, cls 2, sep 3: the ids of the word-level tokenizer's special tokens.
        return XLMRobertaConfig(**encoder, max_position_embeddings=520, pad_token_id=0, bos_token_id=2, eos_token_id=3)
    if architecture == "t5":
        return T5Config(
            vocab_size=vocab_size,
            d_model=32,
            d_kv=16,
            d_ff=64,
            num_layers=1,
            num_decoder_layers=1,
            num_heads=2,
            dropout_rate=dropout,
            pad_token_id=0,
            eos_token_id=3,
            decoder_start_token_id=0,
        )
    if architecture == "gpt2":
        return GPT2Config(
            vocab_size=vocab_size,
            n_embd=32,
            n_layer=1,
            n_head=2,
            n_positions=512,
            resid_pdrop=dropout,
            embd_pdrop=dropout,
            attn_pdrop=dropout,
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=3,
        )
    raise ValueError(f"--architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")


def make_tiny_model(
    folder: Path,
    architecture: str,
    head: str,
    words: Iterable[str],
    num_labels: int = 2,
    seed: int = 0,
    dropout: float = 0.1,
) -> Path:
    """Save a tiny model with ``head`` and its tokenizer to ``folder``; return the folder."""
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForQuestionAnswering,
        AutoModelForSeq2SeqLM,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
    )

    heads = {
        "sequence-classification": AutoModelForSequenceClassification,
        "token-classification": AutoModelForTokenClassification,
        "question-answering": AutoModelForQuestionAnswering,
        "seq2seq": AutoModelForSeq2SeqLM,
        "causal-lm": AutoModelForCausalLM,
    }
    if head not in heads:
        raise ValueError(f"--head must be one of {', '.join(HEADS)}, got {head!r}")
    folder = Path(folder)
    tokenizer = write_tokenizer(folder, words)
    torch.manual_seed(seed)
    model = heads[head].from_config(tiny_config(architecture, len(tokenizer), num_labels, dropout))
    model.save_pretrained(folder)
    return folder


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fairseq_intradistill.hf.tiny",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write the model and tokenizer to")
    parser.add_argument("--architecture", default="bert", choices=ARCHITECTURES)
    parser.add_argument("--head", default="sequence-classification", choices=HEADS)
    parser.add_argument("--num-labels", type=int, default=2, help="classes (1: regression)")
    parser.add_argument(
        "--words-from",
        type=Path,
        required=True,
        help="text file whose whitespace-separated words (lower-cased) make the vocabulary",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.num_labels < 1:
        parser.error(f"--num-labels must be >= 1, got {args.num_labels}")
    words = args.words_from.read_text(encoding="utf-8").split()
    make_tiny_model(args.out, args.architecture, args.head, words, args.num_labels, args.seed)
    print(args.out)


if __name__ == "__main__":
    main()
