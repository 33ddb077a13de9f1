"""data.iwslt14: valid split, XML lines, fetch with its checksum record, training subsets, languages."""

import json
import sys
from pathlib import Path

import pytest
from conftest import run

from fairseq_intradistill.data import iwslt14, wmt17


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
