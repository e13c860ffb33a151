"""Checks of the chapter Predicting distributions: references and correct alternatives pass, the wrong answers a
student would plausibly write fail (or, where their own code raises, report an error), with feedback that never
shows the expected values, whatever the default dtype."""
import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.homework import Status, check_quietly
from course_pkg.losses import gaussian_nll, mdn_nll, pinball_loss


def status(exercise_id, answer):
    return check_quietly(exercise_id, answer).status


@pytest.fixture(params=[torch.float32, torch.float64], ids=["default-float32", "default-float64"])
def default_dtype(request):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(request.param)
    yield request.param
    torch.set_default_dtype(previous)


# ---------------------------------------------------------------- distributions.gaussian_nll

def gaussian_solution(mean, var, target):
    v = var + (var.clamp(min=1e-6) - var).detach()
    return (0.5 * (torch.log(v) + (target - mean) ** 2 / v)).mean()


def _floor(v):                                   # the value-only clamp of the solution
    return v + (v.clamp(min=1e-6) - v).detach()


def _plain_clamp(m, v, t):                       # right values, zero gradient for every clamped variance
    v = v.clamp(min=1e-6)
    return (0.5 * (torch.log(v) + (t - m) ** 2 / v)).mean()


def _maximum_clamp(m, v, t):                     # the same mistake with torch.maximum
    v = torch.maximum(v, torch.full_like(v, 1e-6))
    return (0.5 * (torch.log(v) + (t - m) ** 2 / v)).mean()


def _clamp_in_place(m, v, t):                    # modifies the caller's tensor
    v.clamp_(min=1e-6)
    return (0.5 * (torch.log(v) + (t - m) ** 2 / v)).mean()


def _eps(value):
    def answer(m, v, t):
        w = v + (v.clamp(min=value) - v).detach()
        return (0.5 * (torch.log(w) + (t - m) ** 2 / w)).mean()
    return answer


GAUSSIAN_WRONG = {
    "no clamp": lambda m, v, t: (0.5 * (torch.log(v) + (t - m) ** 2 / v)).mean(),
    "no factor 1/2": lambda m, v, t: 2 * gaussian_solution(m, v, t),
    "std instead of variance": lambda m, v, t: gaussian_solution(m, v ** 2, t),
    "with the constant log(2 pi)/2": lambda m, v, t: gaussian_solution(m, v, t) + 0.5 * math.log(2 * math.pi),
    "sum instead of mean": lambda m, v, t: gaussian_solution(m, v, t) * m.numel(),
    "variance detached": lambda m, v, t: gaussian_solution(m, v.detach(), t),
    "plain clamp (zero gradient below eps)": _plain_clamp,
    "torch.maximum clamp": _maximum_clamp,
    "clamp_ in place": _clamp_in_place,
    "eps 1e-8": _eps(1e-8),
    "eps 1e-4": _eps(1e-4),
    "a Python float": lambda m, v, t: gaussian_solution(m, v, t).item(),
    "float32 result": lambda m, v, t: gaussian_solution(m, v, t).float(),
    "clamped inside the log only": lambda m, v, t: (0.5 * (torch.log(v.clamp(min=1e-6)) + (t - m) ** 2 / v)).mean(),
    "1/2 on the log only": lambda m, v, t: (0.5 * torch.log(_floor(v)) + (t - m) ** 2 / _floor(v)).mean(),
    "(y - mu)^2 / (2 v) + log v": lambda m, v, t: (torch.log(_floor(v)) + (t - m) ** 2 / (2 * _floor(v))).mean(),
    "log of the standard deviation": lambda m, v, t: (0.5 * (torch.log(_floor(v).sqrt()) + (t - m) ** 2 / _floor(v))).mean(),
}


def test_gaussian_reference_and_solutions_pass(default_dtype):
    assert check_quietly("distributions.gaussian_nll", gaussian_nll).status is Status.FLAGGED   # course_pkg
    assert check_quietly("distributions.gaussian_nll", gaussian_solution).passed
    torch_version = lambda m, v, t: F.gaussian_nll_loss(m, t, v)  # noqa: E731  (same clamp and gradient, forbidden)
    result = check_quietly("distributions.gaussian_nll", torch_version)
    assert result.status is Status.FLAGGED and "gaussian_nll_loss" in result.message, result


