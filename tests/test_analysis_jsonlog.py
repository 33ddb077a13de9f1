"""analysis.jsonlog, the one reader of fairseq JSON logs (results, ``analysis curves``, the tests).

Real logs and consoles of scripts/common/train.sh (conftest's ``trained``) for the log rules and the clock."""

import json

import pytest

from fairseq_intradistill.analysis import jsonlog


@pytest.mark.slow
def test_duplicated_log_file_lines_count_once(trained, tmp_path):
    log_file = trained["exp"] / "intra" / "train.log"
    text = log_file.read_text(encoding="utf-8")
    lines = text.split("\n")
    records = [line for line in lines if line.startswith('{"')]
    assert len(records) == len(set(records)), "the plugin's --log-file fix writes each record once"
    # A log written without the fix (fairseq 0.12 adds a file handler at every epoch): every
    # line of epoch 2 twice.
    first_epoch_end = next(i for i, line in enumerate(lines) if line.startswith('{"epoch": 1, "train_loss"'))
    old = lines[: first_epoch_end + 1] + [
        copy for line in lines[first_epoch_end + 1 :] if line for copy in (line, line)
    ]
    old_file = tmp_path / "train.log"
    old_file.write_text("\n".join(old) + "\n", encoding="utf-8")
    copies = sum(1 for line in lines[first_epoch_end + 1 :] if line.startswith('{"'))  # records repeated
    assert copies > 5
    log = jsonlog.read_log(old_file)
    assert log.copies == copies and log.runs == 1 and not log.bad_lines
    updates = [r.update for r in log.tagged("train_inner")]
    assert updates == list(range(5, 51, 5))
    assert [(r.number("epoch"), r.update) for r in log.tagged("train")] == [(1, 25), (2, 50)]
    assert [(r.tag, r.values) for r in log.records] == [(r.tag, r.values) for r in jsonlog.read_log(log_file).records]
    # The console holds the same records as the log file.
    console = jsonlog.parse(trained["consoles"]["intra"])
    assert console.copies == 0
    assert [(r.tag, r.values) for r in console.records] == [(r.tag, r.values) for r in log.records]


@pytest.mark.slow
def test_validation_is_timed_at_the_next_training_record(trained):
    log = jsonlog.read_log(trained["exp"] / "baseline" / "train.log")
    times = jsonlog.record_times(log)
    records = log.records
    valid = [i for i, r in enumerate(records) if r.tag == "valid"]
    for i in valid:
        after = next(r for r in records[i + 1 :] if r.tag in ("train_inner", "train"))
        assert times[i] == after.wall
        # The record after a mid-epoch validation is a later update's: the time is not the one
        # of the training record at the validation's own update.
        assert after.update >= records[i].update
    mid_epoch = next(i for i in valid if records[i].update == 10)
    assert records[mid_epoch + 1].tag == "train_inner" and records[mid_epoch + 1].update == 15


def test_lines_are_split_on_newline_only_and_bad_lines_are_reported(tmp_path, caplog):
    log = tmp_path / "train.log"
    good = {"epoch": 1, "loss": "3.5", "note": "a\x85b\u2028c", "num_updates": "5", "wall": "2"}
    log.write_text(
        json.dumps(good, ensure_ascii=False)
        + "\n"
        + '{"epoch": 1, "loss": "3.1", "num_upd\n'  # cut short by a crash
        + "{'_name': None, 'common': {}}\n",
        encoding="utf-8",
    )
    parsed = jsonlog.read_log(log)
    assert [r.values for r in parsed.records] == [good]
    assert [n for n, _ in parsed.bad_lines] == [2]
    assert f"{log}: skipped 1 unreadable record line(s): line 2" in caplog.text


def test_the_forms_our_scripts_and_tests_write_are_read_and_no_other():
    record = {"epoch": 1, "loss": "3.5", "num_updates": "5", "wall": "2"}
    payload = json.dumps(record)
    text = "\n".join(
        [
            payload,  # train.sh's --log-file (train.log)
            f"2024-01-01 12:00:00 | INFO | valid | {json.dumps({'epoch': 1, 'valid_loss': '3.1'})}",  # console
            f"INFO:train:{json.dumps({'epoch': 1, 'train_loss': '3.2'})}",  # Python's logging (in-process)
            f"[2024-01-01 12:00:00,000][train_inner][INFO] - {json.dumps({'epoch': 2, 'loss': '1'})}",  # hydra's
        ]
    )
    log = jsonlog.parse(text)
    assert [(r.tag, r.line) for r in log.records] == [("train_inner", 1), ("valid", 2), ("train", 3)]
    assert log.records[0].values == record and not log.bad_lines
