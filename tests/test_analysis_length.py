"""``analysis length``: the teacher-forced end-of-sentence statistics, on tensors and end to end."""

import math

import pytest
import torch

from fairseq_intradistill.analysis.length import LengthStatistics, distance_to_end

PAD, EOS = 1, 2


def test_distance_to_end_counts_down_to_eos_and_marks_padding():
    target = torch.tensor([[5, 6, 7, EOS], [8, EOS, PAD, PAD]])
    assert distance_to_end(target, PAD).tolist() == [[3, 2, 1, 0], [1, 0, -1, -1]]


def _lprobs(rows):
    """[1, T, V] log-probabilities from rows of probabilities."""
    return torch.tensor([rows], dtype=torch.float64).log()


def test_statistics_by_distance_by_hand():
    # V = 4 (0 and 3 ordinary tokens, PAD 1, EOS 2); one sentence of 3 tokens: 0 3 EOS.
    rows = [
        [0.7, 0.0, 0.1, 0.2],  # d=2: P(eos)=0.1, argmax 0
        [0.2, 0.0, 0.5, 0.3],  # d=1: P(eos)=0.5, argmax EOS (a greedy decoder stops early)
        [0.25, 0.0, 0.5, 0.25],  # d=0: P(eos)=0.5, argmax EOS
    ]
    lp = _lprobs(rows).clamp(min=-1e4)  # log 0 -> a large negative number, as a model's output
    stats = LengthStatistics()
    stats.add(lp, torch.tensor([[0, 3, EOS]]), EOS, PAD)
    s = stats.summary()
    assert s["sentences"] == 1 and s["tokens"] == 3
    assert s["eos_prob_by_distance"]["0"] == pytest.approx(0.5)
    assert s["eos_prob_by_distance"]["1"] == pytest.approx(0.5)
    assert s["eos_prob_by_distance"]["2"] == pytest.approx(0.1)
    assert s["eos_prob_by_distance"]["3"] is None  # no position that far from the end
    assert s["eos_argmax_before"] == pytest.approx(0.5)
    assert s["eos_argmax_end"] == pytest.approx(1.0)

    def h(p):
        return -sum(x * math.log2(x) for x in p if x > 0)

    assert s["entropy_end_bits"] == pytest.approx(h(rows[2]))
    assert s["entropy_before_bits"] == pytest.approx((h(rows[0]) + h(rows[1])) / 2)
    nll = -(math.log2(0.7) + math.log2(0.3) + math.log2(0.5)) / 3
    assert s["nll_bits"] == pytest.approx(nll)


def test_distances_of_five_and_more_share_a_column_and_padding_is_ignored():
    v = 5
    uniform = torch.full((2, 8, v), 1.0 / v).log()
    uniform[1, 3:] = float("nan")  # padding positions: any value there must be ignored
    target = torch.tensor([[0, 3, 4, 0, 3, 4, 0, EOS], [0, 3, 4, EOS, PAD, PAD, PAD, PAD]])
    stats = LengthStatistics()
    stats.add(uniform, target, EOS, PAD)
    s = stats.summary()
    assert stats.positions[5] == 3  # the first sentence's d = 7, 6 and 5
    assert stats.positions[5] + sum(stats.positions[d] for d in range(5)) == s["tokens"] == 12
    assert s["eos_prob_by_distance"]["5+"] == pytest.approx(0.2)
    assert s["entropy_before_bits"] == pytest.approx(math.log2(v))


def test_divergence_is_zero_for_equal_passes_and_matches_the_definition():
    torch.manual_seed(0)
    target = torch.tensor([[0, 3, EOS], [4, EOS, PAD]])
    one = torch.randn(2, 3, 6).log_softmax(-1)
    stats = LengthStatistics()
    stats.add_divergence(torch.stack([one, one, one]), target, PAD)
    assert stats.summary()["divergence_end_bits"] == pytest.approx(0.0, abs=1e-7)

    passes = torch.randn(3, 2, 3, 6).log_softmax(-1)
    stats = LengthStatistics()
    stats.add_divergence(passes, target, PAD)
    p = passes.exp()
    m = p.mean(0)
    # The X-divergence written out: (1/K) sum_i sum_v (p_i - m)(log p_i - log m), in bits.
    x = ((p - m) * (passes - m.log())).sum(-1).mean(0) / math.log(2)
    s = stats.summary()
    assert s["divergence_end_bits"] == pytest.approx(float((x[0, 2] + x[1, 1]) / 2), rel=1e-5)
    assert s["divergence_before_bits"] == pytest.approx(float((x[0, 0] + x[0, 1] + x[1, 0]) / 3), rel=1e-5)
