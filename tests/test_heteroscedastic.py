"""The heteroscedastic heads (mean and positive variance), their data and their figure.

The Gaussian NLL itself is tested in tests/test_losses.py (it lives in course_pkg.losses)."""
import pytest
import torch

from course_pkg import heteroscedastic
from course_pkg.data import heteroscedastic_mean, heteroscedastic_std, make_heteroscedastic_regression
from course_pkg.heteroscedastic import gaussian_parameters, mean_and_variance
from course_pkg.losses import gaussian_nll
from course_pkg.plotting import plot_mean_std_band

F64 = torch.float64


def test_gaussian_nll_still_importable_from_its_old_home():
    assert heteroscedastic.gaussian_nll is gaussian_nll
    assert "gaussian_nll" not in heteroscedastic.__all__


@pytest.mark.parametrize("name, head", [("log_variance", torch.exp), ("variance", torch.nn.functional.softplus),
                                        ("precision", lambda r: 1 / torch.nn.functional.softplus(r))])
def test_gaussian_parameters_heads(name, head):
    o = torch.randn(20, 2, dtype=F64, generator=torch.Generator().manual_seed(3)) * 5
    mean, var = gaussian_parameters(o, name)
    assert mean.shape == var.shape == (20, 1)
    assert torch.equal(mean, o[:, :1])
    assert torch.allclose(var, head(o[:, 1:]), rtol=1e-12, atol=0)
    assert bool((var > 0).all())


def _raw_gradient(name, o_s, residual=1.0):
    o = torch.tensor([[0.0, o_s]], dtype=F64, requires_grad=True)
    gaussian_nll(*gaussian_parameters(o, name), torch.tensor([[residual]], dtype=F64)).backward()
    return o.grad[0, 1].item(), gaussian_parameters(o.detach(), name)[1].item()


@pytest.mark.parametrize("o_s", [-8.0, -2.0, 0.0, 3.0, 9.0])
def test_head_gradients_match_the_documented_formulas(o_s):
    r2 = 1.0
    g, var = _raw_gradient("log_variance", o_s)
    assert g == pytest.approx(0.5 * (1 - r2 / var), rel=1e-10)
    sig = torch.sigmoid(torch.tensor(o_s, dtype=F64)).item()      # softplus'(o)
    g, var = _raw_gradient("precision", o_s)
    assert g == pytest.approx(0.5 * (r2 - var) * sig, rel=1e-9, abs=1e-12)
    g, var = _raw_gradient("variance", o_s)
    if var >= 1e-6:   # below eps gaussian_nll evaluates at the clamped value
        assert g == pytest.approx(0.5 * (1 / var - r2 / var ** 2) * sig, rel=1e-9)


def test_precision_head_gradient_is_bounded_and_log_variance_grows():
    # a confident miss: variance 1e-4 (o_s large for precision, very negative for the others), residual 1
    g_prec, _ = _raw_gradient("precision", 1e4)
    g_logv, _ = _raw_gradient("log_variance", -9.2103)
    assert abs(g_prec) <= 0.5
    assert g_logv < -4000


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
    assert torch.equal(s, heteroscedastic_std(x))
    assert heteroscedastic_std(torch.tensor([-3.0, 3.0], dtype=F64)).tolist() == pytest.approx([0.05, 0.65])
    assert torch.equal(heteroscedastic_mean(x), torch.sin(1.5 * x))
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
