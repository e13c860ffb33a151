"""Tests for course_pkg.decisions (binary decisions from logits), the loss-at-one-logit probe and its figure."""
import decimal
import math

import pytest
import torch

from course_pkg import decisions as B
from course_pkg.gradients import loss_and_gradient
from course_pkg.losses import bce_with_logits, naive_bce_after_sigmoid
from course_pkg.plotting import plot_loss_vs_logit

F64 = torch.float64


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


def test_threshold_table():
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


def test_predict_labels_is_exact_at_the_float32_edge_of_the_cut(device):
    # sigma(z) > t for the float32 logit 0.1 (0.100000001...) and t = sigma(0.1), but the cut log(t / (1 - t))
    # rounds to that very float32 number: comparing in float32 would give 0.
    t = 1 / (1 + math.exp(-0.1))
    z32 = torch.tensor([0.1], device=device)
    assert 1 / (1 + math.exp(-z32.item())) > t
    assert not bool(z32 > B.logit_threshold(t))  # the float32 comparison this test guards against
    assert B.predict_labels(z32, t).tolist() == [1.0]
    assert B.predict_labels(torch.tensor([0.1], dtype=torch.float16, device=device), t).tolist() == [0.0]  # 0.0999755
    # The float32 numbers around each cut are decided as exact arithmetic decides sigma(z) > t, i.e.
    # e^-z < (1 - t) / t, evaluated here with 50 significant digits on the exact values of z and t.
    decimal.getcontext().prec = 50
    for t in (0.3, 0.5, 0.9, 1 - 1e-9, 1 / (1 + math.exp(-2.5)), 1 / (1 + math.exp(-0.1))):
        c = torch.tensor(B.logit_threshold(t), dtype=torch.float32)
        near = torch.stack([torch.nextafter(c, torch.tensor(-math.inf)), c, torch.nextafter(c, torch.tensor(math.inf))])
        t_exact = decimal.Decimal(t)
        exact = [1.0 if (-decimal.Decimal(v)).exp() < (1 - t_exact) / t_exact else 0.0 for v in near.tolist()]
        assert B.predict_labels(near.to(device), t).tolist() == exact, t
