import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.calibration import (apply_temperature, expected_calibration_error, fit_temperature,
                                    reliability_curve)
from course_pkg.data import make_multilabel
from course_pkg.plotting import plot_reliability_diagram

F64 = torch.float64


def _oracle_ece(probs, labels, n_bins):
    """Loop-based ECE over bins (lo, hi], written independently."""
    conf, pred = probs.max(dim=1)
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        mask = (conf > lo) & (conf <= hi) if b > 0 else (conf <= hi)
        if mask.any():
            acc = (pred[mask] == labels[mask]).double().mean().item()
            total += mask.double().mean().item() * abs(acc - conf[mask].mean().item())
    return total


@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
def test_ece_matches_loop_oracle(n_bins):
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(500, 4, generator=g, dtype=F64) * 2, dim=1)
    labels = torch.randint(0, 4, (500,), generator=g)
    assert expected_calibration_error(probs, labels, n_bins).item() == pytest.approx(
        _oracle_ece(probs, labels, n_bins), abs=1e-12)


def test_ece_extremes_and_edges():
    one_hot = torch.eye(3, dtype=F64)
    assert expected_calibration_error(one_hot, torch.arange(3)).item() == 0.0
    assert expected_calibration_error(one_hot, torch.tensor([1, 2, 0])).item() == 1.0
    # confidence exactly on an edge goes to the lower bin: 0.5 -> (0.25, 0.5]
    curve = reliability_curve(torch.tensor([[0.5, 0.5], [0.75, 0.25]], dtype=F64), torch.tensor([0, 1]), 4)
    assert curve.counts.tolist() == [0, 1, 1, 0]
    assert math.isnan(curve.accuracy[0].item()) and curve.accuracy[1].item() == 1.0
    assert curve.edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_ece_bad_inputs():
    p = torch.full((2, 2), 0.5)
    with pytest.raises(ValueError, match="labels"):
        expected_calibration_error(p, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="probabilities"):
        expected_calibration_error(torch.tensor([[3.0, -2.0]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(p, torch.tensor([0, 1]), 0)
    with pytest.raises(ValueError, match="dimension"):
        expected_calibration_error(torch.full((2,), 0.5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        expected_calibration_error(torch.full((2, 2, 2), 0.5), torch.tensor([0, 1]))


def test_apply_temperature_keeps_argmax():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(100, 5, generator=g)
    for t in (0.1, 1.0, 7.0):
        assert torch.equal(apply_temperature(z, t).argmax(1), z.argmax(1))
    T = torch.tensor(2.0, requires_grad=True)
    apply_temperature(z, T).sum().backward()
    assert T.grad is not None
    with pytest.raises(ValueError, match="T must be > 0"):
        apply_temperature(z, 0.0)
    with pytest.raises(ValueError, match="T must be > 0"):
        apply_temperature(z, torch.tensor(-1.0))
    with pytest.raises(ValueError, match="0-dim"):
        apply_temperature(z, torch.ones(5))


def test_fit_temperature_closed_form_and_recovery():
    z = torch.tensor([[4.0, 0.0]] * 3 + [[0.0, 4.0]])
    assert fit_temperature(z, torch.tensor([0, 0, 1, 1])) == pytest.approx(4 / math.log(3), rel=1e-6)
    # labels drawn from softmax(z / 3): the fitted T is close to 3
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 3, generator=g, dtype=F64) * 6
    labels = torch.multinomial(torch.softmax(logits / 3, dim=1), 1, generator=g).squeeze(1)
    T = fit_temperature(logits, labels)
    assert 2.7 < T < 3.3
    # the fitted T minimises the NLL
    nll = lambda t: F.cross_entropy(logits / t, labels).item()  # noqa: E731
    assert nll(T) <= min(nll(T * 1.05), nll(T / 1.05))


def test_multilabel_data():
    x, y = make_multilabel(20000, seed=0)
    assert x.shape == (20000, 6) and y.shape == (20000, 4)
    assert torch.allclose(y.mean(0), torch.tensor([0.5, 0.3, 0.12, 0.04]), atol=0.02)
    assert (y.sum(1) >= 2).any() and (y.sum(1) == 0).any()
    x1, y1 = make_multilabel(50, seed=3)
    x2, y2 = make_multilabel(50, seed=3)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    # different sample seeds share one labelling rule: a noiseless rule is recovered exactly
    xa, ya = make_multilabel(500, label_noise=0.0, seed=1)
    xb, yb = make_multilabel(500, label_noise=0.0, seed=2)
    direction = lambda x, y: x.T @ (2 * y - 1) / len(x)  # noqa: E731  (estimates w_k up to scale)
    da, db = direction(xa, ya), direction(xb, yb)
    assert (torch.nn.functional.cosine_similarity(da, db, dim=0) > 0.8).all()
    dc = direction(*make_multilabel(500, label_noise=0.0, seed=1, task_seed=5))
    assert (torch.nn.functional.cosine_similarity(da, dc, dim=0) < 0.8).any()
    with pytest.raises(ValueError, match="rates"):
        make_multilabel(10, rates=(0.5, 1.2))
    with pytest.raises(ValueError):
        make_multilabel(0)


def test_plot_reliability_diagram():
    p = torch.tensor([[0.9, 0.1], [0.6, 0.4]])
    fig = plot_reliability_diagram({"a": (p, torch.tensor([0, 1])), "b": (p, torch.tensor([0, 0]))}, n_bins=5)
    assert len(fig.axes) == 2
    assert "ECE" in fig.axes[0].get_title()
    with pytest.raises(TypeError):
        plot_reliability_diagram({})
