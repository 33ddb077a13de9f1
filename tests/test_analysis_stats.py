"""The analysis math on bare tensors: sensitivity, summary statistics, histogram, pruning, KD divergence."""

import math

import numpy as np
import pytest
import torch

from fairseq_intradistill.analysis import stats
from fairseq_intradistill.distillation import teacher_divergence, teacher_divergence_rows


def _linear_batches(seed=0):
    torch.manual_seed(seed)
    layer = torch.nn.Linear(4, 3)
    batches = [(torch.randn(5, 4), torch.randn(5, 3)), (torch.randn(2, 4), torch.randn(2, 3))]
    return layer, batches


def _grads(layer, x, y):
    layer.zero_grad()
    ((layer(x) - y) ** 2).sum().backward()
    return {n: p.grad.clone() for n, p in layer.named_parameters()}


def test_sensitivity_is_theta_times_grad_by_hand():
    layer, batches = _linear_batches()
    acc = stats.SensitivityAccumulator(layer.named_parameters())
    grads = []
    for x, y in batches:
        grads.append(_grads(layer, x, y))
        acc.add(num_tokens=x.size(0))
    scores = acc.scores()
    n = sum(x.size(0) for x, _ in batches)
    for name, p in layer.named_parameters():
        by_hand = sum((p.detach() * g[name]).abs() for g in grads) / n
        torch.testing.assert_close(scores[name], by_hand)


def test_subset_mode_takes_the_gradient_of_the_whole_subset():
    layer, batches = _linear_batches()
    acc = stats.SensitivityAccumulator(layer.named_parameters(), mode="subset")
    grads = []
    for x, y in batches:
        grads.append(_grads(layer, x, y))
        acc.add(num_tokens=x.size(0))
    scores = acc.scores()
    for name, p in layer.named_parameters():
        by_hand = (p.detach() * sum(g[name] for g in grads)).abs() / 7
        torch.testing.assert_close(scores[name], by_hand)
    # The two modes agree on one batch and differ (no cancellation) on several.
    assert not torch.allclose(scores["weight"], stats.SensitivityAccumulator(layer.named_parameters()).views["weight"])


def test_accumulator_is_one_flat_buffer_and_counts_tied_weights_once():
    emb = torch.nn.Embedding(6, 4)
    proj = torch.nn.Linear(4, 6, bias=False)
    proj.weight = emb.weight  # tied, as with --share-decoder-input-output-embed
    named = list(emb.named_parameters(prefix="emb")) + list(proj.named_parameters(prefix="proj"))
    acc = stats.SensitivityAccumulator(named)
    assert acc.buffer.numel() == 24 and list(acc.views) == ["emb.weight"]
    assert acc.views["emb.weight"].data_ptr() == acc.buffer.data_ptr()
    # Memory does not grow with the number of batches.
    for _ in range(5):
        emb.zero_grad()
        proj(emb(torch.tensor([1, 2]))).sum().backward()
        acc.add(2)
    assert acc.buffer.numel() == 24 and acc.batches == 5


def test_accumulator_rejects_bad_input():
    layer, _ = _linear_batches()
    with pytest.raises(ValueError, match="mode"):
        stats.SensitivityAccumulator(layer.named_parameters(), mode="mean")
    acc = stats.SensitivityAccumulator(layer.named_parameters())
    with pytest.raises(ValueError, match="no batch"):
        acc.scores()
    with pytest.raises(ValueError, match="num_tokens"):
        acc.add(0)


@pytest.mark.parametrize("n", [1, 7, 1000, 12345])
def test_summary_matches_numpy(n, monkeypatch):
    monkeypatch.setattr(stats, "CHUNK", 1000)  # exercise the chunked reductions
    rng = np.random.default_rng(n)
    values = (rng.lognormal(-8, 2, size=n)).astype(np.float32)
    values[: n // 10] = 0.0
    s = stats.summarize(torch.from_numpy(values.copy()))
    x = values.astype(np.float64)
    assert s["count"] == n
    assert s["mean"] == pytest.approx(x.mean(), rel=1e-9)
    assert s["std"] == pytest.approx(x.std(), rel=1e-7)
    for q, v in s["quantiles"].items():
        assert v == pytest.approx(float(np.quantile(values, float(q))), rel=1e-6, abs=1e-30)
    k = math.ceil(0.2 * n)
    assert s["top_share"] == pytest.approx(np.sort(x)[::-1][:k].sum() / x.sum(), rel=1e-7)
    assert s["zeros"] == int((values == 0).sum())


def test_summary_sort_in_place_sorts_the_given_tensor_and_keeps_the_numbers():
    t = torch.tensor([3.0, 1.0, 2.0, 0.0, 5.0])
    copy = stats.summarize(t.clone())
    inplace = stats.summarize(t, sort_in_place=True)
    assert copy == inplace
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0, 5.0]
    assert inplace["top_share"] == pytest.approx(5 / 11)