@pytest.mark.parametrize("name", GAUSSIAN_WRONG)
def test_gaussian_wrong_answers_fail(name, default_dtype):
    result = check_quietly("distributions.gaussian_nll", GAUSSIAN_WRONG[name])
    assert result.status is Status.FAILED, (name, result)


def test_gaussian_hints():
    for name, words in [("no factor 1/2", "factor 1/2"), ("std instead of variance", "do not square"),
                        ("with the constant log(2 pi)/2", "drop the constant"), ("sum instead of mean", "mean")]:
        assert words in check_quietly("distributions.gaussian_nll", GAUSSIAN_WRONG[name]).message, name
    clamp = check_quietly("distributions.gaussian_nll", _plain_clamp).message
    assert "gradient with respect to `var`" in clamp and "clamp only the value" in clamp
    assert "in place" in check_quietly("distributions.gaussian_nll", _clamp_in_place).message
    assert "detached" in check_quietly("distributions.gaussian_nll", GAUSSIAN_WRONG["variance detached"]).message
    for name, words in [("1/2 on the log only", "squared term needs its factor 1/2"),
                        ("(y - mu)^2 / (2 v) + log v", "log term needs its factor 1/2"),
                        ("log of the standard deviation", "not log(sqrt(var))"),
                        ("no clamp", "clamp the variance at eps = 1e-6 before"),
                        ("clamped inside the log only", "clamp the variance at eps = 1e-6 before"),
                        ("eps 1e-8", "not 1e-08"), ("eps 1e-4", "not 0.0001")]:
        assert words in check_quietly("distributions.gaussian_nll", GAUSSIAN_WRONG[name]).message, name


# ---------------------------------------------------------------- distributions.pinball_loss

def pinball_solution(pred, target, quantiles):
    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = target.unsqueeze(1) - pred
    return torch.maximum(q * e, (q - 1) * e).mean()


def pinball_abs_form(pred, target, quantiles):   # 0.5|e| + (q - 0.5) e, the same function
    q = torch.as_tensor(quantiles, dtype=pred.dtype)
    e = target[:, None] - pred
    return (0.5 * e.abs() + (q - 0.5) * e).mean()


def pinball_where_form(pred, target, quantiles):  # a one-sided derivative at e = 0, equal elsewhere
    q = torch.tensor(list(quantiles), dtype=pred.dtype)
    e = target.unsqueeze(-1) - pred
    return torch.where(e >= 0, q * e, (q - 1) * e).mean()


def _pinball_in_place(pred, target, quantiles):
    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = pred.neg_().add_(target.unsqueeze(1))    # reuses pred's memory
    return torch.maximum(q * e, (q - 1) * e).mean()


def _pinball_n_equals_k_only(pred, target, quantiles):   # target broadcast along the columns
    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = target.reshape(1, -1).expand_as(pred) - pred if pred.shape[0] == pred.shape[1] else target.unsqueeze(1) - pred
    return torch.maximum(q * e, (q - 1) * e).mean()


def _levels(quantiles, like):
    return torch.tensor(list(quantiles), dtype=like.dtype)


def _pinball_sign_flipped(pred, target, quantiles):      # e = pred - target
    q, e = _levels(quantiles, pred), pred - target.unsqueeze(1)
    return torch.maximum(q * e, (q - 1) * e).mean()


def _pinball_symmetric(pred, target, quantiles):          # q |e|: the same cost on both sides
    return (_levels(quantiles, pred) * (target.unsqueeze(1) - pred).abs()).mean()


def _pinball_one_minus_q(pred, target, quantiles):        # max(q e, (1 - q) e): a sign slip
    q, e = _levels(quantiles, pred), target.unsqueeze(1) - pred
    return torch.maximum(q * e, (1 - q) * e).mean()


