"""Tests for the chapter-4 exercise checks: the reference passes, typical mistakes do not."""
import re

import pytest
import torch
import torch.nn.functional as F

from course_pkg.homework import Status, check_quietly
from course_pkg.transforms import softplus


def good_softplus(o):
    """Branch-wise log(1 + e^o): each branch only ever exponentiates a number <= 0."""
    # Safe inputs written with torch.where, not clamp: at o = 0 the selected branch keeps slope 1 on every torch
    # version (clamp's gradient at its bound is 1 before torch 2.14.0 and 0 from 2.14.0 on).
    pos = torch.where(o > 0, o, 0.0)
    neg = torch.where(o > 0, 0.0, o)
    return torch.where(o > 0, o + torch.log1p(torch.exp(-pos)), torch.log1p(torch.exp(neg)))


class _Softplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, o):
        ctx.save_for_backward(o)
        return o.clamp(min=0) + torch.log1p(torch.exp(-o.abs()))

    @staticmethod
    def backward(ctx, grad):
        (o,) = ctx.saved_tensors
        return grad * torch.sigmoid(o)


def no_numbers(message):
    """Feedback may show the student's own value, tolerances, counts and shapes, never a reference value."""
    stripped = re.sub(r"yours is \S+|atol=\S+|rtol=\S+|1e-\d+|o = -?\d+", "", message)
    return not re.search(r"\d\.\d", stripped)


@pytest.mark.parametrize("answer", [
    good_softplus,
    _Softplus.apply,
    lambda o: torch.logaddexp(o, torch.zeros_like(o)),
])
def test_softplus_reference_answers_pass(answer):
    result = check_quietly("positive.softplus", answer)
    assert result.status is Status.PASSED, result.message


def test_the_reference_softplus_is_flagged():
    result = check_quietly("positive.softplus", softplus)
    assert result.status is Status.FLAGGED and "course_pkg.transforms.softplus" in result.message, result


@pytest.mark.parametrize("answer", [
    good_softplus,
    F.softplus,
    torch.nn.Softplus(),
    lambda o: softplus(o) + 1e-7,
    # the standard compact stable softplus: exact values, a one-sided gradient only at exactly o = 0, which the
    # head exercise ("any correct method") does not ask about
    lambda o: torch.clamp(o, min=0) + torch.log1p(torch.exp(-o.abs())),
    lambda o: torch.relu(o) + torch.log1p(torch.exp(-torch.abs(o))),
])
def test_positive_head_reference_answers_pass(answer):
    result = check_quietly("positive.positive_head", answer)
    assert result.status is Status.PASSED, result.message


SOFTPLUS_WRONG = {
    # exact values, but autograd of clamp/abs gives gradient 1 (torch < 2.14.0) or 0 (from 2.14.0) at o = 0, not 1/2
    "kink at zero": (lambda o: o.clamp(min=0) + torch.log1p(torch.exp(-o.abs())), "gradient on o = 0"),
    "naive overflow": (lambda o: torch.log(1 + torch.exp(o)), "±1000"),
    "where NaN gradient": (lambda o: torch.where(o > 0, o + torch.log1p(torch.exp(-o)), torch.log1p(torch.exp(o))),
                           "NaN"),
    "F.softplus threshold": (F.softplus, "between 15 and 40"),
    "log(1+tiny)": (lambda o: torch.where(o > 0, o + torch.log(1 + torch.exp(-torch.where(o > 0, o, 0.0))),
                                          torch.log(1 + torch.exp(torch.where(o > 0, 0.0, o)))), "far below 0"),
    "relu": (torch.relu, "differ"),
    "float32 result": (lambda o: softplus(o.float()), "dtype"),
    "detached": (lambda o: softplus(o).detach(), "detached"),
    "numpy": (lambda o: softplus(o).detach().numpy(), "NumPy"),
    "off by a little": (lambda o: softplus(o) * (1 + 1e-4), "differ"),
}


@pytest.mark.parametrize("name", sorted(SOFTPLUS_WRONG))
def test_softplus_wrong_answers_fail_helpfully(name):
    answer, fragment = SOFTPLUS_WRONG[name]
    result = check_quietly("positive.softplus", answer)
    assert result.status is Status.FAILED, (name, result)
    assert fragment in result.message, (name, result.message)
    assert no_numbers(result.message), result.message


HEAD_WRONG = {
    "relu dies": (torch.relu, "dies"),
    "naive overflow": (lambda o: torch.log(1 + torch.exp(o)), "overflows"),
    "where NaN gradient": (lambda o: torch.where(o > 20, o, torch.log1p(torch.exp(o))), "torch.where"),
    "exp head": (torch.exp, "overflows"),
    "shifted": (lambda o: softplus(o) + 0.1, "differ"),
    "beta 2": (lambda o: softplus(o, beta=2.0), "differ"),
    "wrong shape": (lambda o: softplus(o).sum(), "shape"),
    "detached": (lambda o: softplus(o).detach(), "detached"),
}


@pytest.mark.parametrize("name", sorted(HEAD_WRONG))
def test_positive_head_wrong_answers_fail_helpfully(name):
    answer, fragment = HEAD_WRONG[name]
    result = check_quietly("positive.positive_head", answer)
    assert result.status is Status.FAILED, (name, result)
    assert fragment in result.message, (name, result.message)
    assert no_numbers(result.message), result.message


@pytest.mark.parametrize("exercise_id", ["positive.softplus", "positive.positive_head"])
def test_unanswered_raising_and_non_functions(exercise_id):
    def stub(o):
        raise NotImplementedError("replace this")

    def broken(o):
        raise RuntimeError("boom")

    assert check_quietly(exercise_id, None).status is Status.NOT_ATTEMPTED
    assert check_quietly(exercise_id, ...).status is Status.NOT_ATTEMPTED
    assert check_quietly(exercise_id, stub).status is Status.NOT_ATTEMPTED
    result = check_quietly(exercise_id, broken)
    assert result.status is Status.ERROR and "RuntimeError" in result.message
    assert check_quietly(exercise_id, "softplus").status is Status.FAILED
    assert check_quietly(exercise_id, lambda o: None).status is Status.FAILED


def test_checks_leave_global_state_alone():
    before = torch.is_grad_enabled(), torch.get_default_dtype()
    with torch.no_grad():
        assert check_quietly("positive.softplus", good_softplus).passed
    assert (torch.is_grad_enabled(), torch.get_default_dtype()) == before
