"""The criterion and task in-process, on a tiny model built by fairseq from the tiny corpus."""

import copy
import math
import re

import pytest
import torch
from conftest import TINY_MODEL
from fairseq import options, tasks
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    label_smoothed_nll_loss,
)
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

import fairseq_intradistill.plugin  # noqa: F401  (registers the criterion and task)
from fairseq_intradistill.compat import metrics
from fairseq_intradistill.criterions.intra_distillation import IntraDistillationCriterion
from fairseq_intradistill.schedule import adaptive_alpha


def build(toy_bin, *extra, task="translation_intra_distillation", criterion="intra_distillation"):
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser,
        [
            str(toy_bin),
            "--task",
            task,
            "--criterion",
            criterion,
            "--label-smoothing",
            "0.1",
            "--max-update",
            "100",
            *TINY_MODEL,
            *extra,
        ],
    )
    cfg = convert_namespace_to_omegaconf(args)
    the_task = tasks.setup_task(cfg.task)
    the_task.load_dataset("valid")
    torch.manual_seed(0)
    model = the_task.build_model(cfg.model)
    itr = the_task.get_batch_iterator(the_task.dataset("valid"), max_tokens=400).next_epoch_itr(shuffle=False)
    return the_task, model, the_task.build_criterion(cfg.criterion), next(iter(itr))


NO_DROPOUT = ("--dropout", "0", "--attention-dropout", "0", "--activation-dropout", "0")


def loss_and_grads(model, criterion, sample, seed=1):
    model.zero_grad()
    torch.manual_seed(seed)
    loss, sample_size, log = criterion(model, sample)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}, log


def test_batched_and_sequential_agree_without_dropout(toy_bin):
    task, model, criterion, sample = build(toy_bin, "--num-passes", "3", *NO_DROPOUT)
    model.train()
    loss_b, grads_b, log_b = loss_and_grads(model, criterion, sample)
    criterion.pass_mode = "sequential"
    loss_s, grads_s, log_s = loss_and_grads(model, criterion, sample)
    assert loss_b.item() == pytest.approx(loss_s.item(), rel=1e-5)
    # float32 sums in a different order (one 3B-row batch vs three B-row batches): equal up
    # to rounding relative to the largest gradient (some, like the key biases, are ~0).
    scale = max(g.abs().max().item() for g in grads_b.values())
    for name in grads_b:
        torch.testing.assert_close(grads_b[name], grads_s[name], rtol=1e-4, atol=1e-5 * scale)
    # with every dropout off the K passes are identical: zero divergence
    assert abs(log_b["intra_distillation_loss"].item()) < 1e-4
    assert abs(log_s["intra_distillation_loss"].item()) < 1e-4


def x_divergence_by_hand(model, sample, k, pad):
    """The X-divergence of K forwards, summed over the real target positions: the paper's
    formula written out here (not ``divergence.py``), in float64."""
    passes = torch.stack(
        [model.get_normalized_probs(model(**sample["net_input"]), log_probs=True).detach() for _ in range(k)]
    ).double()
    p = passes.exp()
    m = p.mean(0)
    per_position = ((p - m) * (passes - m.log())).sum(-1).mean(0)  # [B, T]
    return per_position[sample["target"].ne(pad)].sum().item()


def test_dropout_makes_passes_differ_and_loss_adds_alpha_times_divergence(toy_bin):
    # Sequential passes, so that K forwards here draw the criterion's dropout masks.
    task, model, criterion, sample = build(toy_bin, "--num-passes", "3", "--alpha", "2", "--pass-mode", "sequential")
    model.train()
    torch.manual_seed(3)
    loss, sample_size, log = criterion(model, sample)
    torch.manual_seed(3)
    div = x_divergence_by_hand(model, sample, 3, task.target_dictionary.pad())
    assert div > 1e-3
    # loss = mean CE over passes + alpha * divergence; recompute the CE part with alpha 0
    criterion.alpha = 0.0
    torch.manual_seed(3)
    loss0, _, log0 = criterion(model, sample)
    assert loss.item() == pytest.approx(loss0.item() + 2 * div, rel=1e-5)
    assert log["alpha_weighted"] == 2 * sample_size
    assert sample_size == sample["ntokens"]  # normalised by one copy of the batch


