"""Tests for chapter 5's exercise checks."""
import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg import decisions as B
from course_pkg.losses import bce_with_logits

from course_pkg.homework import Status, check_quietly

F64 = torch.float64


def _validated(fn):
    def wrapped(z, y):
        if z.shape != y.shape:
            raise ValueError("shapes differ")
        return fn(z, y)
    return wrapped


GOOD_BCE = _validated(lambda z, y: (torch.logaddexp(torch.zeros_like(z), z) - y * z).mean())


def test_bce_reference_answers_pass():
    assert check_quietly("binary.bce_with_logits", GOOD_BCE).passed
    # The exercise forbids PyTorch's loss: the notebook says so, as the grader scores it (0 points).
    flagged = check_quietly("binary.bce_with_logits", F.binary_cross_entropy_with_logits)
    assert flagged.status is Status.FLAGGED and "binary_cross_entropy_with_logits" in flagged.message, flagged
    assert check_quietly("binary.fixed_loss", torch.nn.BCEWithLogitsLoss()).passed
    assert check_quietly("binary.fixed_loss", bce_with_logits).passed


@pytest.mark.parametrize("answer, status", [
    (None, Status.NOT_ATTEMPTED),
    (..., Status.NOT_ATTEMPTED),
    ("bce", Status.FAILED),
    (_validated(lambda z, y: (F.softplus(z) - y * z).sum()), Status.FAILED),          # sum, not mean
    (_validated(lambda z, y: F.softplus(z) - y * z), Status.FAILED),                   # no reduction
    (_validated(lambda z, y: 1.001 * (F.softplus(z) - y * z).mean()), Status.FAILED),   # off by a little
    (_validated(lambda z, y: F.binary_cross_entropy(torch.sigmoid(z), y)), Status.FAILED),  # saturates
    (_validated(lambda z, y: (torch.log1p(torch.exp(z)) - y * z).mean()), Status.FAILED),  # overflows at 1000
    (_validated(lambda z, y: (F.softplus(z) - y * z).mean().detach()), Status.FAILED),  # detached
    (_validated(lambda z, y: (F.softplus(z) - y * z).float().mean()), Status.FAILED),   # wrong dtype in float64
    (lambda z, y: (F.softplus(z) - y * z).mean(), Status.FAILED),                       # broadcasts silently
    (lambda z, y: 1 / 0, Status.ERROR),
])
def test_bce_wrong_answers(answer, status):
    result = check_quietly("binary.bce_with_logits", answer)
    assert result.status is status, result


def test_fixed_loss_catches_the_bug_and_double_sigmoid():
    buggy = check_quietly("binary.fixed_loss", lambda z, y: torch.nn.BCELoss()(torch.sigmoid(z), y))
    double = check_quietly("binary.fixed_loss", lambda z, y: torch.nn.BCEWithLogitsLoss()(torch.sigmoid(z), y))
    assert buggy.status is Status.FAILED and "sigmoid" in buggy.message
    assert double.status is Status.FAILED and "sigmoid" in double.message
    assert check_quietly("binary.fixed_loss", lambda z, y: 3).status is Status.FAILED
    assert check_quietly("binary.fixed_loss", None).status is Status.NOT_ATTEMPTED


def test_predict_labels_checks():
    assert check_quietly("binary.predict_labels", B.predict_labels).status is Status.FLAGGED   # course_pkg forbidden
    assert check_quietly("binary.predict_labels", lambda z, t: (z.double() > math.log(t / (1 - t))).long()).passed
    assert check_quietly("binary.predict_labels", lambda z, t: z.to(F64) > math.log(t) - math.log1p(-t)).passed
    # Comparing float32 logits with the Python float cut rounds the cut to float32: wrong at the edge, and named.
    for rounded in (lambda z, t: (z > math.log(t / (1 - t))).long(), lambda z, t: z > math.log(t) - math.log1p(-t)):
        result = check_quietly("binary.predict_labels", rounded)
        assert result.status is Status.FAILED and "float64" in result.message, result
    via_sigmoid = check_quietly("binary.predict_labels", lambda z, t: (torch.sigmoid(z) > t).float())
    assert via_sigmoid.status is Status.FAILED and "1 - 1e-9" in via_sigmoid.message
    assert check_quietly("binary.predict_labels", lambda z, t: torch.sigmoid(z)).status is Status.FAILED
    assert check_quietly("binary.predict_labels", lambda z, t: (z > 0).float()).status is Status.FAILED
    assert check_quietly("binary.predict_labels", lambda z, t: (z > 0).float().reshape(-1)).status is Status.FAILED
    assert check_quietly("binary.predict_labels", lambda z, t: [0]).status is Status.FAILED


