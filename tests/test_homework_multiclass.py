"""Tests for the chapter-6 exercise checks: the reference passes, typical mistakes do not."""
import re

import pytest
import torch
import torch.nn.functional as F

from course_pkg.homework import Status, check_quietly


def good_log_softmax(o, dim=-1):
    m = o.amax(dim=dim, keepdim=True).detach()
    return o - m - torch.log(torch.exp(o - m).sum(dim=dim, keepdim=True))


def good_cross_entropy(logits, target):
    return -good_log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).mean()


def no_numbers(message):
    """Feedback may show the student's own value, tolerances, counts and shapes, never a reference value."""
    stripped = re.sub(r"yours is \S+|atol=\S+|rtol=\S+", "", message)
    return not re.search(r"\d\.\d", stripped)


@pytest.mark.parametrize("exercise_id, answer", [
    ("multiclass.log_softmax", good_log_softmax),
    ("multiclass.cross_entropy", good_cross_entropy),
    ("multiclass.fixed_loss", F.cross_entropy),
    ("multiclass.fixed_loss", good_cross_entropy),
])
def test_reference_answers_pass(exercise_id, answer):
    result = check_quietly(exercise_id, answer)
    assert result.status is Status.PASSED, result.message


@pytest.mark.parametrize("exercise_id, answer, name", [
    ("multiclass.log_softmax", lambda o, dim=-1: torch.log_softmax(o, dim), "torch.log_softmax"),
    ("multiclass.log_softmax", lambda o, dim=-1: o - torch.logsumexp(o, dim, keepdim=True), "torch.logsumexp"),
    ("multiclass.cross_entropy", F.cross_entropy, "torch.nn.functional.cross_entropy"),
])
def test_forbidden_shortcuts_are_flagged_as_the_grader_scores_them(exercise_id, answer, name):
    result = check_quietly(exercise_id, answer)
    assert result.status is Status.FLAGGED and name in result.message and "0 points" in result.message, result


@pytest.mark.parametrize("exercise_id", ["multiclass.log_softmax", "multiclass.cross_entropy",
                                         "multiclass.fixed_loss"])
@pytest.mark.parametrize("answer", [None, ...])
def test_unanswered(exercise_id, answer):
    assert check_quietly(exercise_id, answer).status is Status.NOT_ATTEMPTED


@pytest.mark.parametrize("exercise_id", ["multiclass.log_softmax", "multiclass.cross_entropy",
                                         "multiclass.fixed_loss"])
def test_stub_and_raising_answers(exercise_id):
    def stub(*args, **kwargs):
        raise NotImplementedError("replace this")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    assert check_quietly(exercise_id, stub).status is Status.NOT_ATTEMPTED
    result = check_quietly(exercise_id, broken)
    assert result.status is Status.ERROR and "RuntimeError" in result.message


LOG_SOFTMAX_WRONG = {
    "naive log(softmax)": lambda o, dim=-1: torch.log(torch.exp(o) / torch.exp(o).sum(dim, keepdim=True)),
    "log of the stable softmax": lambda o, dim=-1: torch.log(torch.softmax(o, dim)),
    "ignores dim": lambda o, dim=-1: torch.log_softmax(o, -1),
    "softmax, not log-softmax": lambda o, dim=-1: torch.softmax(o, dim),
    "off by a little": lambda o, dim=-1: torch.log_softmax(o, dim) + 1e-3,
    "detached": lambda o, dim=-1: torch.log_softmax(o.detach(), dim),
    "float64 result": lambda o, dim=-1: torch.log_softmax(o.double(), dim),
    "returns a list": lambda o, dim=-1: torch.log_softmax(o, dim).tolist(),
    "detached normalizer": lambda o, dim=-1: o - torch.logsumexp(o, dim, keepdim=True).detach(),
}


@pytest.mark.parametrize("name", sorted(LOG_SOFTMAX_WRONG))
def test_log_softmax_wrong_answers_fail(name):
    result = check_quietly("multiclass.log_softmax", LOG_SOFTMAX_WRONG[name])
    assert result.status in (Status.FAILED, Status.ERROR), name
    assert no_numbers(result.message), result.message