def test_one_pass_alpha_zero_equals_label_smoothed_cross_entropy(toy_bin):
    task, model, criterion, sample = build(toy_bin, "--num-passes", "1", "--alpha", "0")
    stock = LabelSmoothedCrossEntropyCriterion(task, False, 0.1)
    model.train()
    ours = loss_and_grads(model, criterion, sample, seed=5)
    theirs = loss_and_grads(model, stock, sample, seed=5)
    assert ours[0].item() == theirs[0].item()
    for name in ours[1]:
        assert torch.equal(ours[1][name], theirs[1][name])


def test_sample_is_not_modified(toy_bin):
    for mode in ("batched", "sequential"):
        task, model, criterion, sample = build(toy_bin, "--num-passes", "3", "--pass-mode", mode)
        before = copy.deepcopy(sample)
        model.train()
        criterion(model, sample)
        assert sample.keys() == before.keys()
        for key in ("id", "target", "ntokens", "nsentences"):
            assert torch.equal(torch.as_tensor(sample[key]), torch.as_tensor(before[key]))
        for key, value in before["net_input"].items():
            assert torch.equal(sample["net_input"][key], value), key


def test_validation_is_one_pass_and_comparable(toy_bin):
    task, model, criterion, sample = build(toy_bin, "--num-passes", "3")
    stock = LabelSmoothedCrossEntropyCriterion(task, False, 0.1)
    loss, _, log = task.valid_step(sample, model, criterion)
    stock_loss, _, stock_log = task.valid_step(sample, model, stock)
    assert loss.item() == pytest.approx(stock_loss.item(), rel=1e-6)
    assert log["nll_loss"].item() == pytest.approx(stock_log["nll_loss"].item(), rel=1e-6)
    assert "intra_distillation_loss" not in log and "alpha_weighted" not in log


class _Optimizer:
    """The part of fairseq's optimizer interface that Task.train_step uses."""

    def backward(self, loss):
        loss.backward()


@pytest.mark.parametrize("update_num", [0, 5, 10, 20, 60])
def test_task_feeds_the_update_number_to_the_schedule(toy_bin, update_num):
    task, model, criterion, sample = build(
        toy_bin, "--num-passes", "2", "--alpha", "5", "--adaptive-alpha", "--alpha-p", "5", "--alpha-q", "10"
    )
    _, sample_size, log = task.train_step(sample, model, criterion, _Optimizer(), update_num)
    # horizon N = --max-update 100, α = 5, p = 5, q = 10: γ = log(1/5)/log(1/2) = log2(5), so
    # α_t = 5·(t/20)^γ; at t = 5, (1/4)^log2(5) = 1/25 and α_t = 0.2; from t = N/p = 20 on, α.
    expected = {0: 0.0, 5: 0.2, 10: 1.0, 20: 5.0, 60: 5.0}[update_num]
    assert log["alpha_weighted"] / sample_size == pytest.approx(expected)
    assert adaptive_alpha(5.0, update_num, 100, 5.0, 10.0) == pytest.approx(expected)


def test_alpha_max_update_overrides_the_horizon(toy_bin):
    task, model, criterion, sample = build(
        toy_bin, "--num-passes", "2", "--adaptive-alpha", "--alpha-max-update", "1000"
    )
    criterion.set_num_updates(100)  # N/q with N = 1000, q = 10
    assert criterion.current_alpha() == pytest.approx(1.0)