def _pinball_not_unsqueezed(pred, target, quantiles):     # (N,) - (N, K): fails unless N == K or K == 1
    q, e = _levels(quantiles, pred), target - pred
    return torch.maximum(q * e, (q - 1) * e).mean()


PINBALL_WRONG = {
    "e = pred - target": _pinball_sign_flipped,
    "q |e| on both sides": _pinball_symmetric,
    "max(q e, (1 - q) e)": _pinball_one_minus_q,
    "costs swapped": lambda p, t, q: pinball_solution(p, t, [1 - level for level in q]),
    "sum over K, mean over N": lambda p, t, q: pinball_solution(p, t, q) * p.shape[1],
    "sum instead of mean": lambda p, t, q: pinball_solution(p, t, q) * p.numel(),
    "levels in reverse order": lambda p, t, q: pinball_solution(p, t, list(q)[::-1]),
    "target broadcast along the columns": _pinball_n_equals_k_only,
    "modifies pred in place": _pinball_in_place,
    "a Python float": lambda p, t, q: pinball_solution(p, t, q).item(),
    "result detached": lambda p, t, q: pinball_solution(p, t, q).detach(),
    "squared error weighted by q": lambda p, t, q: (_levels(q, p) * (t[:, None] - p) ** 2).mean(),
}


def test_pinball_reference_and_correct_forms_pass(default_dtype):
    for answer in (pinball_solution, pinball_abs_form, pinball_where_form):
        result = check_quietly("distributions.pinball_loss", answer)
        assert result.passed, (answer, result)
    assert check_quietly("distributions.pinball_loss", pinball_loss).status is Status.FLAGGED   # course_pkg


@pytest.mark.parametrize("name", PINBALL_WRONG)
def test_pinball_wrong_answers_fail(name, default_dtype):
    result = check_quietly("distributions.pinball_loss", PINBALL_WRONG[name])
    assert result.status is Status.FAILED, (name, result)


def test_pinball_broadcast_bug_reports_its_own_error():
    result = check_quietly("distributions.pinball_loss", _pinball_not_unsqueezed)
    assert result.status is Status.ERROR and "size of tensor" in result.message


def test_pinball_hints():
    assert "in place" in check_quietly("distributions.pinball_loss", _pinball_in_place).message
    assert "line it up with the rows" in check_quietly("distributions.pinball_loss", _pinball_n_equals_k_only).message
    for name, words in [("costs swapped", "wrong way round"), ("e = pred - target", "wrong way round"),
                        ("sum over K, mean over N", "average over both N and K"),
                        ("sum instead of mean", "return the mean")]:
        assert words in check_quietly("distributions.pinball_loss", PINBALL_WRONG[name]).message, name
    reversed_levels = check_quietly("distributions.pinball_loss", PINBALL_WRONG["levels in reverse order"]).message
    assert "wrong way round" not in reversed_levels and "order given" in reversed_levels
    for name, words in [("q |e| on both sides", "the two sides cost differently"),
                        ("max(q e, (1 - q) e)", "the second branch is (q - 1)*e"),
                        ("squared error weighted by q", "linear in the residual")]:
        assert words in check_quietly("distributions.pinball_loss", PINBALL_WRONG[name]).message, name


# ---------------------------------------------------------------- distributions.mdn_nll

def mdn_solution(pi_logits, mu, sigma, target):
    log_pi = torch.log_softmax(pi_logits, dim=1)
    z = (target.unsqueeze(1) - mu) / sigma
    log_n = -0.5 * z ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(log_pi + log_n, dim=1).mean()


def mdn_distributions(pi_logits, mu, sigma, target):
    mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=pi_logits),
                                                    torch.distributions.Normal(mu, sigma))
    return -mixture.log_prob(target).mean()


