"""The recipes' Python pieces: cleaning, splitting, batch plans, flags, checksums."""

import json
import sys
from pathlib import Path

import pytest
from conftest import run

from fairseq_intradistill import recipes
from fairseq_intradistill.data import iwslt14, moses, wmt17
from fairseq_intradistill.data.archives import ArchiveError, verify_archive


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


def test_split_valid_takes_every_23rd_line():
    lines = [str(i) for i in range(1, 70)]
    train, valid = iwslt14.split_valid(lines)
    assert valid == ["23", "46", "69"] and len(train) == 66 and "23" not in train


def test_train_lines_and_seg_lines():
    tags = [
        "<url>http://x</url>",
        "<keywords>a</keywords>",
        "<talkid>1</talkid>",
        "<title>My Talk</title>",
        "<description>About</description>",
        "Hello there.",
    ]
    assert iwslt14.train_lines(tags) == ["My Talk", "About", "Hello there."]
    xml = ['<doc docid="1">', '<seg id="1"> It\u2019s Here </seg>', "<title>t</title>", '<seg id="22">Two</seg>']
    assert iwslt14.seg_lines(xml) == ["it's here", "two"]
    assert wmt17.sgm_lines(['<seg id="3"> Ein Test. </seg>', "<p>"]) == ["Ein Test."]


def test_batch_plan_keeps_the_effective_batch():
    assert recipes.batch_plan(4096, 4096, 0) == (4096, 1)  # CPU counts as one device
    assert recipes.batch_plan(4096, 4096, 2) == (2048, 1)
    assert recipes.batch_plan(65536, 4096, 1) == (4096, 16)
    assert recipes.batch_plan(65536, 4096, 8) == (4096, 2)
    tokens, freq = recipes.batch_plan(65536, 4096, 3)
    assert freq == 6 and tokens <= 4096 and 65536 - 3 * 6 * tokens < 3 * 6


def test_flags_for_both_recipes():
    flags = recipes.train_flags("iwslt14", "intra", gpus=1)
    value = lambda f, name: f[f.index(name) + 1]  # noqa: E731
    assert value(flags, "--arch") == "transformer_iwslt_de_en" and value(flags, "--max-update") == "50000"
    assert value(flags, "--warmup-updates") == "8000" and value(flags, "--adam-eps") == "1e-6"
    assert "--adaptive-alpha" in flags and value(flags, "--alpha-q") == "10"
    assert "--num-passes" not in recipes.train_flags("iwslt14", "baseline", gpus=1)
    fixed = recipes.train_flags("iwslt14", "intra", 1, num_passes=4, alpha_mode="fixed", arch="transformer")
    assert (
        "--adaptive-alpha" not in fixed
        and value(fixed, "--num-passes") == "4"
        and value(fixed, "--arch") == "transformer"
    )
    wmt = recipes.train_flags("wmt17", "intra", gpus=2)
    assert value(wmt, "--alpha-p") == "10" and value(wmt, "--alpha-q") == "16" and "--share-all-embeddings" not in wmt
    assert value(wmt, "--update-freq") == "8" and value(wmt, "--max-update") == "80000"
    # The authors' development command (METHOD.md), flag by flag.
    for flag, expected in (
        ("--adam-eps", "1e-6"),
        ("--fp16-init-scale", "16"),
        ("--max-source-positions", "512"),
        ("--max-target-positions", "512"),
        ("--save-interval-updates", "300"),
        ("--keep-interval-updates", "1"),
        ("--warmup-updates", "4000"),
    ):
        assert value(wmt, flag) == expected, flag
    assert "--skip-invalid-size-inputs-valid-test" in wmt and "--patience" not in wmt
    for flag, expected in (("--fp16-init-scale", "16"), ("--patience", "40"), ("--max-source-positions", "512")):
        assert value(flags, flag) == expected, flag
    assert "--skip-invalid-size-inputs-valid-test" in flags
    # Task and criterion come with the recipe; every flag is stated once.
    assert flags[:4] == ["--task", "translation_intra_distillation", "--criterion", "intra_distillation"]
    for name in recipes.RECIPES:
        for method in ("baseline", "intra"):
            names = [f for f in recipes.train_flags(name, method, gpus=1) if f.startswith("--")]
            assert len(names) == len(set(names)), (name, method)
    with pytest.raises(ValueError, match="baseline or intra"):
        recipes.train_flags("iwslt14", "rdrop", 1)
    proc = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.recipes",
            "flags",
            "--recipe",
            "iwslt14",
            "--method",
            "intra",
            "--gpus",
            "1",
            "--num-passes",
            "0",
        ],
        check=False,
    )
    assert proc.returncode != 0 and "number of passes must be >= 1" in proc.stderr


