"""The adaptive alpha schedule's anchor points and shape."""

import math

import pytest

from fairseq_intradistill.schedule import adaptive_alpha

# The paper's IWSLT'14 setting: alpha 5, p 5, q 10, N 50,000.
ALPHA, P, Q, N = 5.0, 5.0, 10.0, 50_000


def schedule(t):
    return adaptive_alpha(ALPHA, t, N, P, Q)


def test_anchor_points():
    assert schedule(0) == 0.0
    assert schedule(N / Q) == pytest.approx(1.0, rel=1e-12)  # update 5,000
    assert schedule(N / P) == pytest.approx(ALPHA)  # update 10,000
    assert schedule(N) == ALPHA


def test_exponent_and_formula():
    gamma = math.log(1 / ALPHA) / math.log(P / Q)
    assert gamma == pytest.approx(2.3219, abs=1e-4)  # METHOD.md: gamma ~ 2.32
    t = 1234
    assert schedule(t) == pytest.approx(ALPHA * (P * t / N) ** gamma, rel=1e-12)


def test_monotone_then_constant():
    values = [schedule(t) for t in range(0, int(N / P) + 1, 50)]
    assert all(b > a for a, b in zip(values, values[1:]))
    assert {schedule(t) for t in (10_000, 10_001, 30_000, 49_999, 80_000)} == {ALPHA}


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_alpha_at_most_one_is_constant(alpha):
    assert {adaptive_alpha(alpha, t, N, P, Q) for t in (0, 1, 5000, 60_000)} == {alpha}


@pytest.mark.parametrize(
    "p, q, horizon, message",
    [(5, 5, N, "0 < p < q"), (6, 5, N, "0 < p < q"), (0, 10, N, "0 < p < q"), (5, 10, 0, "max_update > 0")],
)
def test_invalid_schedule(p, q, horizon, message):
    with pytest.raises(ValueError, match=message):
        adaptive_alpha(ALPHA, 10, horizon, p, q)
