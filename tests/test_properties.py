"""Property-based tests (hypothesis) for the transforms and losses, across dtypes and extreme magnitudes."""
import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_pkg import losses as L
from course_pkg import transforms as T

settings.register_profile("course", max_examples=60, deadline=None, derandomize=True, database=None)
settings.load_profile("course")

DTYPES = st.sampled_from([torch.float32, torch.float64])
MAGNITUDE = st.sampled_from([1.0, 10.0, 100.0, 1000.0])


@st.composite
def logits(draw, min_dim=1):
    dtype, scale = draw(DTYPES), draw(MAGNITUDE)
    rows = draw(st.integers(1, 4)) if min_dim == 2 else 1
    cols = draw(st.integers(1, 6))
    values = draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=rows * cols, max_size=rows * cols))
    o = torch.tensor(values, dtype=torch.float64).reshape(rows, cols) * scale
    return o.to(dtype) if min_dim == 2 else o.reshape(-1).to(dtype)


def grad(fn, o):
    o = o.detach().clone().requires_grad_(True)
    fn(o).sum().backward()
    return o.grad


@given(logits(min_dim=2))
def test_softmax_rows_sum_to_one_and_shift_invariant(o):
    p = T.softmax(o)
    tol = 1e-5 if o.dtype == torch.float32 else 1e-12
    assert torch.all(p >= 0) and torch.all(p <= 1)
    assert torch.allclose(p.sum(-1), torch.ones(o.shape[0], dtype=o.dtype), atol=tol)
    shift = torch.linspace(-50, 50, o.shape[0], dtype=o.dtype).unsqueeze(1)
    assert torch.allclose(T.softmax(o + shift), p, atol=tol * 10)
    assert torch.isfinite(grad(lambda t: T.softmax(t)[:, 0], o)).all()


@given(logits(min_dim=2))
def test_log_softmax_nonpositive_and_consistent(o):
    lp = T.log_softmax(o)
    assert torch.all(lp <= 0)
    assert torch.isfinite(lp).all()
    assert torch.allclose(lp.exp(), T.softmax(o), atol=1e-6)
    assert torch.isfinite(grad(lambda t: T.log_softmax(t)[:, 0], o)).all()


@given(logits())
def test_sigmoid_range_and_symmetry(o):
    s = T.sigmoid(o)
    assert torch.all((s >= 0) & (s <= 1))
    tol = 1e-6 if o.dtype == torch.float32 else 1e-15
    assert torch.allclose(T.sigmoid(-o), 1 - s, atol=tol)
    assert torch.isfinite(grad(T.sigmoid, o)).all()


@given(logits())
def test_softplus_sandwiched_between_relu_and_relu_plus_log2(o):
    sp, r = T.softplus(o), T.relu(o)
    tol = 1e-4 if o.dtype == torch.float32 else 1e-12
    assert torch.all(sp >= r - tol)
    assert torch.all(sp <= r + math.log(2) + tol)
    g = grad(T.softplus, o)
    assert torch.isfinite(g).all() and torch.all((g >= 0) & (g <= 1))


@given(logits(), st.data())
def test_bce_with_logits_nonnegative_finite_gradient(o, data):
    target = torch.tensor(data.draw(st.lists(st.floats(0, 1), min_size=o.numel(), max_size=o.numel())),
                          dtype=o.dtype)
    loss = L.bce_with_logits(o, target)
    assert loss.item() >= -1e-6 and math.isfinite(loss.item())
    assert torch.isfinite(grad(lambda t: L.bce_with_logits(t, target), o)).all()


@given(logits(min_dim=2), st.data())
def test_cross_entropy_nonnegative_finite_gradient(o, data):
    target = torch.tensor([data.draw(st.integers(0, o.shape[1] - 1)) for _ in range(o.shape[0])])
    loss = L.cross_entropy(o, target)
    assert loss.item() >= -1e-6 and math.isfinite(loss.item())
    g = grad(lambda t: L.cross_entropy(t, target), o)
    assert torch.isfinite(g).all()
    assert torch.allclose(g.sum(1), torch.zeros(o.shape[0], dtype=o.dtype), atol=1e-6)


@given(logits(min_dim=2))
def test_l2_normalize_unit_or_zero(o):
    y = T.l2_normalize(o)
    norms = y.norm(dim=-1)
    # Rows longer than eps land on the unit sphere; shorter ones (the zero vector included) are divided by eps.
    big = o.double().norm(dim=-1) >= 1e-12
    assert torch.allclose(norms[big], torch.ones_like(norms[big]), atol=1e-5)
    assert torch.all(norms[~big] <= 1)
    assert torch.all(norms[o.abs().sum(-1) == 0] == 0)
    assert torch.isfinite(grad(T.l2_normalize, o)).all()


@given(logits(min_dim=2))
def test_argmax_is_first_maximal_index(o):
    idx = T.argmax(o)
    assert torch.equal(idx, torch.argmax(o, dim=-1))
    hot = T.one_hot_max(o)
    assert torch.all(hot.gather(1, idx.unsqueeze(1)) == 1)


@given(logits(min_dim=2), st.lists(st.floats(0.01, 0.99), min_size=1, max_size=6))
def test_pinball_loss_is_nonnegative_and_zero_on_target(pred, levels):
    levels = (levels * pred.shape[1])[: pred.shape[1]]
    target = pred[:, 0].clone().flip(0)
    loss = L.pinball_loss(pred, target, levels)
    assert loss.item() >= 0
    assert L.pinball_loss(target.unsqueeze(1).expand_as(pred).clone(), target, levels).item() == 0.0


@given(st.integers(1, 20), st.sampled_from([0.1, 1.0, 10.0]), st.integers(0, 2 ** 16))
def test_mdn_nll_with_one_component_equals_gaussian_nll(n, scale, seed):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, 1, dtype=torch.float64, generator=g) * scale
    sigma = torch.rand(n, 1, dtype=torch.float64, generator=g) * scale + 0.01
    target = torch.randn(n, dtype=torch.float64, generator=g) * scale
    ours = L.mdn_nll(torch.zeros(n, 1, dtype=torch.float64), mu, sigma, target)
    assert math.isclose(ours.item(), L.gaussian_nll(mu[:, 0], sigma[:, 0] ** 2, target, full=True).item(),
                        rel_tol=1e-12, abs_tol=1e-12)


@given(logits(min_dim=2))
def test_monotone_quantiles_never_cross(o):
    q = T.monotone_quantiles(o)
    assert q.shape == o.shape and torch.isfinite(q).all()
    assert bool((q.diff(dim=-1) >= 0).all())
    assert torch.equal(q[..., 0], o[..., 0])
