import math

import torch

from course_pkg.calibration import expected_calibration_error
from course_pkg.gumbel import straight_through
from course_pkg.heteroscedastic import gaussian_nll
from course_pkg.homework import Status, check_quietly


def _status(exercise_id, answer):
    return check_quietly(exercise_id, answer).status


# ---------------------------------------------------------------- further.gaussian_nll

def my_gaussian_nll(mean, var, target):
    v = var + (var.clamp(min=1e-6) - var).detach()
    return (0.5 * (torch.log(v) + (target - mean) ** 2 / v)).mean()


def test_gaussian_nll_reference_and_solution_pass():
    assert check_quietly("further.gaussian_nll", gaussian_nll).passed
    assert check_quietly("further.gaussian_nll", my_gaussian_nll).passed


def test_gaussian_nll_wrong_variants_fail():
    no_clamp = lambda m, v, t: (0.5 * (torch.log(v) + (t - m) ** 2 / v)).mean()  # noqa: E731
    no_half = lambda m, v, t: (torch.log(v.clamp(min=1e-6)) + (t - m) ** 2 / v.clamp(min=1e-6)).mean()  # noqa: E731
    std_not_var = lambda m, v, t: my_gaussian_nll(m, v ** 2, t)  # noqa: E731
    full = lambda m, v, t: my_gaussian_nll(m, v, t) + 0.5 * math.log(2 * math.pi)  # noqa: E731
    detached_var = lambda m, v, t: my_gaussian_nll(m, v.detach(), t)  # noqa: E731
    torch_wrong_order = lambda m, v, t: torch.nn.functional.gaussian_nll_loss(m, v, t)  # noqa: E731
    zero_grad_clamp = lambda m, v, t: (0.5 * (torch.log(v.clamp(min=1e-6))  # noqa: E731
                                              + (t - m) ** 2 / v.clamp(min=1e-6))).mean()
    for bad in (no_clamp, no_half, std_not_var, full, detached_var):
        assert _status("further.gaussian_nll", bad) is Status.FAILED, bad
    # torch's argument order is (input, target, var): swapping them fails or raises (negative "var")
    assert _status("further.gaussian_nll", torch_wrong_order) in (Status.FAILED, Status.ERROR)
    # clamp() zeroes the gradient of clamped entries (var < eps): the exercise asks for the identity gradient there
    result = check_quietly("further.gaussian_nll", zero_grad_clamp)
    assert result.status is Status.FAILED and "zero gradient" in result.message, result


def test_gaussian_nll_not_attempted_and_errors():
    assert _status("further.gaussian_nll", None) is Status.NOT_ATTEMPTED

    def stub(mean, var, target):
        raise NotImplementedError

    assert _status("further.gaussian_nll", stub) is Status.NOT_ATTEMPTED
    assert _status("further.gaussian_nll", lambda m, v, t: m.nonexistent) is Status.ERROR


def test_gaussian_nll_feedback_hides_expected_values():
    result = check_quietly("further.gaussian_nll", lambda m, v, t: my_gaussian_nll(m, v, t) * 1.01)
    assert result.status is Status.FAILED
    expected = gaussian_nll(torch.zeros(1), torch.ones(1), torch.ones(1)).item()
    assert f"{expected:.3f}" not in result.message and "tensor(" not in result.message


# ---------------------------------------------------------------- further.ece

def my_ece(probs, labels, n_bins):
    conf, pred = probs.max(dim=1)
    correct = (pred == labels).to(probs.dtype)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=probs.dtype)
    ece = torch.zeros((), dtype=probs.dtype)
    for b in range(n_bins):
        in_bin = (conf > edges[b]) & (conf <= edges[b + 1]) if b else conf <= edges[1]
        if in_bin.any():
            ece = ece + in_bin.to(probs.dtype).mean() * (correct[in_bin].mean() - conf[in_bin].mean()).abs()
    return ece


def test_ece_reference_and_solution_pass():
    assert check_quietly("further.ece", expected_calibration_error).passed
    assert check_quietly("further.ece", my_ece).passed


