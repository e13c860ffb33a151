"""Tests for the checks of the chapter "Probabilities you can trust": correct answers pass, plausible mistakes fail.

Each mistake below is one a student could plausibly hand in; each must come back FAILED (or ERROR when the code
cannot run on the inputs), with feedback that never shows a reference value. Correct answers written differently
from the reference (the binning loop of Guo et al., the other spelling of straight-through) must pass, and the
verdicts must not depend on ``torch.get_default_dtype()``.
"""
import re
from functools import partial

import pytest
import torch
import torch.nn.functional as F

from course_pkg.calibration import expected_calibration_error
from course_pkg.homework import Status, check_quietly
from course_pkg.homework.checking import seed_scope
from course_pkg.homework.exercises import probabilities as P
from course_pkg.losses import logit_adjusted_cross_entropy


def _values(tensor):
    return [float(v) for v in tensor.detach().double().flatten().tolist()]


def _expected_values():
    """Every reference value the three checks compare against (to make sure none leaks into a message)."""
    values = []
    for _, (probs, labels, n_bins) in P.ece_cases():
        values += _values(expected_calibration_error(probs, labels, n_bins))
    for _, (z, y, lp, tau) in P.logit_adjust_cases():
        leaf = z.clone().requires_grad_(True)
        loss = logit_adjusted_cross_entropy(leaf.double(), y, lp.double(), tau)
        (grad,) = torch.autograd.grad(loss, leaf)
        values += _values(loss) + _values(grad)
    return [v for v in values if abs(v) > 1e-3 and v not in (1.0, -1.0)]


EXPECTED = _expected_values()


def reveals_nothing(message):
    """No reference value in the feedback (the student's own value, the tolerances and the case label may appear)."""
    stripped = re.sub(r"yours is \S+|atol=\S+|rtol=\S+", "", message.split(": ", 1)[-1])
    return not any(f"{v:.3f}" in stripped or f"{v:.4g}" in stripped for v in EXPECTED)


# ---------------------------------------------------------------- probabilities.ece