def test_log_softmax_naive_feedback_mentions_stability():
    result = check_quietly("multiclass.log_softmax", LOG_SOFTMAX_WRONG["naive log(softmax)"])
    assert result.status is Status.FAILED
    assert "NaN" in result.message or "inf" in result.message


CROSS_ENTROPY_WRONG = {
    "sum instead of mean": lambda z, y: F.cross_entropy(z, y, reduction="sum"),
    "no reduction": lambda z, y: F.cross_entropy(z, y, reduction="none"),
    "naive log(softmax)": lambda z, y: -torch.log(torch.softmax(z, 1)).gather(1, y.unsqueeze(1)).mean(),
    "positive sign": lambda z, y: torch.log_softmax(z, 1).gather(1, y.unsqueeze(1)).mean(),
    "softmax first": lambda z, y: F.cross_entropy(torch.softmax(z, 1), y),
    "label smoothing": lambda z, y: F.cross_entropy(z, y, label_smoothing=0.1),
    "detached": lambda z, y: F.cross_entropy(z.detach(), y),
    "wrong class (target + 1 mod C)": lambda z, y: F.cross_entropy(z, (y + 1) % z.shape[1]),
}


@pytest.mark.parametrize("exercise_id", ["multiclass.cross_entropy", "multiclass.fixed_loss"])
@pytest.mark.parametrize("name", sorted(CROSS_ENTROPY_WRONG))
def test_cross_entropy_wrong_answers_fail(exercise_id, name):
    result = check_quietly(exercise_id, CROSS_ENTROPY_WRONG[name])
    assert result.status in (Status.FAILED, Status.ERROR), name
    assert no_numbers(result.message), result.message


def test_fixed_loss_names_the_double_softmax():
    result = check_quietly("multiclass.fixed_loss", CROSS_ENTROPY_WRONG["softmax first"])
    assert result.status is Status.FAILED
    assert "softmax" in result.message


def test_fixed_loss_log_of_softmax_overflows():
    def log_of_softmax(z, y):
        return F.nll_loss(torch.log(torch.softmax(z, 1)), y)

    result = check_quietly("multiclass.fixed_loss", log_of_softmax)
    assert result.status is Status.FAILED
    assert "inf" in result.message or "NaN" in result.message


def global_shift_log_softmax(o, dim=-1):
    """Shifted by the maximum of the whole tensor instead of each row's: -inf on [[0, 1], [1000, 0]]."""
    m = o.max().detach()
    return o - m - torch.log(torch.exp(o - m).sum(dim=dim, keepdim=True))


def test_a_shift_by_one_global_maximum_fails():
    result = check_quietly("multiclass.log_softmax", global_shift_log_softmax)
    assert result.status is Status.FAILED and "inf" in result.message, result
    ce = check_quietly("multiclass.cross_entropy",
                       lambda z, y: -global_shift_log_softmax(z, 1).gather(1, y.unsqueeze(1)).mean())
    assert ce.status is Status.FAILED, ce


@pytest.mark.parametrize("exercise_id", ["multiclass.cross_entropy", "multiclass.fixed_loss"])
def test_a_sum_instead_of_the_mean_is_named(exercise_id):
    result = check_quietly(exercise_id, CROSS_ENTROPY_WRONG["sum instead of mean"])
    assert result.status is Status.FAILED and "sum over the batch" in result.message, result
    manual_sum = check_quietly(exercise_id, lambda z, y: -torch.log_softmax(z, 1).gather(1, y.unsqueeze(1)).sum())
    assert manual_sum.status is Status.FAILED and "sum over the batch" in manual_sum.message, manual_sum


def test_the_gap_case_labels_show_the_rows_so_a_failing_index_can_be_read():
    naive = check_quietly("multiclass.log_softmax", LOG_SOFTMAX_WRONG["naive log(softmax)"])
    assert "[0, 1000, -5]" in naive.message, naive