def test_reduce_metrics_over_summed_micro_batches():
    # fairseq sums logging outputs over --update-freq and workers before reduce_metrics
    logs = [
        {
            "loss": torch.tensor(30.0),
            "nll_loss": torch.tensor(20.0),
            "intra_distillation_loss": torch.tensor(4.0),
            "alpha_weighted": 2.5 * 10,
            "ntokens": 10,
            "nsentences": 2,
            "sample_size": 10,
        },
        {
            "loss": torch.tensor(60.0),
            "nll_loss": torch.tensor(40.0),
            "intra_distillation_loss": torch.tensor(2.0),
            "alpha_weighted": 2.5 * 30,
            "ntokens": 30,
            "nsentences": 3,
            "sample_size": 30,
        },
    ]
    assert IntraDistillationCriterion.logging_outputs_can_be_summed()
    summed = {k: sum(log[k] for log in logs) for k in logs[0]}
    for outputs in (logs, [summed]):
        with metrics.aggregate() as agg:
            IntraDistillationCriterion.reduce_metrics(outputs)
        values = agg.get_smoothed_values()
        assert values["alpha"] == pytest.approx(2.5)
        assert values["intra_distillation_loss"] == pytest.approx(6.0 / 40 / math.log(2), abs=1e-4)
        assert values["loss"] == pytest.approx(90.0 / 40 / math.log(2), abs=1e-3)
        assert values["nll_loss"] == pytest.approx(60.0 / 40 / math.log(2), abs=1e-3)


def test_accuracy_counts_the_first_pass_in_both_modes(toy_bin):
    # Without dropout the K passes equal one pass, so everything must equal the stock
    # criterion's, with --report-accuracy and --ignore-prefix-size, in both pass modes.
    flags = ("--num-passes", "3", "--report-accuracy", "--ignore-prefix-size", "1", *NO_DROPOUT)
    task, model, criterion, sample = build(toy_bin, *flags)
    stock = LabelSmoothedCrossEntropyCriterion(task, False, 0.1, ignore_prefix_size=1, report_accuracy=True)
    model.train()
    stock_loss, _, stock_log = stock(model, sample)
    assert stock_log["total"] == sample["target"][:, 1:].ne(task.target_dictionary.pad()).sum().item()
    for mode in ("batched", "sequential"):
        criterion.pass_mode = mode
        loss, _, log = criterion(model, sample)
        assert (log["n_correct"], log["total"]) == (stock_log["n_correct"], stock_log["total"]), mode
        assert loss.item() == pytest.approx(stock_loss.item(), rel=1e-5), mode
        assert abs(log["intra_distillation_loss"].item()) < 1e-4, mode


@pytest.mark.parametrize("mode", ["batched", "sequential"])
def test_unreduced_losses_are_per_position_and_sum_to_the_reduced(toy_bin, mode):
    task, model, criterion, sample = build(
        toy_bin, "--num-passes", "3", "--alpha", "2", "--ignore-prefix-size", "1", "--pass-mode", mode
    )
    model.train()
    torch.manual_seed(7)
    loss, _, log = criterion(model, sample)
    torch.manual_seed(7)  # the same dropout masks
    rows_loss, _, rows_log = criterion(model, sample, reduce=False)
    positions = sample["target"][:, 1:].numel()  # one copy of the batch, prefix removed
    for key in ("loss", "nll_loss", "intra_distillation_loss"):
        assert rows_log[key].shape == (positions, 1), key
        assert rows_log[key].sum().item() == pytest.approx(log[key].item(), rel=1e-4), key
    assert rows_log["intra_distillation_loss"].sum().item() > 0
    pad = sample["target"][:, 1:].reshape(-1).eq(task.target_dictionary.pad())
    assert pad.any() and rows_loss[pad].abs().max().item() == 0.0  # padding adds nothing


def test_rdrop_loss_is_twice_ours_at_half_alpha(toy_bin):
    # R-Drop (reg_label_smoothed_cross_entropy, --reg-alpha A) on a batch duplicated once:
    # label-smoothed cross-entropy summed over both copies + A · Σ_tokens (KL(p‖q) + KL(q‖p)) / 2,
    # divided by the sample size of one copy.  Ours averages the cross-entropy over the K
    # passes, so R-Drop(A) = 2 · ours(--num-passes 2 --divergence sym_kl --alpha A/2).
    reg_alpha = 5.0
    task, model, criterion, sample = build(
        toy_bin, "--num-passes", "2", "--divergence", "sym_kl", "--alpha", str(reg_alpha / 2)
    )
    model.train()
    torch.manual_seed(11)
    ours, sample_size, _ = criterion(model, sample)

    torch.manual_seed(11)  # batched mode runs the duplicated batch, as R-Drop does: same masks
    doubled = {
        key: torch.cat([value, value]) if torch.is_tensor(value) else value
        for key, value in sample["net_input"].items()
    }
    lprobs = model.get_normalized_probs(model(**doubled), log_probs=True)
    target = sample["target"]
    pad = target.eq(task.target_dictionary.pad())
    ce, _ = label_smoothed_nll_loss(
        lprobs.view(-1, lprobs.size(-1)),
        torch.cat([target, target]).view(-1),
        0.1,
        ignore_index=task.target_dictionary.pad(),
    )
    p_log, q_log = lprobs.chunk(2)
    kl_pq = (p_log.exp() * (p_log - q_log)).sum(-1)
    kl_qp = (q_log.exp() * (q_log - p_log)).sum(-1)
    rdrop = ce + reg_alpha * ((kl_pq + kl_qp) / 2).masked_fill(pad, 0.0).sum()
    assert sample_size == sample["ntokens"]  # the same divisor on both sides (no --sentence-avg)
    assert 2 * ours.item() == pytest.approx(rdrop.item(), rel=1e-5)


