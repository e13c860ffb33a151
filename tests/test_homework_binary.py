"""Tests for chapter 5's exercise checks and for course_pkg.decisions."""
import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg import decisions as B
from course_pkg.gradients import loss_and_gradient
from course_pkg.homework import Status, check_quietly
from course_pkg.losses import bce_with_logits, naive_bce_after_sigmoid
from course_pkg.plotting import plot_loss_vs_logit

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
    assert check_quietly("binary.bce_with_logits", F.binary_cross_entropy_with_logits).passed
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
    assert check_quietly("binary.predict_labels", B.predict_labels).passed
    assert check_quietly("binary.predict_labels", lambda z, t: (z > math.log(t / (1 - t))).long()).passed
    assert check_quietly("binary.predict_labels", lambda z, t: z > math.log(t) - math.log1p(-t)).passed
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


# ---------------------------------------------------------------- course_pkg.decisions

def test_logit_threshold_is_inverse_sigmoid():
    for t in (1e-12, 0.1, 0.5, 0.9, 1 - 1e-9):
        assert B.logit_threshold(t) == pytest.approx(math.log(t / (1 - t)), rel=1e-12, abs=1e-12)
        assert torch.sigmoid(torch.tensor(B.logit_threshold(t), dtype=F64)).item() == pytest.approx(t, rel=1e-12)
    for bad in (0.0, 1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            B.logit_threshold(bad)
    with pytest.raises(TypeError):
        B.logit_threshold("0.5")


def test_predict_labels_matches_sigmoid_in_float64_and_zero_threshold(device):
    z = torch.randn(1000, dtype=F64, generator=torch.Generator().manual_seed(0)).to(device) * 10
    for t in (0.05, 0.5, 0.9):
        assert torch.equal(B.predict_labels(z, t), (torch.sigmoid(z) > t).to(F64))
    assert torch.equal(B.predict_labels(z.float()), (z.float() > 0).float())
    z32 = torch.tensor([18.0, 25.0], device=device)
    assert B.predict_labels(z32, 1 - 1e-9).tolist() == [0.0, 1.0]
    assert B.predict_labels(z32).dtype == torch.float32 and not B.predict_labels(z32.requires_grad_()).requires_grad
    with pytest.raises(TypeError):
        B.predict_labels(torch.tensor([1, 2]))


def test_binary_counts_and_table():
    c = B.binary_counts(torch.tensor([1, 1, 0, 0, 1]), torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0]))
    assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (2, 1, 1, 1)
    assert c["precision"] == pytest.approx(2 / 3) and c["recall"] == pytest.approx(2 / 3)
    assert c["accuracy"] == pytest.approx(3 / 5)
    assert math.isnan(B.binary_counts(torch.zeros(3), torch.tensor([0.0, 1.0, 0.0]))["precision"])
    with pytest.raises(ValueError):
        B.binary_counts(torch.tensor([0.5]), torch.tensor([1.0]))
    with pytest.raises(ValueError):
        B.binary_counts(torch.zeros(3), torch.zeros(2))
    table = B.threshold_table(torch.tensor([-3.0, 0.5, 4.0]), torch.tensor([0.0, 1.0, 1.0]), [0.1, 0.9])
    lines = table.splitlines()
    assert len(lines) == 3 and lines[0].startswith("threshold")
    assert lines[2].split("|")[2].strip() == "1"  # only the logit 4 clears t = 0.9


def test_loss_and_gradient_saturation_numbers():
    assert loss_and_gradient(bce_with_logits, 20.0, 0.0) == (20.0, 1.0)
    assert loss_and_gradient(naive_bce_after_sigmoid, 20.0, 0.0) == (100.0, 0.0)
    assert loss_and_gradient(bce_with_logits, -100.0, 1.0) == (100.0, -1.0)
    assert abs(loss_and_gradient(naive_bce_after_sigmoid, -100.0, 1.0)[1]) < 1e-30
    value, grad = loss_and_gradient(bce_with_logits, 0.3, 1.0, dtype=F64)
    assert grad == pytest.approx(1 / (1 + math.exp(-0.3)) - 1, abs=1e-15)
    assert value == pytest.approx(math.log1p(math.exp(-0.3)), abs=1e-15)
    with pytest.raises(TypeError):
        loss_and_gradient("bce", 0.0, 1.0)
    with pytest.raises(TypeError):
        loss_and_gradient(bce_with_logits, 0.0, 1.0, dtype=torch.int64)


def test_plot_loss_vs_logit():
    fig = plot_loss_vs_logit({"a": bce_with_logits, "b": naive_bce_after_sigmoid}, 0.0, (-5, 25), points=11)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    with pytest.raises(TypeError):
        plot_loss_vs_logit({}, 0.0)
    with pytest.raises(ValueError):
        plot_loss_vs_logit({"a": bce_with_logits}, 0.0, (1, 0))
