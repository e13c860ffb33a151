"""Oracle, property, gradient and extreme-value tests for the chapter "Outputs with structure".

sparsemax against a sort-based NumPy reference written here independently (and against Dykstra's alternating
projections), poisson_nll against F.poisson_nll_loss, coral_loss against per-threshold
F.binary_cross_entropy_with_logits, von_mises_nll against scipy.stats.vonmises and torch.distributions.VonMises,
all in float64; gradients by gradcheck and by their closed forms.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from course_pkg import data, inference, losses, metrics, models, plotting, transforms
from course_pkg.runtime import generator

F64 = torch.float64
settings.register_profile("course", max_examples=60, deadline=None, derandomize=True, database=None)
settings.load_profile("course")


# ---------------------------------------------------------------- sparsemax

def sparsemax_reference(z: np.ndarray) -> np.ndarray:
    """Martins & Astudillo (2016), Algorithm 1, row by row in float64 NumPy."""
    out = np.empty_like(z, dtype=np.float64)
    for i, row in enumerate(np.asarray(z, dtype=np.float64).reshape(-1, z.shape[-1])):
        s = np.sort(row)[::-1]
        support = 0
        for k in range(1, len(s) + 1):
            if 1 + k * s[k - 1] > s[:k].sum():
                support = k
        tau = (s[:support].sum() - 1) / support
        out.reshape(-1, z.shape[-1])[i] = np.maximum(row - tau, 0)
    return out


def dykstra_projection(z: torch.Tensor, iters: int = 2000) -> torch.Tensor:
    p, a, b = z.clone(), torch.zeros_like(z), torch.zeros_like(z)
    for _ in range(iters):
        y = p + a - ((p + a).sum(-1, keepdim=True) - 1) / z.shape[-1]
        a = p + a - y
        nxt = (y + b).clamp(min=0)
        b = y + b - nxt
        p = nxt
    return p


def test_sparsemax_matches_sort_reference_float64():
    g = generator(0)
    for scale in (0.1, 1.0, 5.0, 100.0):
        z = torch.randn(40, 9, generator=g, dtype=F64) * scale
        ref = torch.from_numpy(sparsemax_reference(z.numpy()))
        assert torch.allclose(transforms.sparsemax(z), ref, atol=1e-12, rtol=0)
    z = torch.tensor([[1.0, 0.8, -1.0], [3.0, 0.0, 0.0], [0.2, 0.2, 0.2]], dtype=F64)
    assert torch.allclose(transforms.sparsemax(z), torch.tensor([[0.6, 0.4, 0.0], [1.0, 0.0, 0.0], [1 / 3] * 3],
                                                                  dtype=F64), atol=1e-15)


def test_sparsemax_is_the_euclidean_projection():
    z = torch.randn(20, 7, generator=generator(1), dtype=F64) * 2
    assert torch.allclose(transforms.sparsemax(z), dykstra_projection(z), atol=1e-12)


def test_sparsemax_has_exact_zeros_and_float32_matches_float64():
    z = torch.randn(64, 10, generator=generator(2)) * 3
    p = transforms.sparsemax(z)
    assert p.dtype == torch.float32 and int((p == 0).sum()) > 64 * 5
    assert torch.allclose(p.double(), torch.from_numpy(sparsemax_reference(z.double().numpy())), atol=1e-6)


def test_sparsemax_dim_argument_and_batch_shapes():
    z = torch.randn(3, 4, 5, generator=generator(3), dtype=F64)
    for dim in (0, 1, 2, -1):
        moved = transforms.sparsemax(z.movedim(dim, -1)).movedim(-1, dim)
        assert torch.equal(transforms.sparsemax(z, dim=dim), moved)
        assert torch.allclose(transforms.sparsemax(z, dim=dim).sum(dim), torch.ones((), dtype=F64))


def test_sparsemax_extremes_are_finite():
    for dtype in (torch.float16, torch.bfloat16, torch.float32, F64):
        z = torch.tensor([[1000.0, 999.5, -1000.0], [-1000.0, -1000.0, -1000.0], [1000.0, -1000.0, 0.0]],
                         dtype=dtype, requires_grad=True)
        p = transforms.sparsemax(z)
        (p * torch.arange(3, dtype=dtype)).sum().backward()
        assert torch.isfinite(p).all() and torch.isfinite(z.grad).all(), dtype
        # (bfloat16 rounds 999.5 to 1000: compare with the reference on the rounded logits)
        expected = torch.from_numpy(sparsemax_reference(z.detach().double().numpy()))
        assert torch.allclose(p.double(), expected, atol=4e-3), dtype


def test_sparsemax_gradcheck_and_jacobian_formula():
    z = torch.tensor([[1.2, 0.9, 0.1, -1.5], [0.3, 0.2, 0.25, 0.1], [2.0, -1.0, -2.0, 0.5]], dtype=F64,
                     requires_grad=True)
    assert torch.autograd.gradcheck(transforms.sparsemax, (z,))
    for row in z.detach():
        jac = torch.autograd.functional.jacobian(transforms.sparsemax, row)
        s = (transforms.sparsemax(row) > 0).double()
        assert torch.allclose(jac, torch.diag(s) - torch.outer(s, s) / s.sum(), atol=1e-15)
    # the backward passes grad_out through dim as well
    z3 = torch.randn(2, 5, 3, generator=generator(4), dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: transforms.sparsemax(t, dim=1), (z3,))


@st.composite
def logit_rows(draw):
    dtype = draw(st.sampled_from([torch.float32, F64]))
    scale = draw(st.sampled_from([1.0, 10.0, 100.0, 1000.0]))
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 7))
    values = draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=rows * cols, max_size=rows * cols))
    return (torch.tensor(values, dtype=F64).reshape(rows, cols) * scale).to(dtype)


@given(logit_rows())
def test_sparsemax_lies_on_the_simplex(o):
    p = transforms.sparsemax(o)
    tol = 1e-4 if o.dtype == torch.float32 else 1e-12
    assert torch.all(p >= 0) and torch.all(p <= 1)
    assert torch.allclose(p.sum(-1).double(), torch.ones(o.shape[0], dtype=F64), atol=tol)
    # the largest logit is always in the support
    assert bool((p.gather(1, o.argmax(1, keepdim=True)) > 0).all())


@given(logit_rows(), st.sampled_from([-500.0, -3.0, 0.5, 64.0]))
def test_sparsemax_is_shift_invariant(o, shift):
    tol = 1e-3 if o.dtype == torch.float32 else 1e-9
    assert torch.allclose(transforms.sparsemax(o + shift), transforms.sparsemax(o), atol=tol)


# ---------------------------------------------------------------- poisson_nll

def test_poisson_nll_matches_torch_and_its_gradient():
    g = generator(5)
    o = torch.randn(300, 2, generator=g, dtype=F64, requires_grad=True) * 2
    y = torch.poisson(torch.full((300, 2), 4.0, dtype=F64), generator=g)
    ours = losses.poisson_nll(o, y)
    assert torch.allclose(ours, F.poisson_nll_loss(o, y, log_input=True, full=False), atol=1e-14)
    (grad,) = torch.autograd.grad(ours, o)
    assert torch.allclose(grad, (o.exp() - y) / o.numel(), atol=1e-16)
    assert torch.autograd.gradcheck(lambda t: losses.poisson_nll(t, y[:5]), (o.detach()[:5].clone().requires_grad_(),))


def test_poisson_nll_is_the_negative_log_likelihood_up_to_log_factorial():
    o = torch.tensor([-1.0, 0.0, 2.5], dtype=F64)
    y = torch.tensor([0.0, 3.0, 7.0], dtype=F64)
    full = -stats.poisson.logpmf(y.numpy(), np.exp(o.numpy())) - special.gammaln(y.numpy() + 1)
    assert math.isclose(losses.poisson_nll(o, y).item(), full.mean(), rel_tol=1e-13)


def test_poisson_nll_extremes():
    o = torch.tensor([-100.0, 30.0], requires_grad=True)
    value = losses.poisson_nll(o, torch.tensor([5.0, 0.0]))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(o.grad).all()


# ---------------------------------------------------------------- coral_loss and predict_ordinal

def test_coral_loss_matches_per_threshold_bce():
    g = generator(6)
    z = torch.randn(50, 5, generator=g, dtype=F64, requires_grad=True) * 3
    y = torch.randint(0, 6, (50,), generator=g)
    levels = (y.unsqueeze(1) > torch.arange(5)).double()
    expected = sum(F.binary_cross_entropy_with_logits(z[:, k], levels[:, k]) for k in range(5))
    ours = losses.coral_loss(z, y)
    assert torch.allclose(ours, expected, atol=1e-13)
    (grad,) = torch.autograd.grad(ours, z)
    assert torch.allclose(grad, (torch.sigmoid(z) - levels) / 50, atol=1e-15)
    assert torch.autograd.gradcheck(lambda t: losses.coral_loss(t, y[:6]), (z.detach()[:6].clone().requires_grad_(),))


def test_coral_loss_levels_and_two_classes():
    z = torch.tensor([[2.0, -1.0, 0.5]], dtype=F64)
    # label 2 of K = 4: levels (1, 1, 0)
    expected = F.softplus(-z[0, 0]) + F.softplus(-z[0, 1]) + F.softplus(z[0, 2])
    assert torch.allclose(losses.coral_loss(z, torch.tensor([2])), expected, atol=1e-15)
    # K = 2: exactly binary cross-entropy with the label as target
    z2 = torch.randn(8, 1, generator=generator(7), dtype=F64)
    y2 = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    assert torch.allclose(losses.coral_loss(z2, y2), F.binary_cross_entropy_with_logits(z2[:, 0], y2.double()))


def test_coral_loss_finite_at_extremes():
    z = torch.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    value = losses.coral_loss(z, torch.tensor([2, 0]))
    value.backward()
    assert value.item() == pytest.approx(1000.0, rel=1e-6)  # the second sample is wrong by 1000 twice, over N = 2
    assert torch.isfinite(z.grad).all()


def test_predict_ordinal_counts_positive_logits():
    z = torch.tensor([[3.0, 0.5, -2.0], [-1.0, -2.0, -3.0], [1.0, 1.0, 1.0], [0.0, -1.0, -2.0]])
    pred = inference.predict_ordinal(z)
    assert pred.dtype == torch.int64 and pred.tolist() == [2, 0, 3, 0]
    assert inference.predict_ordinal(torch.zeros(2, 3, 4)).shape == (2, 3)


def test_coral_head_is_rank_consistent_when_its_biases_are_ordered():
    head = models.CoralHead(6)
    assert head.bias.tolist() == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])
    s = torch.randn(100, 1, generator=generator(8)) * 10
    z = head(s)
    assert z.shape == (100, 5) and bool((z[:, 1:] <= z[:, :-1]).all())
    with torch.no_grad():
        head.bias[2] = 5.0  # out of order: every input now violates rank consistency
    z = head(s)
    assert bool((z[:, 3] > z[:, 2]).all() or (z[:, 2] > z[:, 1]).all())
    with pytest.raises(ValueError, match=r"score must have shape \(N, 1\)"):
        head(torch.zeros(3, 2))


# ---------------------------------------------------------------- von_mises_nll and predict_angle

@pytest.mark.parametrize("kappa", [1e-3, 0.5, 1.0, 10.0, 100.0, 700.0, 1000.0, 1e4])
def test_von_mises_nll_matches_scipy(kappa):
    g = generator(9)
    mu = (torch.rand(64, generator=g, dtype=F64) * 2 - 1) * math.pi
    theta = (torch.rand(64, generator=g, dtype=F64) * 2 - 1) * math.pi
    k = torch.full((64,), kappa, dtype=F64)
    expected = -stats.vonmises.logpdf(theta.numpy(), kappa, loc=mu.numpy()).mean()
    assert math.isclose(losses.von_mises_nll(mu, k, theta).item(), expected, rel_tol=1e-12, abs_tol=1e-12)


def test_von_mises_nll_matches_torch_distribution_and_is_periodic():
    g = generator(10)
    mu = torch.randn(30, generator=g, dtype=F64)
    k = torch.rand(30, generator=g, dtype=F64) * 20 + 0.1
    theta = torch.randn(30, generator=g, dtype=F64) * 2
    expected = -torch.distributions.VonMises(mu, k).log_prob(theta).mean()
    assert torch.allclose(losses.von_mises_nll(mu, k, theta), expected, atol=1e-10)
    assert torch.allclose(losses.von_mises_nll(mu, k, theta + 2 * math.pi), losses.von_mises_nll(mu, k, theta),
                          atol=1e-12)


def test_von_mises_nll_gradients():
    g = generator(11)
    mu = torch.randn(6, generator=g, dtype=F64, requires_grad=True)
    k = (torch.rand(6, generator=g, dtype=F64) * 50 + 0.5).requires_grad_(True)
    theta = torch.randn(6, generator=g, dtype=F64)
    assert torch.autograd.gradcheck(lambda a, b: losses.von_mises_nll(a, b, theta), (mu, k))
    # d/dk [-k cos(d) + log 2 pi I0(k)] = I1(k)/I0(k) - cos(d)
    kk = torch.tensor([0.5, 10.0, 1e4], dtype=F64, requires_grad=True)
    zero = torch.zeros(3, dtype=F64)
    (grad,) = torch.autograd.grad(losses.von_mises_nll(zero, kk, zero + 0.3), kk)
    expected = (special.i1e(kk.detach().numpy()) / special.i0e(kk.detach().numpy()) - math.cos(0.3)) / 3
    assert np.allclose(grad.numpy(), expected, rtol=1e-10, atol=1e-14)


def test_von_mises_nll_is_finite_where_i0_overflows():
    for dtype, kappa in [(torch.float32, 1e4), (torch.float32, 90.0), (F64, 1e4), (F64, 800.0)]:
        k = torch.tensor([kappa], dtype=dtype, requires_grad=True)
        assert torch.isinf(torch.special.i0(k.detach())).all()
        value = losses.von_mises_nll(torch.zeros(1, dtype=dtype), k, torch.full((1,), 0.01, dtype=dtype))
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(k.grad).all()


def test_predict_angle_covers_all_quadrants_and_ignores_scale():
    o = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 0.0]], dtype=F64)
    expected = torch.tensor([0.25, 0.75, -0.75, -0.25, 1.0], dtype=F64) * math.pi
    assert torch.allclose(inference.predict_angle(o), expected, atol=1e-15)
    assert torch.allclose(inference.predict_angle(o * 1e-3), expected, atol=1e-15)
    assert inference.predict_angle(torch.zeros(2, 3, 2)).shape == (2, 3)


# ---------------------------------------------------------------- data, models, metrics, plotting

def test_data_makers_are_seeded_and_have_their_documented_ranges():
    for maker in (data.make_counts, data.make_ordinal, data.make_angles, data.make_selection):
        a, b = maker(50, seed=3), maker(50, seed=3)
        assert all(torch.equal(u, v) for u, v in zip(a, b)), maker.__name__
        assert not torch.equal(maker(50, seed=3)[0], maker(50, seed=4)[0])
    x, y, rate = data.make_counts(500, return_rate=True)
    assert torch.equal(rate, data.count_rate(x)) and bool((y == y.round()).all() and (y >= 0).all())
    assert 0.14 < rate.min().item() < 0.2 and 40 < rate.max().item() < 49
    x, y = data.make_ordinal(2000, num_classes=7)
    assert y.dtype == torch.int64 and sorted(y.unique().tolist()) == list(range(7))
    t = torch.linspace(-1.5, 2.0, 6)
    gaps = (t ** 3 / 4 + t / 2).diff()
    assert 0.39 < gaps.min().item() < 0.41 and 1.79 < gaps.max().item() < 1.81
    x, theta, kappa = data.make_angles(3000, return_concentration=True)
    assert bool((theta > -math.pi).all() and (theta <= math.pi).all())
    assert 6.25 - 1e-3 <= kappa.min().item() < 6.4 and 98.0 < kappa.max().item() <= 100.0 + 1e-3
    before = torch.random.get_rng_state()
    data.make_angles(10)
    assert torch.equal(before, torch.random.get_rng_state())  # the global generator is left alone
    x, y, relevant = data.make_selection(300, return_relevant=True)
    assert torch.allclose(y[:, 0], (x[..., -1] * relevant).sum(1) / relevant.sum(1))
    assert bool(relevant.any(1).all())


def test_attention_pool_weights_are_on_the_simplex():
    x = torch.randn(5, 6, 4, generator=generator(12))
    for normalize in (transforms.softmax, transforms.sparsemax):
        pool = models.AttentionPool(3, normalize, seed=1)
        w = pool.weights(x)
        assert w.shape == (5, 6) and torch.allclose(w.sum(1), torch.ones(5), atol=1e-6) and bool((w >= 0).all())
        assert torch.allclose(pool(x)[:, 0], (w * x[..., -1]).sum(1))
    with pytest.raises(ValueError, match=r"x must have shape \(N, M, 4\)"):
        models.AttentionPool(3, transforms.softmax)(torch.zeros(2, 3, 3))


def test_metrics():
    counts = torch.tensor([1.0, 2.0, 5.0], dtype=F64)
    assert metrics.mean_poisson_deviance(counts, counts) == 0.0  # a perfect fit
    y = torch.tensor([0.0, 2.0, 5.0], dtype=F64)
    lam = torch.tensor([0.5, 1.0, 4.0], dtype=F64)
    expected = 2 * np.mean(special.xlogy(y.numpy(), y.numpy() / lam.numpy()) - (y.numpy() - lam.numpy()))
    assert metrics.mean_poisson_deviance(lam, y) == pytest.approx(expected, rel=1e-13)
    assert metrics.mean_angular_error(torch.tensor([3.1, 0.2]), torch.tensor([-3.1, -0.2])) == pytest.approx(
        (2 * math.pi - 6.2 + 0.4) / 2, rel=1e-6)


def test_plotting_helpers():
    x = torch.linspace(-1, 1, 7).unsqueeze(1)
    fig = plotting.plot_angles(x, 3 * x.squeeze(1), {"wrapping": lambda t: torch.remainder(4 * t[:, 0] + math.pi,
                                                                                            2 * math.pi) - math.pi})
    line = fig.axes[0].lines[0]
    assert np.isnan(np.asarray(line.get_ydata(), dtype=float)).any()  # broken at each wrap, no vertical segment
    fig = plotting.plot_curves(torch.linspace(0, 1, 5), {"a": {"x": torch.linspace(0, 1, 5)},
                                                         "b": {"2x": 2 * torch.linspace(0, 1, 5)}})
    assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim()
    assert "Figure with 2 panels" in repr(fig)


def test_von_mises_nll_has_no_cancellation_at_large_concentration():
    # -k cos(d) + k would cancel to a few digits in float32; 2 k sin^2(d/2) keeps them
    for kappa, d in [(1e4, 1e-3), (1e30, 1e-3), (50.0, 1e-4)]:
        k32, d32 = torch.tensor([kappa]), torch.tensor([d])
        ours = losses.von_mises_nll(torch.zeros(1), k32, d32).item()
        exact = losses.von_mises_nll(torch.zeros(1, dtype=F64), k32.double(), d32.double()).item()
        assert math.isclose(ours, exact, rel_tol=1e-5), (kappa, d, ours, exact)