def test_log_histogram_counts_every_positive_value_and_the_zeros():
    values = np.array([0.0, 0.0, 1e-6, 1e-4, 1e-4, 1e-2, 1.0], dtype=np.float32)
    h = stats.log_histogram(values, bins=6)
    assert h["zeros"] == 2 and sum(h["counts"]) == 5 and h["count"] == 7
    assert h["edges"][0] <= 1e-6 and h["edges"][-1] >= 1.0
    edges = np.array(h["edges"])
    assert np.allclose(np.diff(np.log10(edges)), np.log10(edges[1] / edges[0]))  # log-spaced
    assert stats.log_histogram(np.zeros(3))["counts"] == []


def test_module_statistics_group_weight_and_bias():
    scores = {
        "a.fc.weight": torch.tensor([1.0, 3.0]),
        "a.fc.bias": torch.tensor([2.0]),
        "embed_tokens.weight": torch.tensor([4.0]),
    }
    rows = {r["module"]: r for r in stats.module_statistics(scores)}
    assert rows["a.fc"]["count"] == 3 and rows["a.fc"]["mean"] == pytest.approx(2.0)
    assert rows["a.fc"]["std"] == pytest.approx(np.std([1.0, 3.0, 2.0]))
    assert rows["a.fc"]["share"] == pytest.approx(0.6) and rows["embed_tokens"]["embedding"]


def test_parse_fractions():
    assert stats.parse_fractions("0,0.1,...,0.9") == pytest.approx([i / 10 for i in range(10)])
    assert stats.parse_fractions("0.5, 0, 1, 0.5") == [0.0, 0.5, 1.0]
    for bad, message in (("1.5", "outside"), ("-0.1", "outside"), ("x", "not a number"), ("0,...,1", "two values")):
        with pytest.raises(ValueError, match=message):
            stats.parse_fractions(bad)


def test_global_pruning_takes_exactly_the_least_sensitive():
    scores = {"a": torch.tensor([[0.5, 0.1], [0.9, 0.3]]), "b": torch.tensor([0.2, 0.1, 0.7])}
    flat = torch.cat([s.reshape(-1) for s in scores.values()])
    for fraction in (0.0, 0.3, 0.5, 1.0):
        masks = stats.global_prune_masks(scores, fraction)
        k = round(fraction * flat.numel())
        pruned = torch.cat([m.reshape(-1) for m in masks.values()])
        assert int(pruned.sum()) == k  # the ties at 0.1 are split exactly
        if 0 < k < flat.numel():
            assert flat[pruned].max() <= flat[~pruned].min()
    with pytest.raises(ValueError, match="outside"):
        stats.global_prune_masks(scores, 1.2)


def test_pruning_all_of_a_module_masks_every_entry():
    scores = {"decoder.fc.weight": torch.rand(4, 3), "decoder.fc.bias": torch.zeros(4)}
    masks = stats.global_prune_masks(scores, 1.0)
    assert all(bool(m.all()) for m in masks.values())
    assert not any(bool(m.any()) for m in stats.global_prune_masks(scores, 0.0).values())


def test_is_embedding():
    assert stats.is_embedding("encoder.embed_tokens.weight")
    assert stats.is_embedding("decoder.output_projection.weight")
    assert stats.is_embedding("decoder.embed_positions.weight")
    assert not stats.is_embedding("decoder.layers.0.fc1.weight")
    # Transformers' BERT-style names (the analysis of GLUE models).
    assert stats.is_embedding("bert.embeddings.word_embeddings.weight")
    assert stats.is_embedding("roberta.embeddings.position_embeddings.weight")
    assert stats.is_embedding("bert.embeddings.token_type_embeddings.weight")
    assert not stats.is_embedding("bert.embeddings.LayerNorm.weight")
    assert not stats.is_embedding("bert.encoder.layer.0.attention.self.query.weight")


def test_teacher_divergence_by_hand():
    torch.manual_seed(0)
    ls = torch.randn(5, 7).log_softmax(-1).requires_grad_()
    lt = torch.randn(5, 7).log_softmax(-1)
    ps, pt = ls.exp(), lt.exp()
    kl = (pt * (lt - ls)).sum(-1)
    torch.testing.assert_close(teacher_divergence_rows(ls, lt, "kl"), kl)
    m = (ps + pt) / 2
    x = 0.5 * (((ps - m) * (ls - m.log())).sum(-1) + ((pt - m) * (lt - m.log())).sum(-1))
    torch.testing.assert_close(teacher_divergence_rows(ls, lt, "x"), x)
    pad = torch.tensor([False, True, False, False, True])
    total = teacher_divergence(ls, lt, "kl", pad)
    torch.testing.assert_close(total, kl[~pad].sum())
    total.backward()  # only the student gets a gradient; padded rows get none
    assert ls.grad[pad].abs().sum() == 0 and ls.grad[~pad].abs().sum() > 0
    assert float(teacher_divergence(lt, lt, "x")) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="unknown teacher divergence"):
        teacher_divergence(ls, lt, "js")
