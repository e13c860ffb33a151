import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.data import make_heteroscedastic_regression
from course_pkg.heteroscedastic import gaussian_nll, mean_and_variance
from course_pkg.plotting import plot_mean_std_band

F64 = torch.float64


def _inputs(n=50, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(n, 3, generator=g, dtype=dtype)
    var = torch.rand(n, 3, generator=g, dtype=dtype) * 2
    target = torch.randn(n, 3, generator=g, dtype=dtype)
    return mean, var, target


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_matches_torch_float64(full, reduction):
    mean, var, target = _inputs()
    var[0, 0], var[1, 1] = 0.0, 1e-9  # below eps: clamped
    ours = gaussian_nll(mean, var, target, full=full, reduction=reduction)
    ref = F.gaussian_nll_loss(mean, target, var, full=full, reduction=reduction)
    assert torch.allclose(ours, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("eps", [1e-6, 1e-2, 0.5])
def test_gradients_match_torch_including_clamped_entries(eps):
    mean, var, target = _inputs(seed=1)
    var[:5] = 1e-8
    a = [t.clone().requires_grad_(True) for t in (mean, var)]
    b = [t.clone().requires_grad_(True) for t in (mean, var)]
    gaussian_nll(a[0], a[1], target, eps=eps).backward()
    F.gaussian_nll_loss(b[0], target, b[1], eps=eps).backward()
    for x, y in zip(a, b):
        assert torch.allclose(x.grad, y.grad, atol=1e-12, rtol=1e-12)


def test_formula_and_gradient_zero_at_matching_variance():
    # -log N(2; 0, 1) without the constant = 0.5 * 4 = 2
    assert gaussian_nll(torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([2.0])).item() == 2.0
    full = gaussian_nll(torch.tensor([0.0], dtype=F64), torch.tensor([1.0], dtype=F64),
                        torch.tensor([2.0], dtype=F64), full=True).item()
    assert full == pytest.approx(2.0 + 0.5 * math.log(2 * math.pi), abs=1e-14)
    var = torch.tensor([4.0], dtype=F64, requires_grad=True)
    gaussian_nll(torch.tensor([0.0], dtype=F64), var, torch.tensor([2.0], dtype=F64)).backward()
    assert abs(var.grad.item()) < 1e-15  # optimum at var = residual^2


def test_bad_inputs():
    m, v, t = torch.zeros(3), torch.ones(3), torch.zeros(3)
    with pytest.raises(ValueError, match="negative"):
        gaussian_nll(m, -v, t)
    with pytest.raises(ValueError, match="same shape"):
        gaussian_nll(m, v[:2], t)
    with pytest.raises(TypeError, match="floating"):
        gaussian_nll(m.long(), v, t)
    with pytest.raises(ValueError, match="reduction"):
        gaussian_nll(m, v, t, reduction="avg")
    with pytest.raises(ValueError, match="eps"):
        gaussian_nll(m, v, t, eps=0.0)


def test_mean_and_variance_head():
    o = torch.tensor([[1.0, -1000.0], [-2.0, 0.0], [0.5, 1000.0]], requires_grad=True)
    mu, var = mean_and_variance(o, floor=1e-3)
    assert mu.shape == var.shape == (3, 1)
    assert bool((var >= 1e-3).all()) and torch.isfinite(var).all()
    assert var[2].item() == pytest.approx(1000.0 + 1e-3)
    gaussian_nll(mu, var, torch.zeros(3, 1)).backward()
    assert torch.isfinite(o.grad).all()
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        mean_and_variance(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="floor"):
        mean_and_variance(torch.zeros(3, 2), floor=-1.0)


def test_heteroscedastic_data():
    x, y, s = make_heteroscedastic_regression(2000, seed=0, return_std=True)
    x2, y2 = make_heteroscedastic_regression(2000, seed=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert x.shape == y.shape == s.shape == (2000, 1)
    assert torch.allclose(s, 0.05 + 0.1 * (x + 3))
    resid = y - torch.sin(1.5 * x)
    left, right = resid[x < -1.5], resid[x > 1.5]
    assert left.std() < 0.25 < right.std()
    with pytest.raises(ValueError):
        make_heteroscedastic_regression(0)


def test_plot_mean_std_band():
    x = torch.linspace(0, 1, 20).unsqueeze(1)
    fig = plot_mean_std_band(x, x, lambda t: (t, 0.1 + 0 * t), true_mean=lambda t: t, true_std=lambda t: 0.2 + 0 * t)
    assert len(fig.axes) == 1
    with pytest.raises(TypeError):
        plot_mean_std_band(x.long(), x, lambda t: (t, t))