def test_test_set_checksums_are_sacrebleus():
    from sacrebleu.dataset import DATASETS

    for key, name in (("newstest2016", "wmt16"), ("newstest2017", "wmt17")):
        source = wmt17.FILES[key]
        assert source.url in DATASETS[name].data and source.md5 in DATASETS[name].md5


def test_verify_archive_checks_a_given_checksum(tmp_path):
    import tarfile

    path = tmp_path / "a.tgz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(__file__, arcname="x.py")
    digest = verify_archive(path)
    assert verify_archive(path, sha256=digest) == digest
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        verify_archive(path, sha256="0" * 64)
    # The real release's sha256 is not known to us: it must stay unset, not invented.
    assert iwslt14.ARCHIVE_SHA256 is None


def test_fetch_uses_a_local_copy_and_records_its_checksum(tmp_path):
    import tarfile

    target = tmp_path / "2014-01.tgz"
    with tarfile.open(target, "w:gz") as tar:
        tar.add(__file__, arcname="2014-01/x.py")
    proc = run([sys.executable, "-m", "fairseq_intradistill.data.iwslt14", "fetch", "--target", target])
    record = (tmp_path / "2014-01.tgz.sha256").read_text().split()[0]
    assert record in proc.stderr and len(record) == 64
    # Later runs compare against the record: a changed file is refused.
    target.write_bytes(target.read_bytes()[:-10])
    proc = run([sys.executable, "-m", "fairseq_intradistill.data.iwslt14", "fetch", "--target", target], check=False)
    assert proc.returncode != 0 and "checksum mismatch" in proc.stderr


def test_compound_split_and_bleu():
    assert (
        wmt17.compound_split("Ein Test-Fall mit Nord-Süd-Achse")
        == "Ein Test ##AT##-##AT## Fall mit Nord ##AT##-##AT## Süd ##AT##-##AT## Achse"
    )
    # Non-overlapping matches, as Perl's s///g: the middle letter of "A-B-C" is consumed once.
    assert wmt17.compound_split("A-B-C") == "A ##AT##-##AT## B-C"
    perfect = wmt17.compound_bleu(["Das ist ein Test-Fall."], ["Das ist ein Test-Fall."])
    assert perfect["bleu"] == 100.0 and perfect["num_sentences"] == 1