def test_messages_do_not_reveal_expected_values():
    answers = [_validated(lambda z, y: 1.001 * (F.softplus(z) - y * z).mean()),
               _validated(lambda z, y: F.binary_cross_entropy(torch.sigmoid(z), y))]
    for answer in answers:
        message = check_quietly("binary.bce_with_logits", answer).message
        for case in ([20.0, -20.0], [0.0]):
            z = torch.tensor(case)
            y = torch.tensor([0.0, 1.0][: len(case)]) if len(case) == 2 else torch.ones(1)
            assert f"{bce_with_logits(z, y).item():.4g}" not in message


def test_fixed_loss_does_not_demand_a_shape_check_the_text_never_asks_for():
    result = check_quietly("binary.fixed_loss", lambda z, y: (F.softplus(z) - y * z).mean())
    assert result.status is Status.PASSED, result


def test_fixed_loss_flipped_labels_are_named_as_such():
    result = check_quietly("binary.fixed_loss", lambda z, y: F.binary_cross_entropy_with_logits(z, 1 - y))
    assert result.status is Status.FAILED and "flipped" in result.message and "sigmoid" not in result.message


def test_bce_shape_refusal_must_be_a_value_error():
    def asserting(z, y):
        assert z.shape == y.shape
        return GOOD_BCE(z, y)

    def runtime(z, y):
        if z.shape != y.shape:
            raise RuntimeError("shapes differ")
        return GOOD_BCE(z, y)

    for answer, name in ((asserting, "AssertionError"), (runtime, "RuntimeError")):
        result = check_quietly("binary.bce_with_logits", answer)
        assert result.status is Status.FAILED and name in result.message and "ValueError" in result.message, result



def test_bce_names_the_one_sided_slope_of_clamp_and_abs_at_the_logit_0():
    stable = _validated(lambda z, y: (z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))).mean())
    result = check_quietly("binary.bce_with_logits", stable)
    assert result.status is Status.FAILED and "logit 0" in result.message and "clamp" in result.message, result
    # right slope at 0 but wrong elsewhere: not blamed on the slope at 0
    off = check_quietly("binary.bce_with_logits", _validated(lambda z, y: GOOD_BCE(z, y) * 1.01))
    assert off.status is Status.FAILED and "logit 0" not in off.message, off

# --- every correct formulation passes on every grader seed; the typical mistakes fail on every seed -------------

from course_pkg.homework import call_with_time_limit, load_all, probe, replay  # noqa: E402

SEEDS = range(1, 21)
CORRECT_BCE = {
    "softplus (linear above 20)": _validated(lambda z, y: (F.softplus(z) - y * z).mean()),
    "logaddexp": GOOD_BCE,
    "logsigmoid": _validated(lambda z, y: -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)).mean()),
    "F.binary_cross_entropy_with_logits": _validated(F.binary_cross_entropy_with_logits),
}
WRONG_BCE = {
    "sum, not mean": _validated(lambda z, y: (F.softplus(z) - y * z).sum()),
    "BCE after a sigmoid": _validated(lambda z, y: F.binary_cross_entropy(torch.sigmoid(z), y)),
    "log(1 + exp(z)) overflows": _validated(lambda z, y: (torch.log1p(torch.exp(z)) - y * z).mean()),
    "one-sided derivative at 0": _validated(
        lambda z, y: (z.clamp(min=0) + torch.log1p(torch.exp(-z.abs())) - y * z).mean()),
    "float32 detour": _validated(lambda z, y: (F.softplus(z.float()) - y.float() * z.float()).mean().to(z.dtype)),
    "sigmoid twice": _validated(lambda z, y: F.binary_cross_entropy_with_logits(torch.sigmoid(z), y)),
}


def _verdict(exercise_id, answer, seed, _plans={}):
    ex = load_all()[exercise_id]
    key = (exercise_id, seed)
    if key not in _plans:
        _plans[key] = replay.plan_exercise(ex, seed=seed)
    spec = _plans[key]
    record = replay.roundtrip(probe.probe_exercise(answer, spec, call=call_with_time_limit))
    return replay.judge(ex, spec, record)[0]


@pytest.mark.parametrize("exercise_id", ["binary.bce_with_logits", "binary.fixed_loss"])
def test_verdicts_do_not_depend_on_the_grader_seed(exercise_id):
    for seed in SEEDS:
        for name, answer in CORRECT_BCE.items():
            result = _verdict(exercise_id, answer, seed)
            assert result.passed, (name, seed, result)
        for name, answer in WRONG_BCE.items():
            result = _verdict(exercise_id, answer, seed)
            assert result.status is Status.FAILED, (name, seed, result)