def my_ece(probs, labels, n_bins):
    conf, pred = probs.max(dim=1)
    correct = (pred == labels).to(probs.dtype)
    index = (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()
    ece = torch.zeros((), dtype=probs.dtype)
    for b in range(n_bins):
        in_bin = index == b
        if in_bin.any():
            ece = ece + in_bin.to(probs.dtype).mean() * (correct[in_bin].mean() - conf[in_bin].mean()).abs()
    return ece


def guo_loop_adapted(probs, labels, n_bins):
    """The widely copied loop of Guo et al. (float32 bin edges and float32 means), returning a 0-dim tensor."""
    confidences, predictions = torch.max(probs, 1)
    accuracies = predictions.eq(labels)
    bin_boundaries = torch.linspace(0, 1, n_bins + 1)
    ece = torch.zeros((), dtype=probs.dtype)
    for bin_lower, bin_upper in zip(bin_boundaries[:-1], bin_boundaries[1:]):
        in_bin = confidences.gt(bin_lower.item()) * confidences.le(bin_upper.item())
        prop_in_bin = in_bin.float().mean()
        if prop_in_bin.item() > 0:
            accuracy_in_bin = accuracies[in_bin].float().mean()
            avg_confidence_in_bin = confidences[in_bin].mean()
            ece = ece + torch.abs(avg_confidence_in_bin - accuracy_in_bin) * prop_in_bin
    return ece


def guo_loop_original(probs, labels, n_bins):
    """Guo et al.'s code as published: a float32 tensor of shape (1,)."""
    confidences, predictions = torch.max(probs, 1)
    accuracies = predictions.eq(labels)
    bin_boundaries = torch.linspace(0, 1, n_bins + 1)
    ece = torch.zeros(1)
    for bin_lower, bin_upper in zip(bin_boundaries[:-1], bin_boundaries[1:]):
        in_bin = confidences.gt(bin_lower.item()) * confidences.le(bin_upper.item())
        prop_in_bin = in_bin.float().mean()
        if prop_in_bin.item() > 0:
            ece += torch.abs(confidences[in_bin].mean() - accuracies[in_bin].float().mean()) * prop_in_bin
    return ece


def _ece_by_index(index_fn, weighted=True, absolute=True):
    def ece(probs, labels, n_bins):
        conf, pred = probs.max(dim=1)
        correct = (pred == labels).to(probs.dtype)
        index = index_fn(conf, n_bins)
        total, gaps = torch.zeros((), dtype=probs.dtype), []
        for b in range(n_bins):
            m = index == b
            if m.any():
                gap = correct[m].mean() - conf[m].mean()
                gaps.append(gap.abs() if absolute else gap)
                total = total + m.to(probs.dtype).mean() * gaps[-1]
        if not weighted:
            return torch.stack(gaps).mean()
        return total.abs() if not absolute else total
    return ece


RIGHT_CLOSED = lambda c, m: (torch.ceil(c * m) - 1).clamp(0, m - 1).long()  # noqa: E731
LEFT_CLOSED = lambda c, m: torch.floor(c * m).clamp(0, m - 1).long()  # noqa: E731


def _in_place_clamp(probs, labels, n_bins):
    probs.clamp_(min=1e-6, max=1 - 1e-6)          # "avoid log(0)" habit, on the caller's tensor
    return my_ece(probs, labels, n_bins)


def _last_index_on_ties(probs, labels, n_bins):
    pred = probs.shape[1] - 1 - probs.flip(1).argmax(dim=1)      # the last maximal index
    return _ece_with_pred(probs, labels, n_bins, pred)


def _ece_with_pred(probs, labels, n_bins, pred):
    conf = probs.max(dim=1).values
    correct = (pred == labels).to(probs.dtype)
    index = RIGHT_CLOSED(conf, n_bins)
    ece = torch.zeros((), dtype=probs.dtype)
    for b in range(n_bins):
        m = index == b
        if m.any():
            ece = ece + m.to(probs.dtype).mean() * (correct[m].mean() - conf[m].mean()).abs()
    return ece


ECE_RIGHT = {
    "solution": my_ece,
    "Guo et al. loop, 0-dim": guo_loop_adapted,
    "computed in float64, cast back": lambda p, y, m: my_ece(p.double(), y, m).to(p.dtype),
}

ECE_WRONG = {
    "bins [b/M, (b+1)/M)": (_ece_by_index(LEFT_CLOSED), "open on the left"),
    "gaps averaged without weights": (_ece_by_index(RIGHT_CLOSED, weighted=False), "weighted by its share"),
    "signed gaps summed": (_ece_by_index(RIGHT_CLOSED, absolute=False), "absolute gap"),
    "one global gap, in words": (lambda p, y, m: ((p.max(1).indices == y).to(p.dtype).mean()
                                                  - p.max(1).values.mean()).abs(), "absolute gap"),
    "one global gap": (lambda p, y, m: ((p.max(1).indices == y).to(p.dtype).mean() - p.max(1).values.mean()).abs(),
                       "single bin"),
    "modifies probs in place": (_in_place_clamp, "in place"),
    "last index on ties": (_last_index_on_ties, None),
    "Guo et al. as published (shape (1,), float32)": (guo_loop_original, "wrong shape"),
    "returns a Python float": (lambda p, y, m: float(my_ece(p, y, m)), "return a tensor"),
    "float32 result": (lambda p, y, m: my_ece(p, y, m).float(), None),
    "maximum gap (MCE) instead": (lambda p, y, m: _mce(p, y, m), None),
}


def _mce(probs, labels, n_bins):
    conf, pred = probs.max(dim=1)
    correct = (pred == labels).to(probs.dtype)
    index = RIGHT_CLOSED(conf, n_bins)
    gaps = [(correct[index == b].mean() - conf[index == b].mean()).abs() for b in range(n_bins) if (index == b).any()]
    return torch.stack(gaps).max()


@pytest.mark.parametrize("name", sorted(ECE_RIGHT))
def test_ece_correct_answers_pass(name):
    result = check_quietly("probabilities.ece", ECE_RIGHT[name])
    assert result.status is Status.PASSED, result.message


@pytest.mark.parametrize("name", sorted(ECE_WRONG))
def test_ece_wrong_answers_fail(name):
    answer, hint = ECE_WRONG[name]
    result = check_quietly("probabilities.ece", answer)
    assert result.status is Status.FAILED, (name, result)
    if hint:
        assert hint in result.message, (name, result.message)
    assert reveals_nothing(result.message), result.message


def test_guo_loop_is_about_1e9_off_and_still_passes():
    """The audit case: a correct loop whose float32 means put it ~1e-9 away from the float64 reference."""
    probs, labels, n_bins = P.ece_cases()[0][1]
    gap = (guo_loop_adapted(probs, labels, n_bins) - expected_calibration_error(probs, labels, n_bins)).abs().item()
    assert 1e-12 < gap < 1e-7
    assert check_quietly("probabilities.ece", guo_loop_adapted).passed


# ---------------------------------------------------------------- probabilities.logit_adjust

def my_logit_adjusted_loss(logits, target, log_prior, tau):
    adjusted = logits + tau * log_prior.to(logits.dtype)
    log_probs = adjusted - torch.logsumexp(adjusted, dim=1, keepdim=True)
    return -log_probs.gather(1, target.unsqueeze(1)).mean()


def _true_only(z, y, lp, tau):
    return F.cross_entropy(z + F.one_hot(y, z.shape[1]).to(z.dtype) * tau * lp[y].unsqueeze(1), y)


def _in_place(z, y, lp, tau):
    z += tau * lp
    return F.cross_entropy(z, y)


LA_RIGHT = {
    "solution": my_logit_adjusted_loss,
    "logsumexp by hand": lambda z, y, lp, tau: -((z + tau * lp) - torch.logsumexp(z + tau * lp, 1, keepdim=True))
    .gather(1, y.unsqueeze(1)).mean(),
}

# Right values, but through what the exercise forbids (course_pkg, torch.nn, log_softmax): FLAGGED, as graded.
LA_FORBIDDEN = {
    "reference": (logit_adjusted_cross_entropy, "course_pkg.losses.logit_adjusted_cross_entropy"),
    "F.cross_entropy on shifted logits": (lambda z, y, lp, tau: F.cross_entropy(z + tau * lp, y),
                                          "torch.nn.functional.cross_entropy"),
    "log_softmax and nll_loss": (lambda z, y, lp, tau: F.nll_loss(torch.log_softmax(z + tau * lp, dim=1), y),
                                 "torch.log_softmax"),
}

LA_WRONG = {
    "true class only": (_true_only, "not only on the logit of the true class"),
    "same number on the whole row": (lambda z, y, lp, tau: F.cross_entropy(z + tau * lp[y].unsqueeze(1), y),
                                     "plain cross-entropy"),
    "no adjustment": (lambda z, y, lp, tau: F.cross_entropy(z, y), "plain cross-entropy"),
    "sign error": (lambda z, y, lp, tau: F.cross_entropy(z - tau * lp, y), "sign"),
    "tau ignored": (lambda z, y, lp, tau: F.cross_entropy(z + lp, y), "strength tau"),
    "prior instead of log prior": (lambda z, y, lp, tau: F.cross_entropy(z + tau * lp.exp(), y), "log"),
    "sum instead of mean": (lambda z, y, lp, tau: F.cross_entropy(z + tau * lp, y, reduction="sum"), "mean"),
    "modifies the logits in place": (_in_place, "in place"),
    "naive softmax (overflows at 1000)": (
        lambda z, y, lp, tau: -torch.log(torch.exp(z + tau * lp) / torch.exp(z + tau * lp).sum(1, keepdim=True))
        .gather(1, y.unsqueeze(1)).mean(), None),
    "detached": (lambda z, y, lp, tau: F.cross_entropy(z.detach() + tau * lp, y), "detached"),
    "float64 result": (lambda z, y, lp, tau: F.cross_entropy(z.double() + tau * lp.double(), y), "dtype"),
    "prior multiplies the logits": (lambda z, y, lp, tau: F.cross_entropy(z * (tau * lp).exp(), y), None),
}


@pytest.mark.parametrize("name", sorted(LA_RIGHT))
def test_logit_adjust_correct_answers_pass(name):
    result = check_quietly("probabilities.logit_adjust", LA_RIGHT[name])
    assert result.status is Status.PASSED, result.message


@pytest.mark.parametrize("name", sorted(LA_FORBIDDEN))
def test_logit_adjust_forbidden_shortcuts_are_flagged(name):
    answer, words = LA_FORBIDDEN[name]
    result = check_quietly("probabilities.logit_adjust", answer)
    assert result.status is Status.FLAGGED and words in result.message, result


def test_the_reference_ece_is_flagged():
    assert check_quietly("probabilities.ece", expected_calibration_error).status is Status.FLAGGED


@pytest.mark.parametrize("name", sorted(LA_WRONG))
def test_logit_adjust_wrong_answers_fail(name):
    answer, hint = LA_WRONG[name]
    result = check_quietly("probabilities.logit_adjust", answer)
    assert result.status is Status.FAILED, (name, result)
    if hint:
        assert hint in result.message, (name, result.message)
    assert reveals_nothing(result.message), result.message


# ---------------------------------------------------------------- probabilities.straight_through

def gumbel_hard(logits, noise, tau):
    perturbed = logits + noise
    soft = torch.softmax(perturbed / tau, dim=-1)
    hard = torch.zeros_like(soft).scatter_(-1, perturbed.argmax(dim=-1, keepdim=True), 1.0)
    return hard + (soft - soft.detach())


def _soft_then_hard(logits, noise, tau):
    soft = torch.softmax((logits + noise) / tau, dim=-1)
    hard = F.one_hot(soft.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
    return soft + (hard - soft).detach()


def _hard_via_equality(logits, noise, tau):
    soft = torch.softmax((logits + noise) / tau, dim=-1)
    hard = (soft == soft.max(dim=-1, keepdim=True).values).to(logits.dtype)
    return hard + (soft - soft.detach())


def _add_in_place(logits, noise, tau):
    logits.add_(noise)
    return gumbel_hard(logits, torch.zeros_like(noise), tau)


GUMBEL_RIGHT = {
    "solution": gumbel_hard,
    "soft + (hard - soft).detach()": _soft_then_hard,
}

GUMBEL_WRONG = {
    "the buggy snippet": (lambda z, g, tau: F.one_hot((z + g).argmax(dim=-1), z.shape[-1]).float(), None),
    "buggy snippet in the right dtype": (lambda z, g, tau: F.one_hot((z + g).argmax(-1), z.shape[-1]).to(z.dtype),
                                         "detached"),
    "soft sample only": (lambda z, g, tau: torch.softmax((z + g) / tau, dim=-1), "not exactly one-hot"),
    "no noise in the hard sample": (lambda z, g, tau: _no_noise_hard(z, g, tau), "without the noise"),
    "temperature ignored": (lambda z, g, tau: gumbel_hard(z, g, 1.0), "divide by the temperature"),
    "no noise in the soft sample": (lambda z, g, tau: _no_noise_soft(z, g, tau), "the noise belongs in the soft"),
    "equality marks every tie": (_hard_via_equality, "not exactly one-hot"),
    "torch's gumbel_softmax (its own noise)": (lambda z, g, tau: F.gumbel_softmax(z, tau=tau, hard=True), None),
    "modifies the logits in place": (_add_in_place, "in place"),
    "identity gradient to the soft sample taken w.r.t. noise only": (
        lambda z, g, tau: gumbel_hard(z.detach(), g, tau), "detached"),
}


def _no_noise_hard(z, g, tau):
    soft = torch.softmax((z + g) / tau, dim=-1)
    hard = F.one_hot(z.argmax(dim=-1), z.shape[-1]).to(z.dtype)
    return hard + (soft - soft.detach())


def _no_noise_soft(z, g, tau):
    soft = torch.softmax(z / tau, dim=-1)
    hard = F.one_hot((z + g).argmax(dim=-1), z.shape[-1]).to(z.dtype)
    return hard + (soft - soft.detach())


@pytest.mark.parametrize("name", sorted(GUMBEL_RIGHT))
def test_straight_through_correct_answers_pass(name):
    result = check_quietly("probabilities.straight_through", GUMBEL_RIGHT[name])
    assert result.status is Status.PASSED, result.message


@pytest.mark.parametrize("name", sorted(GUMBEL_WRONG))
def test_straight_through_wrong_answers_fail(name):
    torch.manual_seed(0)   # F.gumbel_softmax draws from the global generator
    answer, hint = GUMBEL_WRONG[name]
    result = check_quietly("probabilities.straight_through", answer)
    assert result.status is Status.FAILED, (name, result)
    if hint:
        assert hint in result.message, (name, result.message)


def _pytorch_order(logits, noise, tau):
    """F.gumbel_softmax's order: y_hard - y_soft.detach() + y_soft; (1 - s) + s is exactly 1."""
    perturbed = logits + noise
    soft = torch.softmax(perturbed / tau, dim=-1)
    hard = torch.zeros_like(soft).scatter_(-1, perturbed.argmax(dim=-1, keepdim=True), 1.0)
    return hard - soft.detach() + soft


def _rounding_order(logits, noise, tau, *, divide=True, noise_in_hard=True):
    """hard + soft - soft.detach(): (1 + s) - s rounds, so an entry can be 0.99999994 instead of 1."""
    perturbed = logits + noise
    soft = torch.softmax(perturbed / tau if divide else perturbed, dim=-1)
    index = (perturbed if noise_in_hard else logits).argmax(dim=-1, keepdim=True)
    hard = torch.zeros_like(soft).scatter_(-1, index, 1.0)
    return hard + soft - soft.detach()


ST_RIGHT_ORDERS = {"solution": gumbel_hard, "soft + (hard - soft).detach()": _soft_then_hard,
                   "hard - soft.detach() + soft (PyTorch)": _pytorch_order}
ST_MISTAKES = {
    "hard + soft - soft.detach()": (_rounding_order, "one-hot only up to rounding"),
    "... and the temperature ignored": (partial(_rounding_order, divide=False), "divide by the temperature"),
    "... and no noise in the hard sample": (partial(_rounding_order, noise_in_hard=False), "without the noise"),
    "no noise in the soft sample": (_no_noise_soft, "the noise belongs in the soft"),
    "soft sample only": (lambda z, g, tau: torch.softmax((z + g) / tau, dim=-1), "not exactly one-hot"),
}


def test_straight_through_verdicts_over_20_grading_seeds():
    """Right orders pass and each typical mistake gets its own diagnosis on every one of 20 grading seeds;
    the rounding of `hard + soft - soft.detach()` is named, and does not hide a more specific mistake."""
    for seed in range(1, 21):
        with seed_scope(seed):
            for name, answer in ST_RIGHT_ORDERS.items():
                result = check_quietly("probabilities.straight_through", answer)
                assert result.status is Status.PASSED, (seed, name, result.message)
            for name, (answer, hint) in ST_MISTAKES.items():
                result = check_quietly("probabilities.straight_through", answer)
                assert result.status is Status.FAILED and hint in result.message, (seed, name, result.message)
                if hint != "one-hot only up to rounding":
                    assert "rounding" not in result.message, (seed, name, result.message)


# ---------------------------------------------------------------- all three

IDS = ["probabilities.ece", "probabilities.logit_adjust", "probabilities.straight_through"]


@pytest.mark.parametrize("exercise_id", IDS)
def test_unanswered_stub_and_raising(exercise_id):
    assert check_quietly(exercise_id, None).status is Status.NOT_ATTEMPTED
    assert check_quietly(exercise_id, ...).status is Status.NOT_ATTEMPTED

    def stub(*args):
        raise NotImplementedError

    def broken(*args):
        raise RuntimeError("boom")

    assert check_quietly(exercise_id, stub).status is Status.NOT_ATTEMPTED
    result = check_quietly(exercise_id, broken)
    assert result.status is Status.ERROR and "RuntimeError" in result.message
    assert check_quietly(exercise_id, "my_answer").status is Status.FAILED


@pytest.mark.parametrize("exercise_id, right, wrong", [
    ("probabilities.ece", my_ece, ECE_WRONG["bins [b/M, (b+1)/M)"][0]),
    ("probabilities.logit_adjust", my_logit_adjusted_loss, LA_WRONG["true class only"][0]),
    ("probabilities.straight_through", gumbel_hard, GUMBEL_WRONG["temperature ignored"][0]),
])
def test_verdicts_do_not_depend_on_the_default_dtype(exercise_id, right, wrong):
    before = [check_quietly(exercise_id, right).status, check_quietly(exercise_id, wrong).status]
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        after = [check_quietly(exercise_id, right).status, check_quietly(exercise_id, wrong).status]
    finally:
        torch.set_default_dtype(previous)
    assert before == after == [Status.PASSED, Status.FAILED]


def test_cases_are_deterministic_and_away_from_ambiguous_bin_edges():
    for (la, a), (lb, b) in zip(P.ece_cases(), P.ece_cases()):
        assert la == lb and torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    for label, (probs, _, n_bins) in P.ece_cases():
        if "edges" in label or "one-hot" in label:
            continue   # exact dyadic edges (and 1.0): every binning rule agrees on where they belong
        assert bool(P._away_from_edges(probs, n_bins).all()), label


# ---------------------------------------------------------------- forbidden shortcuts (read by the grader's scan)

def _forbidden(exercise_id):
    from course_pkg.homework.registry import load_all
    return load_all()[exercise_id].forbidden


@pytest.mark.parametrize("exercise_id, cells, answer, flagged", [
    ("probabilities.logit_adjust", ["import torch\ndef f(z, y, lp, tau):\n    a = z + tau * lp\n"
                                    "    return -(a - torch.logsumexp(a, 1, keepdim=True)).gather(1, y[:, None]).mean()"],
     "f", False),
    ("probabilities.logit_adjust", ["import torch.nn.functional as F\ndef f(z, y, lp, tau):\n"
                                    "    return F.cross_entropy(z + tau * lp, y)"], "f", True),
    ("probabilities.logit_adjust", ["import torch\ndef f(z, y, lp, tau):\n"
                                    "    return torch.nn.CrossEntropyLoss()(z + tau * lp, y)"], "f", True),
    ("probabilities.logit_adjust", ["import torch\ndef f(z, y, lp, tau):\n"
                                    "    return -torch.log_softmax(z + tau * lp, 1).gather(1, y[:, None]).mean()"],
     "f", True),
    ("probabilities.logit_adjust", ["def f(z, y, lp, tau):\n"
                                    "    return -(z + tau * lp).log_softmax(1).gather(1, y[:, None]).mean()"], "f", True),
    ("probabilities.ece", ["from course_pkg.calibration import expected_calibration_error as e\n"
                           "def f(p, y, m):\n    return e(p, y, m)"], "f", True),
])
def test_forbidden_shortcuts_named_in_the_exercise_text_are_flagged(exercise_id, cells, answer, flagged):
    from course_pkg.homework.scan import forbidden_uses
    assert bool(forbidden_uses(cells, answer, _forbidden(exercise_id))) is flagged