def test_ece_wrong_variants_fail():
    left_closed = lambda p, y, m: _ece_left_closed(p, y, m)  # noqa: E731
    unweighted = lambda p, y, m: _ece_unweighted(p, y, m)  # noqa: E731
    as_float = lambda p, y, m: float(my_ece(p, y, m))  # noqa: E731
    to_f32 = lambda p, y, m: my_ece(p, y, m).float()  # noqa: E731
    signed = lambda p, y, m: _ece_signed(p, y, m)  # noqa: E731
    for bad in (left_closed, unweighted, as_float, to_f32, signed):
        assert _status("further.ece", bad) is Status.FAILED, bad
    assert _status("further.ece", None) is Status.NOT_ATTEMPTED
    assert _status("further.ece", lambda p, y, m: p.argmax(2)) is Status.ERROR


def _ece_left_closed(probs, labels, n_bins):
    conf, pred = probs.max(dim=1)
    idx = (conf * n_bins).floor().clamp(max=n_bins - 1).long()
    correct = (pred == labels).to(probs.dtype)
    ece = torch.zeros((), dtype=probs.dtype)
    for b in range(n_bins):
        m = idx == b
        if m.any():
            ece = ece + m.to(probs.dtype).mean() * (correct[m].mean() - conf[m].mean()).abs()
    return ece


def _ece_unweighted(probs, labels, n_bins):
    conf, pred = probs.max(dim=1)
    idx = (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()
    correct = (pred == labels).to(probs.dtype)
    gaps = [(correct[idx == b].mean() - conf[idx == b].mean()).abs() for b in range(n_bins) if (idx == b).any()]
    return torch.stack(gaps).mean()


def _ece_signed(probs, labels, n_bins):
    conf, pred = probs.max(dim=1)
    return ((pred == labels).to(probs.dtype).mean() - conf.mean()).abs()


# ---------------------------------------------------------------- further.straight_through

def st_one_hot(probs):
    index = probs.argmax(dim=-1, keepdim=True)
    hard = torch.zeros_like(probs).scatter_(-1, index, 1.0)
    return hard + (probs - probs.detach())


def test_straight_through_reference_and_solution_pass():
    assert check_quietly("further.straight_through", straight_through).passed
    assert check_quietly("further.straight_through", st_one_hot).passed


def test_straight_through_wrong_variants_fail():
    def buggy(probs):  # the snippet in the exercise text
        return torch.nn.functional.one_hot(probs.argmax(dim=-1), probs.shape[-1]).float()

    soft_only = lambda p: p  # noqa: E731
    reversed_st = lambda p: p + (st_one_hot(p).detach() - p)  # noqa: E731  (detaches everything)
    tie_last = lambda p: st_one_hot(p.flip(-1)).flip(-1)  # noqa: E731
    for bad in (buggy, soft_only, reversed_st, tie_last):
        assert _status("further.straight_through", bad) is Status.FAILED, bad
    assert _status("further.straight_through", None) is Status.NOT_ATTEMPTED
    assert _status("further.straight_through", "one_hot") is Status.FAILED
    message = check_quietly("further.straight_through", buggy).message
    assert "tensor(" not in message


def guo_ece(probs, labels, n_bins):
    """The widely copied per-bin loop (Guo et al. 2017's code), returning a 0-dim tensor in the dtype of probs:
    it counts in float32 (``.float()``), about 1e-9 away from the float64 value."""
    confidences, predictions = probs.max(dim=1)
    accuracies = predictions.eq(labels)
    boundaries = torch.linspace(0, 1, n_bins + 1)
    ece = torch.zeros((), dtype=probs.dtype)
    for lower, upper in zip(boundaries[:-1], boundaries[1:]):
        in_bin = confidences.gt(lower.item()) * confidences.le(upper.item())
        if lower.item() == 0:
            in_bin = in_bin | (confidences == 0)
        prop_in_bin = in_bin.float().mean()
        if prop_in_bin.item() > 0:
            accuracy_in_bin = accuracies[in_bin].float().mean()
            avg_confidence_in_bin = confidences[in_bin].mean()
            ece = ece + torch.abs(avg_confidence_in_bin - accuracy_in_bin) * prop_in_bin
    return ece


def test_ece_the_common_float32_counting_loop_passes():
    p = torch.softmax(torch.randn(200, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3, 1)
    y = torch.randint(0, 4, (200,), generator=torch.Generator().manual_seed(1))
    gap = abs(float(guo_ece(p, y, 10)) - float(expected_calibration_error(p, y, 10)))
    assert 0 < gap < 1e-7   # off in the late digits only
    result = check_quietly("further.ece", guo_ece)
    assert result.status is Status.PASSED, result
