"""Corpus and reference lines end at "\\n" only: U+2028, \\x85 and a lone \\r stay inside a sentence."""

import json
import sys

import pytest
from conftest import run

from fairseq_intradistill.data.archives import decode
from fairseq_intradistill.textio import read_lines, split_lines

# Sentences as web-crawled text has them: a line separator, a NEL, a lone carriage return,
# a vertical tab; the last line ends the Windows way.
SENTENCES = [
    "Das ist der erste Satz\u2028mit einem Zeilentrenner darin .",
    "Der zweite Satz hat ein\x85NEL-Zeichen in der Mitte .",
    "Der dritte Satz hat einen\rWagenrücklauf und\x0beinen Tabulator .",
    "Der vierte Satz\u2029endet mit CR LF .",
]
TEXT = "\n".join(SENTENCES[:-1]) + "\n" + SENTENCES[-1] + "\r\n"


def test_split_lines_breaks_at_newline_only():
    assert len(TEXT.splitlines()) > len(SENTENCES)  # what went wrong before
    assert split_lines(TEXT) == SENTENCES
    assert split_lines("a\n\nb") == ["a", "", "b"]
    assert split_lines("no final newline") == ["no final newline"]
    assert split_lines("") == []
    assert split_lines("a\r\r\n") == ["a\r"]  # only the \r of the line end goes


def test_read_lines_and_archive_members(tmp_path):
    path = tmp_path / "ref.txt"
    path.write_bytes(TEXT.encode("utf-8"))
    assert read_lines(path) == SENTENCES
    assert decode(TEXT.encode("utf-8"), "corpus.de") == SENTENCES


def test_evaluation_keeps_references_aligned(tmp_path):
    import sacrebleu

    reference = tmp_path / "ref.txt"
    reference.write_bytes(TEXT.encode("utf-8"))
    # fairseq-generate prints no \r (SentencePiece turns it into a space); the rest it keeps.
    hypotheses = [s.replace("\r", " ") for s in SENTENCES]
    generate = tmp_path / "gen.txt"
    generate.write_text("".join(f"D-{i}\t-0.5\t{h}\n" for i, h in enumerate(hypotheses)), encoding="utf-8")
    out = tmp_path / "bleu.json"
    run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.evaluation",
            "--generate-output",
            generate,
            "--reference",
            reference,
            "--out",
            out,
        ]
    )
    result = json.loads(out.read_text())
    assert result["num_sentences"] == len(SENTENCES)
    assert result["bleu"] == round(sacrebleu.corpus_bleu(hypotheses, [SENTENCES]).score, 2)


def test_compound_bleu_keeps_references_aligned(tmp_path):
    reference = tmp_path / "ref.txt"
    reference.write_bytes(TEXT.encode("utf-8"))
    hypotheses = tmp_path / "hyp.txt"  # a system that printed plain spaces
    hypotheses.write_text(
        "".join(s.replace("\u2028", " ").replace("\u2029", " ") + "\n" for s in SENTENCES).replace("\r", " "),
        encoding="utf-8",
    )
    out = tmp_path / "bleu.json"
    run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.data.wmt17",
            "compound-bleu",
            "--hypotheses",
            hypotheses,
            "--reference",
            reference,
            "--out",
            out,
        ]
    )
    assert json.loads(out.read_text())["num_sentences"] == len(SENTENCES)


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("spm")
    corpus = root / "train.txt"
    corpus.write_text(
        "".join(f"der {w} satz hat {n} wörter .\n" for n in range(30) for w in ("erste", "zweite", "dritte")),
        encoding="utf-8",
    )
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.data.spm",
            "train",
            "--inputs",
            corpus,
            "--model-prefix",
            root / "spm",
            "--vocab-size",
            "60",
            "--threads",
            "1",
        ]
    )
    return root / "spm.model", proc


def test_spm_training_shows_its_progress(spm_model):
    _, proc = spm_model
    assert "EM sub_iter" in proc.stderr  # SentencePiece's own progress lines


def test_spm_encode_keeps_one_line_per_line_in_batches(spm_model, tmp_path):
    from fairseq_intradistill.data.spm import encode_file

    model, _ = spm_model
    source = tmp_path / "in.txt"
    source.write_bytes((TEXT + "ein letzter satz .\n").encode("utf-8"))
    cli_out = tmp_path / "cli.txt"
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.data.spm",
            "encode",
            "--model",
            model,
            "--input",
            source,
            "--output",
            cli_out,
            "--threads",
            "2",
        ]
    )
    assert f"encoded {len(SENTENCES) + 1} lines" in proc.stdout
    encoded = read_lines(cli_out)
    assert len(encoded) == len(SENTENCES) + 1
    assert encoded[-1].replace(" ", "").replace("\u2581", "") == "einletztersatz."  # the last line is still last
    batched = tmp_path / "batched.txt"
    assert encode_file(model, source, batched, num_threads=2, batch_lines=2) == len(SENTENCES) + 1
    assert batched.read_bytes() == cli_out.read_bytes()