def _mdn_naive(pi_logits, mu, sigma, target):       # density first, log last: underflows far from the data
    density = torch.exp(-0.5 * ((target[:, None] - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return -torch.log((torch.softmax(pi_logits, dim=1) * density).sum(dim=1)).mean()


def _mdn_hand_softmax(pi_logits, mu, sigma, target):  # exp(logits) / sum: overflows for logits of 200
    w = torch.exp(pi_logits)
    log_pi = torch.log(w / w.sum(dim=1, keepdim=True))
    z = (target[:, None] - mu) / sigma
    return -torch.logsumexp(log_pi - 0.5 * z ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi), dim=1).mean()


def _mdn_clamp_in_place(pi_logits, mu, sigma, target):   # leaves the values as they were, breaks autograd
    sigma.clamp_(min=1e-6)
    return mdn_solution(pi_logits, mu, sigma, target)


def _mdn_in_place(pi_logits, mu, sigma, target):   # centres the means in the caller's tensor to save memory
    z = mu.sub_(target.unsqueeze(1)).neg_().div_(sigma)
    log_n = -0.5 * z ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(torch.log_softmax(pi_logits, dim=1) + log_n, dim=1).mean()


def _mdn_rows_misaligned(pi_logits, mu, sigma, target):  # target (N,) against (N, K) when N == K
    if pi_logits.shape[0] != pi_logits.shape[1]:
        return mdn_solution(pi_logits, mu, sigma, target)
    z = (target - mu) / sigma
    log_n = -0.5 * z ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(torch.log_softmax(pi_logits, dim=1) + log_n, dim=1).mean()


def _mdn_terms(pi_logits, mu, sigma, target):
    z = (target.unsqueeze(1) - mu) / sigma
    return -0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)


def _mdn_log_sigma_squared(pi_logits, mu, sigma, target):  # -log sigma^2 in the normalising constant
    log_n = _mdn_terms(pi_logits, mu, sigma, target) - torch.log(sigma ** 2)
    return -torch.logsumexp(torch.log_softmax(pi_logits, dim=1) + log_n, dim=1).mean()


def _mdn_raw_logits(pi_logits, mu, sigma, target):         # logits used as log-weights, never normalised
    log_n = _mdn_terms(pi_logits, mu, sigma, target) - torch.log(sigma)
    return -torch.logsumexp(pi_logits + log_n, dim=1).mean()


def _mdn_batch_softmax(pi_logits, mu, sigma, target):      # weights normalised over the batch, dim=0
    log_n = _mdn_terms(pi_logits, mu, sigma, target) - torch.log(sigma)
    return -torch.logsumexp(torch.log_softmax(pi_logits, dim=0) + log_n, dim=1).mean()


MDN_WRONG = {
    "density first, log last": _mdn_naive,
    "weights by exp(logits) / sum": _mdn_hand_softmax,
    "no constant log(2 pi)/2": lambda a, m, s, t: mdn_solution(a, m, s, t) - 0.5 * math.log(2 * math.pi),
    "-log(sigma^2) instead of -log(sigma)": _mdn_log_sigma_squared,
    "sigma read as a variance": lambda a, m, s, t: mdn_solution(a, m, s.sqrt(), t),
    "logits used as log-weights": _mdn_raw_logits,
    "softmax over the batch": _mdn_batch_softmax,
    "sum instead of mean": lambda a, m, s, t: mdn_solution(a, m, s, t) * a.shape[0],
    "per-sample losses (no mean)": lambda a, m, s, t: mdn_nll(a, m, s, t, reduction="none"),
    "rows misaligned when N == K": _mdn_rows_misaligned,
    "modifies mu in place": _mdn_in_place,
    "scales detached": lambda a, m, s, t: mdn_solution(a, m, s.detach(), t),
}


def test_mdn_reference_and_correct_forms_pass(default_dtype):
    result = check_quietly("distributions.mdn_nll", mdn_solution)
    assert result.passed, result
    for answer in (mdn_nll, mdn_distributions):   # course_pkg and torch.distributions are forbidden
        result = check_quietly("distributions.mdn_nll", answer)
        assert result.status is Status.FLAGGED, (answer, result)


@pytest.mark.parametrize("name", MDN_WRONG)
def test_mdn_wrong_answers_fail(name, default_dtype):
    result = check_quietly("distributions.mdn_nll", MDN_WRONG[name])
    assert result.status is Status.FAILED, (name, result)


def test_mdn_hints():
    naive = check_quietly("distributions.mdn_nll", _mdn_naive).message
    assert "60 standard deviations" in naive and ("inf" in naive or "NaN" in naive)
    assert "stably" in check_quietly("distributions.mdn_nll", _mdn_hand_softmax).message
    assert "in place" in check_quietly("distributions.mdn_nll", _mdn_in_place).message
    # clamp_ on scales above the floor changes no value, but autograd refuses it on the gradient cases
    clamp = check_quietly("distributions.mdn_nll", _mdn_clamp_in_place)
    assert clamp.status is Status.FAILED and "in place" in clamp.message, clamp
    for name, words in [("no constant log(2 pi)/2", "include the constant"), ("sum instead of mean", "mean over N"),
                        ("sigma read as a variance", "standard deviation"),
                        ("-log(sigma^2) instead of -log(sigma)", "not log sigma_k^2"),
                        ("logits used as log-weights", "log_softmax over the K components"),
                        ("softmax over the batch", "not over the batch")]:
        assert words in check_quietly("distributions.mdn_nll", MDN_WRONG[name]).message, name


@pytest.mark.parametrize("module_table, case, which", [("GAUSSIAN_MISTAKES", "_gaussian_cases", (0, 0)),
                                                       ("GAUSSIAN_FLOOR_MISTAKES", "_gaussian_cases", (1, 1)),
                                                       ("PINBALL_MISTAKES", "_pinball_cases", (0, 0)),
                                                       ("MDN_MISTAKES", "_mdn_cases", (0,))])
def test_diagnosed_mistakes_differ_from_the_reference(module_table, case, which):
    """A hint names a mistake only when the answer equals it, so no mistake may equal the reference (on the case
    the checker diagnoses it on), nor another mistake with a different hint."""
    from course_pkg.homework.exercises import distributions as checks
    picked = getattr(checks, case)()
    for i in which:
        picked = picked[i]
    args = picked[1]
    reference = {"GAUSSIAN_MISTAKES": gaussian_nll, "GAUSSIAN_FLOOR_MISTAKES": gaussian_nll,
                 "PINBALL_MISTAKES": pinball_loss, "MDN_MISTAKES": mdn_nll}
    expected = reference[module_table](*args).double()
    values = [mistake(*args).double() for mistake in getattr(checks, module_table).values()]
    for i, a in enumerate(values):
        for b in values[i + 1:]:
            assert not torch.isclose(a, b, rtol=1e-4, atol=1e-4)   # the checker tells them apart at 1e-5
    for hint, mistake in getattr(checks, module_table).items():
        assert not torch.isclose(mistake(*args).double(), expected, rtol=1e-3, atol=1e-3), hint


# ---------------------------------------------------------------- all three

@pytest.mark.parametrize("exercise_id, answer, reference, args", [
    ("distributions.gaussian_nll", lambda m, v, t: gaussian_solution(m, v, t) * 1.01, gaussian_nll,
     (torch.zeros(1), torch.ones(1), torch.ones(1))),
    ("distributions.pinball_loss", lambda p, t, q: pinball_solution(p, t, q) * 1.01, pinball_loss,
     (torch.zeros(1, 1), torch.ones(1), (0.3,))),
    ("distributions.mdn_nll", lambda a, m, s, t: mdn_solution(a, m, s, t) * 1.01, mdn_nll,
     (torch.zeros(1, 2), torch.tensor([[0.0, 1.0]]), torch.ones(1, 2), torch.zeros(1))),
])
def test_feedback_hides_expected_values(exercise_id, answer, reference, args):
    result = check_quietly(exercise_id, answer)
    assert result.status is Status.FAILED
    assert "tensor(" not in result.message
    assert f"{reference(*args).item():.4f}" not in result.message


@pytest.mark.parametrize("exercise_id", ["distributions.gaussian_nll", "distributions.pinball_loss",
                                         "distributions.mdn_nll"])
def test_unanswered_stub_and_junk(exercise_id):
    assert status(exercise_id, None) is Status.NOT_ATTEMPTED

    def stub(*args):
        raise NotImplementedError

    assert status(exercise_id, stub) is Status.NOT_ATTEMPTED
    assert status(exercise_id, "not a function") is Status.FAILED
    assert status(exercise_id, lambda *args: args[0].nonexistent) is Status.ERROR


# ---------------------------------------------------------------- every grading seed

def _result_at_seed(exercise_id, answer, seed):
    """The verdict the grader gives for a fresh seed (check_quietly always uses the notebook's seed 0)."""
    from course_pkg.homework import load_all, probe, replay
    from course_pkg.homework.checking import call_with_time_limit
    ex = load_all()[exercise_id]
    spec = replay.plan_exercise(ex, seed=seed)
    return replay.judge(ex, spec, replay.roundtrip(probe.probe_exercise(answer, spec, call=call_with_time_limit)))[0]


def _float32_floor(m, v, t):                     # torch.tensor(1e-6) is float32: a floor of 9.99999997e-07
    w = torch.maximum(v, torch.tensor(1e-6))
    return (0.5 * (torch.log(w) + (t - m) ** 2 / w)).mean()


def _float32_floor_value_only(m, v, t):          # the same floor, with the value-only clamp of the solution
    w = v + (torch.maximum(v, torch.tensor(1e-6, dtype=torch.float32)) - v).detach()
    return (0.5 * (torch.log(w) + (t - m) ** 2 / w)).mean()


def _gaussian_where(m, v, t):                    # the value-only clamp written with torch.where
    w = v + (torch.where(v < 1e-6, torch.full_like(v, 1e-6), v) - v).detach()
    return (0.5 * (torch.log(w) + (t - m) ** 2 / w)).mean()


def pinball_float32_levels(pred, target, quantiles):   # levels in the default dtype, float32: 0.3 -> 0.30000001
    q = torch.tensor(quantiles)
    e = target.unsqueeze(1) - pred
    return torch.maximum(q * e, (q - 1) * e).mean()


SEED_SWEEP = [  # (exercise, correct forms, mistakes): every form passes and every mistake fails on every seed
    ("distributions.gaussian_nll",
     (gaussian_nll, gaussian_solution, lambda m, v, t: F.gaussian_nll_loss(m, t, v), _gaussian_where),
     (GAUSSIAN_WRONG["no factor 1/2"], _plain_clamp, _float32_floor, _float32_floor_value_only, _eps(1e-8),
      GAUSSIAN_WRONG["log of the standard deviation"])),
    ("distributions.pinball_loss",
     (pinball_loss, pinball_solution, pinball_abs_form, pinball_where_form, pinball_float32_levels),
     (_pinball_sign_flipped, _pinball_symmetric, _pinball_one_minus_q, PINBALL_WRONG["levels in reverse order"],
      _pinball_n_equals_k_only)),
    ("distributions.mdn_nll",
     (mdn_nll, mdn_solution, mdn_distributions),
     (_mdn_naive, _mdn_hand_softmax, _mdn_log_sigma_squared, _mdn_batch_softmax)),
]


@pytest.mark.parametrize("exercise_id, correct, wrong", SEED_SWEEP, ids=[row[0] for row in SEED_SWEEP])
def test_verdicts_hold_on_twenty_grading_seeds(exercise_id, correct, wrong):
    """Grading draws fresh inputs every run: a correct form must pass, and a mistake fail, whatever the seed."""
    for seed in range(1, 21):
        for answer in correct:
            result = _result_at_seed(exercise_id, answer, seed)
            assert result.passed, (seed, answer, result)
        for answer in wrong:
            result = _result_at_seed(exercise_id, answer, seed)
            assert not result.passed, (seed, answer, result)


def test_float32_floor_is_named():
    """torch.maximum(var, torch.tensor(1e-6)) in a float64 loss: the feedback names the float32 constant."""
    for answer in (_float32_floor, _float32_floor_value_only):
        message = check_quietly("distributions.gaussian_nll", answer).message
        assert "float32 constant" in message and "dtype=var.dtype" in message, message
    for answer in (gaussian_solution, _gaussian_where):               # a right answer never hears of it
        assert check_quietly("distributions.gaussian_nll", answer).passed
