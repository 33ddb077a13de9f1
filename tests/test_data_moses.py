"""data.moses: clean-corpus-n's filter, tokenizing and detokenizing round trip."""

import pytest

from fairseq_intradistill.data import moses


def test_clean_mask_is_clean_corpus_n():
    src = ["a b c", "a", "a b c d", "", " ".join(["x"] * 176), "a b"]
    tgt = ["a b c", "a b c d", "a b", "a", " ".join(["y"] * 176), "a b c"]
    # kept: equal; 1:4 ratio; 4:2 ratio; empty side; over 175; exactly 1.5.
    assert moses.clean_mask(src, tgt) == [True, False, False, False, False, True]
    with pytest.raises(ValueError, match="different lengths"):
        moses.clean_mask(["a"], [])


def test_moses_round_trip_restores_escaped_text():
    tokens = moses.tokenize_lines(['It\'s a "test" & more.'], "en")
    assert tokens == ["It &apos;s a &quot; test &quot; &amp; more ."]
    assert moses.detokenize_lines([t.lower() for t in tokens], "en") == ['it\'s a "test" & more.']
