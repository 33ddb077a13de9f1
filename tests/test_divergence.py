"""The divergences against their definitions, in both implementations."""

import itertools
import math

import pytest
import torch

import fairseq_intradistill.divergence as divergence
from fairseq_intradistill.divergence import intra_distillation_loss

KL_KINDS = ("x", "js", "sym_kl")


def kl(p_log: torch.Tensor, q_log: torch.Tensor) -> torch.Tensor:
    """KL(p || q) per row from log-probabilities, written the textbook way."""
    return (p_log.exp() * (p_log - q_log)).sum(-1)


def reference(lprobs: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-row values from the definitions in METHOD.md / the issue, in float64."""
    lp = lprobs.double()
    k = lp.size(0)
    m = lp.exp().mean(0)
    log_m = m.log()
    if kind == "x":  # (1/K) sum_i [KL(p_i||m) + KL(m||p_i)]
        return sum(kl(lp[i], log_m) + kl(log_m, lp[i]) for i in range(k)) / k
    if kind == "js":
        return sum(kl(lp[i], log_m) for i in range(k)) / k
    if kind == "sym_kl":
        pairs = [(i, j) for i, j in itertools.permutations(range(k), 2)]
        return sum(kl(lp[i], lp[j]) for i, j in pairs) / len(pairs)
    raise AssertionError(kind)


def random_lprobs(k=3, n=17, v=11, scale=2.0, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(k, n, v, generator=g, dtype=dtype) * scale).log_softmax(-1)


@pytest.mark.parametrize("implementation", ["lean", "plain"])
@pytest.mark.parametrize("kind", KL_KINDS)
@pytest.mark.parametrize("k", [2, 3, 5])
def test_matches_definition(kind, k, implementation):
    lprobs = random_lprobs(k=k)
    pad = torch.zeros(lprobs.size(1), dtype=torch.bool)
    pad[[2, 5, 11]] = True
    got = intra_distillation_loss(lprobs, kind, pad_mask=pad, implementation=implementation)
    want = reference(lprobs, kind)[~pad].sum()
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(want.item(), rel=1e-5)


def test_x_divergence_definition_in_the_papers_form():
    lprobs = random_lprobs(k=4)
    p = lprobs.double().exp()
    m = p.mean(0)
    papers = ((p - m) * (p.log() - m.log())).sum(-1).sum(0) / 4  # (1/K) sum_i (p_i - m)(log p_i - log m)
    assert intra_distillation_loss(lprobs, "x").item() == pytest.approx(papers.sum().item(), rel=1e-5)


def test_rdrop_relation_for_two_passes():
    # For K = 2, sym_kl is R-Drop's (KL(p1||p2) + KL(p2||p1)) / 2 and x is half of it.
    lprobs = random_lprobs(k=2)
    rdrop = ((kl(lprobs[0], lprobs[1]) + kl(lprobs[1], lprobs[0])) / 2).sum()
    assert intra_distillation_loss(lprobs, "sym_kl").item() == pytest.approx(rdrop.item(), rel=1e-5)
    assert intra_distillation_loss(lprobs, "x").item() == pytest.approx(rdrop.item() / 2, rel=1e-5)


def test_mse_matches_definition():
    y = torch.randn(3, 8, 4)
    want = sum(((y[i] - y.mean(0)) ** 2).sum(-1) for i in range(3)) / 3
    pad = torch.tensor([False, True] * 4)
    got = intra_distillation_loss(y, "mse", pad_mask=pad)
    assert got.item() == pytest.approx(want[~pad].sum().item(), rel=1e-6)
    # one output per row ([K, N]) is the D = 1 case
    assert intra_distillation_loss(y[..., 0], "mse").item() == pytest.approx(
        (sum((y[i, :, 0] - y[:, :, 0].mean(0)) ** 2 for i in range(3)) / 3).sum().item(), rel=1e-6
    )


@pytest.mark.parametrize("kind", KL_KINDS)
def test_identical_passes_give_zero(kind):
    lp = random_lprobs(k=1).expand(3, -1, -1).contiguous()
    for implementation in ("lean", "plain"):
        assert abs(intra_distillation_loss(lp, kind, implementation=implementation).item()) < 1e-5


def test_single_pass_is_zero_and_differentiable():
    lp = random_lprobs(k=1).requires_grad_()
    loss = intra_distillation_loss(lp, "x")
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(lp.grad) == 0


@pytest.mark.parametrize("kind", KL_KINDS)
def test_lean_equals_plain_value_and_gradient(kind, monkeypatch):
    # A tiny chunk size forces several chunks, including a ragged last one.
    monkeypatch.setattr(divergence, "CHUNK_ELEMENTS", 3 * 11 * 4)
    logits = (torch.randn(3, 23, 11) * 3).requires_grad_()
    pad = torch.rand(23) < 0.3
    results = {}
    for implementation in ("lean", "plain"):
        value = intra_distillation_loss(logits.log_softmax(-1), kind, pad, implementation)
        (grad,) = torch.autograd.grad(value, logits)
        results[implementation] = (value, grad)
    (v_lean, g_lean), (v_plain, g_plain) = results["lean"], results["plain"]
    assert v_lean.item() == pytest.approx(v_plain.item(), rel=1e-5)
    torch.testing.assert_close(g_lean, g_plain, rtol=1e-4, atol=1e-6)
    assert torch.count_nonzero(g_lean[:, pad]) == 0  # padded rows get no gradient


@pytest.mark.parametrize("implementation", ["lean", "plain"])
@pytest.mark.parametrize("kind", KL_KINDS + ("mse",))
def test_gradcheck_float64(kind, implementation):
    x = (torch.randn(3, 6, 5, dtype=torch.float64) * 2).requires_grad_()
    pad = torch.tensor([False, False, True, False, False, False])

    def fn(t):
        inputs = t if kind == "mse" else t.log_softmax(-1)
        return intra_distillation_loss(inputs, kind, pad, implementation)

    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("implementation", ["lean", "plain"])
@pytest.mark.parametrize("kind", KL_KINDS)
def test_extreme_logits_stay_finite(kind, implementation, dtype):
    g = torch.Generator().manual_seed(1)
    logits = (torch.randint(-1, 2, (3, 9, 13), generator=g) * 1e4).to(dtype).requires_grad_()
    # log_softmax in the input's precision, as a half-precision model would produce it
    value = intra_distillation_loss(logits.log_softmax(-1), kind, implementation=implementation)
    (grad,) = torch.autograd.grad(value, logits)
    assert value.dtype == torch.float32
    assert math.isfinite(value.item()) and value.item() >= 0
    assert torch.isfinite(grad.float()).all()


def test_half_precision_input_is_computed_in_float32():
    lp32 = random_lprobs()
    lp16 = lp32.to(torch.bfloat16)
    value = intra_distillation_loss(lp16, "x")
    assert value.dtype == torch.float32
    # the same number as float32 on the bf16-rounded inputs
    assert value.item() == pytest.approx(intra_distillation_loss(lp16.float(), "x").item(), rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="kl"), "unknown divergence"),
        (dict(implementation="fast"), "unknown implementation"),
        (dict(pad_mask=torch.zeros(4, dtype=torch.bool)), "pad_mask must have shape"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        intra_distillation_loss(random_lprobs(), **kwargs)


def test_bad_shape():
    with pytest.raises(ValueError, match=r"\[K, N, V\]"):
        intra_distillation_loss(torch.zeros(3, 4), "x")


def test_math_modules_do_not_import_fairseq():
    import subprocess
    import sys

    code = (
        "import sys, fairseq_intradistill.divergence, fairseq_intradistill.schedule; "
        "glue = ('fairseq_intradistill.criterions', 'fairseq_intradistill.tasks'); "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'fairseq' or m.startswith(glue)]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lean_backward_twice_through_a_retained_graph():
    # The lean form scales its stored gradient in place; a second backward recomputes it.
    lp = random_lprobs().requires_grad_()
    loss = intra_distillation_loss(lp, "x")
    (first,) = torch.autograd.grad(2 * loss, lp, retain_graph=True)
    (second,) = torch.autograd.grad(3 * loss, lp)
    torch.testing.assert_close(first / 2, second / 3)


def test_no_gradient_buffer_without_grad():
    lp = random_lprobs()
    assert not intra_distillation_loss(lp, "x").requires_grad
