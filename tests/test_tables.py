"""fairseq_intradistill.tables: the layout every report shares (results, bench, analysis compare, hf.results)."""

import pytest

from fairseq_intradistill import bench
from fairseq_intradistill.analysis import compare
from fairseq_intradistill.tables import Column, aligned, markdown


def test_aligned_pads_to_the_widths_and_rules_the_heading():
    columns = [Column("method", 8, "<"), Column("BLEU", 6), Column("note", 0, "<", gap="  ")]
    lines = aligned(columns, [["baseline", "33.07", "ok"], ["intra-distill", "36.1", ""]], rule_extra=3)
    assert lines == [
        "method     BLEU  note",
        "-" * (len("method     BLEU  note") + 3),
        "baseline  33.07  ok",
        "intra-distill   36.1",  # a cell wider than its column is kept whole; no trailing spaces
    ]


def test_a_short_rows_last_cell_spans_the_columns_left():
    columns = [Column("a", 3), Column("b", 4), Column("c", 2)]
    assert aligned(columns, [["1", "note"]])[2] == "  1" + " " + format("note", ">7")
    with pytest.raises(ValueError, match="3 cells for 2 columns"):
        aligned(columns[:2], [["1", "2", "3"]])


def test_markdown_is_a_pipe_table():
    assert markdown(["a", "b"], [["1", ""]]) == ["| a | b |", "|---|---|", "| 1 |  |"]


def test_bench_and_compare_tables():
    rows = [
        dict(
            kind="train",
            method="intra",
            passes=3,
            mode="batched",
            seconds=0.0456,
            tokens_per_second=3456.7,
            peak_mib=300.25,
            ratio_to_baseline=3.7,
        ),
        dict(kind="divergence", method="x", passes=3, mode="plain", seconds=0.001, tokens_per_second=9, peak_mib=10.0),
        dict(
            kind="divergence",
            method="x",
            passes=3,
            mode="fused",
            seconds=0.001,
            tokens_per_second=9,
            peak_mib=4.5,
            peak_vs_plain=0.45,
        ),
    ]
    lines = bench.format_table(rows).split("\n")
    assert lines[0] == (
        f"{'what':<22} {'K':>2} {'mode':<10} {'step ms':>9} {'tokens/s':>10} {'peak MiB':>9} "
        f"{'x baseline':>10} {'bound K':>7}"
    )
    assert lines[2] == f"{'intra':<22}  3 {'batched':<10} {45.6:>9.1f} {3457:>10} {300.2:>9} {3.7:>10.2f} {3:>7}"
    assert lines[3].endswith(" 10.0")
    assert lines[4].endswith(f"{4.5:>9.1f} {'mem 45% of plain':>18}") and len(lines[4]) == len(lines[0])
    table = compare.markdown_table([{"model": "a", "bleu_test": 30.123}, {"model": "b"}])
    assert table == "| model | BLEU (test) |\n|---|---|\n| a | 30.12 |\n| b |  |\n"
