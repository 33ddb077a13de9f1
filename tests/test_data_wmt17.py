"""data.wmt17: test-set checksums, compound splitting and its BLEU."""

from fairseq_intradistill.data import wmt17


def test_test_set_checksums_are_sacrebleus():
    from sacrebleu.dataset import DATASETS

    for key, name in (("newstest2016", "wmt16"), ("newstest2017", "wmt17")):
        source = wmt17.FILES[key]
        assert source.url in DATASETS[name].data and source.md5 in DATASETS[name].md5


def test_compound_split_and_bleu():
    assert (
        wmt17.compound_split("Ein Test-Fall mit Nord-Süd-Achse")
        == "Ein Test ##AT##-##AT## Fall mit Nord ##AT##-##AT## Süd ##AT##-##AT## Achse"
    )
    # Non-overlapping matches, as Perl's s///g: the middle letter of "A-B-C" is consumed once.
    assert wmt17.compound_split("A-B-C") == "A ##AT##-##AT## B-C"
    perfect = wmt17.compound_bleu(["Das ist ein Test-Fall."], ["Das ist ein Test-Fall."])
    assert perfect["bleu"] == 100.0 and perfect["num_sentences"] == 1