def test_divergence_covers_every_real_target_position_and_eos_and_no_padding(toy_bin):
    """The criterion's divergence, recomputed from three forwards with the same dropout masks.

    Written out independently of ``divergence.py``: per target position, the X-divergence of
    the three passes; padding positions excluded, every real position (EOS included) counted.
    """
    task, model, criterion, sample = build(toy_bin, "--num-passes", "3", "--alpha", "1", "--pass-mode", "sequential")
    model.train()
    torch.manual_seed(11)
    _, _, log = criterion(model, sample)
    torch.manual_seed(11)  # the criterion's K sequential forwards draw these same masks
    passes = torch.stack(
        [model.get_normalized_probs(model(**sample["net_input"]), log_probs=True).detach() for _ in range(3)]
    ).double()
    p = passes.exp()
    log_m = p.mean(0).log()
    per_position = ((p - log_m.exp()) * (passes - log_m)).sum(-1).mean(0)  # [B, T]
    target = sample["target"]
    pad, eos = task.target_dictionary.pad(), task.target_dictionary.eos()
    real = target.ne(pad)
    assert (~real).any(), "the batch must hold padding for this test to mean anything"
    expected = per_position[real].sum().item()
    assert log["intra_distillation_loss"].item() == pytest.approx(expected, rel=1e-4)
    # EOS ends every target and its rows count: leaving them out changes the sum.
    at_eos = per_position[target.eq(eos)].sum().item()
    assert target.eq(eos).sum().item() == target.size(0) and at_eos > 1e-3 * expected


# Each refused as fairseq-train refuses it: parsed by fairseq, then the criterion built by the task.
# tests/test_cli.py runs two of them through fairseq-train itself (stops before training).
BAD_CONFIGS = [
    (["--num-passes", "0"], "--num-passes must be >= 1"),
    (["--alpha", "-1"], "--alpha must be >= 0"),
    (["--adaptive-alpha", "--alpha-p", "10", "--alpha-q", "10"], "--alpha-p must be < --alpha-q"),
    (["--adaptive-alpha", "--alpha-p", "0"], "--alpha-p must be > 0"),
    (["--adaptive-alpha", "--alpha-max-update", "-1"], "--alpha-max-update must be >= 0"),
    (["--adaptive-alpha", "--max-update", "0"], "--adaptive-alpha needs a horizon"),
    (["--divergence", "mse"], "--divergence mse is for regression outputs"),
]


@pytest.mark.parametrize("flags, message", BAD_CONFIGS)
def test_bad_configurations_are_refused_when_the_criterion_is_built(toy_bin, flags, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build(toy_bin, *flags)


def test_adaptive_alpha_needs_the_task_that_feeds_the_update_number(toy_bin):
    with pytest.raises(ValueError, match="--adaptive-alpha needs --task translation_intra_distillation"):
        build(toy_bin, "--adaptive-alpha", task="translation")
    build(toy_bin, "--adaptive-alpha")  # the plugin's task: accepted


def test_unknown_divergence_is_an_argument_error(toy_bin, capsys):
    with pytest.raises(SystemExit):
        build(toy_bin, "--divergence", "kl")
    assert "argument --divergence: invalid choice: 'kl'" in capsys.readouterr().err