def test_small_preset_flags_and_constant_alpha():
    from fairseq_intradistill.schedule import adaptive_alpha

    flags = recipes.train_flags("iwslt14-small", "intra", gpus=0)
    value = lambda name: flags[flags.index(name) + 1]  # noqa: E731
    small = {
        "--arch": "transformer",
        "--encoder-layers": "2",
        "--decoder-layers": "2",
        "--encoder-embed-dim": "128",
        "--decoder-embed-dim": "128",
        "--dropout": "0.3",
        "--max-tokens": "2048",
        "--update-freq": "1",
        "--max-update": "3000",
        "--alpha": "1",
        "--num-passes": "3",
        "--divergence": "x",
    }
    assert {name: value(name) for name in small} == small
    # Regime C of docs/fidelity.md: alpha 1 from the first update, no ramp.
    assert "--adaptive-alpha" not in flags and "--alpha-max-update" not in flags
    n = int(value("--max-update"))
    assert adaptive_alpha(1.0, 0, n, 5.0, 10.0) == 1.0 == adaptive_alpha(1.0, n, n, 5.0, 10.0)
    assert recipes.recipe_field("iwslt14-small", "vocab_size") == "4000"
    assert recipes.recipe_field("iwslt14-small", "lenpen") == "1.5"
    # --alpha-mode fixed is a no-op here, not an error; --max-update overridden is taken.
    assert recipes.train_flags("iwslt14-small", "intra", gpus=0, alpha_mode="fixed") == flags
    short = recipes.train_flags("iwslt14-small", "intra", gpus=0, max_update=1000)
    assert short[short.index("--max-update") + 1] == "1000"
    # The paper's recipe keeps the paper's schedule: alpha 1 at N/q, 5 at N/p, 0 at the start.
    paper = recipes.train_flags("iwslt14", "intra", gpus=0)
    pv = lambda name: paper[paper.index(name) + 1]  # noqa: E731
    assert "--adaptive-alpha" in paper and pv("--alpha") == "5"
    n, p, q = int(pv("--max-update")), float(pv("--alpha-p")), float(pv("--alpha-q"))
    assert adaptive_alpha(5.0, 0, n, p, q) == 0.0
    assert abs(adaptive_alpha(5.0, n // 10, n, p, q) - 1.0) < 1e-9 and adaptive_alpha(5.0, n // 5, n, p, q) == 5.0


def test_method_flags_without_a_recipe():
    out = run(
        [
            sys.executable,
            "-m",
            "fairseq_intradistill.recipes",
            "flags",
            "--method",
            "intra",
            "--alpha-mode",
            "fixed",
            "--num-passes",
            "2",
        ]
    ).stdout.split()
    assert out == [
        "--task",
        "translation_intra_distillation",
        "--criterion",
        "intra_distillation",
        "--num-passes",
        "2",
        "--alpha",
        "5",
        "--alpha-p",
        "5",
        "--alpha-q",
        "10",
        "--divergence",
        "x",
    ]
    assert recipes.method_flags("baseline") == ["--task", "translation", "--criterion", "label_smoothed_cross_entropy"]
    with pytest.raises(ValueError, match="--num-passes and --alpha-mode are for --method intra"):
        recipes.method_flags("baseline", num_passes=2)
    proc = run(
        [sys.executable, "-m", "fairseq_intradistill.recipes", "flags", "--method", "intra", "--max-update", "10"],
        check=False,
    )
    assert proc.returncode != 0 and "--max-update replace a recipe's settings: give --recipe" in proc.stderr


def _raw_pair(folder: Path, n: int) -> Path:
    raw = folder / "raw"
    raw.mkdir(parents=True)
    (raw / "train.de").write_text("".join(f"quelle {i}\n" for i in range(n)))
    (raw / "train.en").write_text("".join(f"target {i}\n" for i in range(n)))
    (raw / "stats.json").write_text(json.dumps({"train": n, "valid": 0, "test": 0}))
    return folder


def test_train_pairs_subset_is_seeded_aligned_and_recorded(tmp_path):
    assert iwslt14.subset_indices(100, 10, 1) == iwslt14.subset_indices(100, 10, 1)
    assert iwslt14.subset_indices(100, 10, 1) != iwslt14.subset_indices(100, 10, 2)
    with pytest.raises(ValueError, match="--train-pairs 101 is more than the 100 training pairs"):
        iwslt14.subset_indices(100, 101, 1)
    subsets = []
    for name in ("a", "b"):
        pair = _raw_pair(tmp_path / name, 200)
        assert iwslt14.select_training(pair, "de", 30, 1, 4000) == "written"
        de = (pair / "subset" / "train.de").read_text().splitlines()
        en = (pair / "subset" / "train.en").read_text().splitlines()
        assert len(de) == len(en) == 30 and len(set(de)) == 30
        assert [line.split()[1] for line in de] == [line.split()[1] for line in en]  # pairs kept together
        assert [int(line.split()[1]) for line in de] == sorted(int(line.split()[1]) for line in de)
        subsets.append(de)
    assert subsets[0] == subsets[1]  # deterministic across runs
    pair = tmp_path / "a"
    assert json.loads((pair / "preparation.json").read_text()) == {
        "train_pairs": 30,
        "subset_seed": 1,
        "vocab_size": 4000,
    }
    assert iwslt14.select_training(pair, "de", 30, 1, 4000) == "kept"
    for args, message in (
        ((50, 1, 4000), "--train-pairs 50 --subset-seed 1"),
        ((30, 2, 4000), "--train-pairs 30 --subset-seed 2"),
        ((None, 1, 4000), "not all training pairs"),
        ((30, 1, 12000), "--vocab-size 12000"),
    ):
        with pytest.raises(iwslt14.PreparationMismatch, match=message):
            iwslt14.select_training(pair, "de", *args)


def test_a_pair_prepared_before_the_record_counts_as_all_pairs(tmp_path):
    pair = _raw_pair(tmp_path / "old", 50)
    (pair / "spm").mkdir()
    (pair / "spm" / "done").touch()
    with pytest.raises(iwslt14.PreparationMismatch, match="was prepared with all training pairs"):
        iwslt14.select_training(pair, "de", 20, 1, 12000)
    assert not (pair / "subset").exists() and not (pair / "preparation.json").exists()
    assert iwslt14.select_training(pair, "de", None, 1, 12000) == "kept"
    assert json.loads((pair / "preparation.json").read_text())["train_pairs"] is None


def test_the_paper_languages_come_from_one_place():
    """prepare.sh and run_all.sh take their default --langs from here, not from a list of their own."""
    from fairseq_intradistill.data.corpora import PAPER_IWSLT14_LANGS

    out = run([sys.executable, "-m", "fairseq_intradistill.data.iwslt14", "langs"]).stdout
    assert out.split() == list(PAPER_IWSLT14_LANGS) == "ar de es fa he it nl pl".split()
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    for script in scripts.rglob("*.sh"):
        assert "ar de es fa he it nl pl" not in script.read_text(encoding="utf-8"), script
