import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg import losses as L
from course_pkg.transforms import softmax

F64 = torch.float64
G = torch.Generator().manual_seed(0)


def test_mse_matches_builtin():
    a, b = torch.randn(10, 3, dtype=F64, generator=G), torch.randn(10, 3, dtype=F64, generator=G)
    assert abs(L.mse(a, b).item() - F.mse_loss(a, b).item()) < 1e-12


@pytest.mark.parametrize("scale", [1.0, 30.0, 100.0])
def test_bce_with_logits_matches_builtin(scale):
    z = torch.randn(40, 5, dtype=F64, generator=G) * scale
    t = torch.rand(40, 5, dtype=F64, generator=G)
    pw = torch.rand(5, dtype=F64, generator=G) * 3
    assert abs(L.bce_with_logits(z, t).item() - F.binary_cross_entropy_with_logits(z, t).item()) < 1e-12
    ours = L.bce_with_logits(z, t, pos_weight=pw).item()
    assert abs(ours - F.binary_cross_entropy_with_logits(z, t, pos_weight=pw).item()) < 1e-12
    assert abs(L.bce_with_logits(z, t, pos_weight=2.0).item()
               - F.binary_cross_entropy_with_logits(z, t, pos_weight=torch.tensor(2.0, dtype=F64)).item()) < 1e-12


def test_bce_with_logits_gradient_at_extremes():
    z = torch.tensor([100.0, -100.0, 20.0, 0.0], requires_grad=True)
    t = torch.tensor([0.0, 1.0, 0.0, 1.0])
    L.bce_with_logits(z, t).backward()
    assert torch.allclose(z.grad * 4, torch.sigmoid(z.detach()) - t)
    assert L.bce_with_logits(torch.tensor([20.0]), torch.tensor([0.0])).item() == pytest.approx(20.0)


def test_sigmoid_then_bce_loses_gradient_when_confidently_wrong():
    for z0, y0, logits_grad in [(20.0, 0.0, 1.0), (-100.0, 1.0, -1.0)]:
        z = torch.tensor([z0], requires_grad=True)
        L.naive_bce_after_sigmoid(z, torch.tensor([y0])).backward()
        assert abs(z.grad.item()) < 1e-20
        z2 = torch.tensor([z0], requires_grad=True)
        L.bce_with_logits(z2, torch.tensor([y0])).backward()
        assert z2.grad.item() == pytest.approx(logits_grad)
    assert L.naive_bce_after_sigmoid(torch.tensor([20.0]), torch.tensor([0.0])).item() == 100.0


def test_bce_on_probabilities_matches_bceloss():
    p = torch.rand(30, dtype=F64, generator=G).requires_grad_(True)
    t = torch.rand(30, dtype=F64, generator=G)
    ours, ref = L.bce_on_probabilities(p, t), F.binary_cross_entropy(p, t)
    assert abs(ours.item() - ref.item()) < 1e-12
    g1, = torch.autograd.grad(ours, p)
    g2, = torch.autograd.grad(ref, p)
    assert torch.allclose(g1, g2, atol=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_matches_builtin_index_and_probability_targets(smoothing):
    z = torch.randn(50, 7, dtype=F64, generator=G) * 30
    idx = torch.randint(0, 7, (50,), generator=G)
    q = softmax(torch.randn(50, 7, dtype=F64, generator=G))
    assert abs(L.cross_entropy(z, idx, smoothing).item()
               - F.cross_entropy(z, idx, label_smoothing=smoothing).item()) < 1e-12
    assert abs(L.cross_entropy(z, q, smoothing).item()
               - F.cross_entropy(z, q, label_smoothing=smoothing).item()) < 1e-12


def test_cross_entropy_identities():
    z = torch.randn(20, 5, dtype=F64, generator=G)
    y = torch.randint(0, 5, (20,), generator=G)
    assert abs(L.cross_entropy(z, y).item() - L.nll_loss(torch.log_softmax(z, 1), y).item()) < 1e-12
    eps, onehot = 0.2, F.one_hot(y, 5).to(F64)
    assert abs(L.cross_entropy(z, y, eps).item() - L.cross_entropy(z, (1 - eps) * onehot + eps / 5).item()) < 1e-12


def test_cross_entropy_stable_at_gap_1000_with_gradient():
    z = torch.tensor([[0.0, 1000.0], [1000.0, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0])
    loss = L.cross_entropy(z, y)
    loss.backward()
    assert loss.item() == pytest.approx(500.0)
    assert torch.allclose(z.grad, torch.tensor([[-0.5, 0.5], [0.0, 0.0]]))


def test_double_softmax_numbers():
    z = torch.zeros(1, 10, requires_grad=True)
    L.cross_entropy(z, torch.tensor([0])).backward()
    direct = z.grad.norm().item()
    z2 = torch.zeros(1, 10, requires_grad=True)
    L.cross_entropy(softmax(z2), torch.tensor([0])).backward()
    assert direct == pytest.approx(0.949, abs=1e-3)
    assert z2.grad.norm().item() == pytest.approx(0.0949, abs=1e-4)
    confident = torch.full((1, 10), -1e4)
    confident[0, 0] = 1e4
    assert L.cross_entropy(softmax(confident), torch.tensor([0])).item() == pytest.approx(math.log(1 + 9 / math.e), abs=1e-5)


def test_nll_on_probabilities_can_be_negative():
    p = torch.tensor([[0.9, 0.1]])
    assert L.nll_loss(p, torch.tensor([0])).item() < 0


def test_shape_and_type_errors():
    with pytest.raises(ValueError, match="same shape"):
        L.mse(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match="same shape"):
        L.bce_with_logits(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        L.cross_entropy(torch.zeros(4, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="0..2"):
        L.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="int64 class indices or float class probabilities"):
        L.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1], dtype=torch.int32))
    with pytest.raises(TypeError, match="floating-point"):
        L.bce_with_logits(torch.zeros(2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="label_smoothing"):
        L.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), label_smoothing=1.5)


def test_losses_on_device(device):
    z = torch.randn(8, 4, device=device)
    assert L.cross_entropy(z, torch.zeros(8, dtype=torch.int64, device=device)).device == z.device


# ---------------------------------------------------------------- gaussian_nll (moved from heteroscedastic)

def _gaussian_inputs(n=50, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(n, 3, generator=g, dtype=dtype)
    var = torch.rand(n, 3, generator=g, dtype=dtype) * 2
    target = torch.randn(n, 3, generator=g, dtype=dtype)
    return mean, var, target


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_nll_matches_torch_float64(full, reduction):
    mean, var, target = _gaussian_inputs()
    var[0, 0], var[1, 1] = 0.0, 1e-9  # below eps: clamped
    ours = L.gaussian_nll(mean, var, target, full=full, reduction=reduction)
    ref = F.gaussian_nll_loss(mean, target, var, full=full, reduction=reduction)
    assert torch.allclose(ours, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("eps", [1e-6, 1e-2, 0.5])
def test_gaussian_nll_gradients_match_torch_including_clamped_entries(eps):
    mean, var, target = _gaussian_inputs(seed=1)
    var[:5] = 1e-8
    a = [t.clone().requires_grad_(True) for t in (mean, var)]
    b = [t.clone().requires_grad_(True) for t in (mean, var)]
    L.gaussian_nll(a[0], a[1], target, eps=eps).backward()
    F.gaussian_nll_loss(b[0], target, b[1], eps=eps).backward()
    for x, y in zip(a, b):
        assert torch.allclose(x.grad, y.grad, atol=1e-12, rtol=1e-12)


def test_gaussian_nll_formula_and_gradient_zero_at_matching_variance():
    # -log N(2; 0, 1) without the constant = 0.5 * 4 = 2
    assert L.gaussian_nll(torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([2.0])).item() == 2.0
    full = L.gaussian_nll(torch.tensor([0.0], dtype=F64), torch.tensor([1.0], dtype=F64),
                        torch.tensor([2.0], dtype=F64), full=True).item()
    assert full == pytest.approx(2.0 + 0.5 * math.log(2 * math.pi), abs=1e-14)
    var = torch.tensor([4.0], dtype=F64, requires_grad=True)
    L.gaussian_nll(torch.tensor([0.0], dtype=F64), var, torch.tensor([2.0], dtype=F64)).backward()
    assert abs(var.grad.item()) < 1e-15  # optimum at var = residual^2


def test_gaussian_nll_bad_inputs():
    m, v, t = torch.zeros(3), torch.ones(3), torch.zeros(3)
    with pytest.raises(ValueError, match="negative"):
        L.gaussian_nll(m, -v, t)
    with pytest.raises(ValueError, match="same shape"):
        L.gaussian_nll(m, v[:2], t)
    with pytest.raises(TypeError, match="floating"):
        L.gaussian_nll(m.long(), v, t)
    with pytest.raises(ValueError, match="reduction"):
        L.gaussian_nll(m, v, t, reduction="avg")
    with pytest.raises(ValueError, match="eps"):
        L.gaussian_nll(m, v, t, eps=0.0)


# ---------------------------------------------------------------- pinball_loss

def test_pinball_loss_formula_float64():
    g = torch.Generator().manual_seed(5)
    pred = torch.randn(30, 3, dtype=F64, generator=g)
    target = torch.randn(30, dtype=F64, generator=g)
    levels = [0.1, 0.5, 0.9]
    e = target.unsqueeze(1) - pred
    q = torch.tensor(levels, dtype=F64)
    expected = torch.where(e >= 0, q * e, (q - 1) * e).mean()
    assert abs(L.pinball_loss(pred, target, levels).item() - expected.item()) < 1e-14
    assert L.pinball_loss(pred, target, torch.tensor(levels)).dtype == F64   # levels follow pred's dtype
    # q = 0.5 is half the absolute error
    half = L.pinball_loss(pred[:, :1], target, [0.5]).item()
    assert half == pytest.approx(0.5 * (target - pred[:, 0]).abs().mean().item(), abs=1e-14)


@pytest.mark.parametrize("q", [0.05, 0.1, 0.5, 0.9, 0.95])
def test_pinball_minimiser_is_torch_quantile(q):
    # n = 1001: q (n - 1) is an integer for these levels, so torch.quantile returns an order statistic, and the
    # minimiser of the empirical pinball loss (unique, since n q is not an integer) is that same order statistic.
    sample = torch.randn(1001, dtype=F64, generator=torch.Generator().manual_seed(1)).exp()
    losses = torch.stack([L.pinball_loss(c.expand(1001, 1), sample, [q]) for c in sample])
    assert sample[losses.argmin()].item() == torch.quantile(sample, q).item()
    # and any other candidate is strictly worse
    assert (losses > losses.min()).sum().item() == 1000


def test_pinball_gradient_is_q_or_q_minus_one():
    pred = torch.tensor([[0.0, 0.0], [2.0, 2.0]], dtype=F64, requires_grad=True)
    target = torch.tensor([1.0, 1.0], dtype=F64)
    L.pinball_loss(pred, target, [0.2, 0.7]).backward()
    # under-prediction (row 0): d/dpred = -q / (N K); over-prediction (row 1): (1 - q) / (N K)
    assert torch.allclose(pred.grad, torch.tensor([[-0.2, -0.7], [0.8, 0.3]], dtype=F64) / 4, atol=1e-15)
    x = torch.randn(6, 2, dtype=F64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: L.pinball_loss(p, torch.zeros(6, dtype=F64), [0.3, 0.6]), (x,))


# ---------------------------------------------------------------- mdn_nll

def _mixture_oracle(logits, mu, sigma, target):
    mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=logits),
                                                    torch.distributions.Normal(mu, sigma))
    return -mixture.log_prob(target)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_mdn_nll_matches_mixture_same_family_float64(k):
    g = torch.Generator().manual_seed(k)
    logits = torch.randn(40, k, dtype=F64, generator=g) * 3
    mu = torch.randn(40, k, dtype=F64, generator=g)
    sigma = torch.rand(40, k, dtype=F64, generator=g) * 2 + 0.05
    target = torch.randn(40, dtype=F64, generator=g) * 2
    ours = L.mdn_nll(logits, mu, sigma, target, reduction="none")
    assert torch.allclose(ours, _mixture_oracle(logits, mu, sigma, target), atol=1e-12, rtol=0)
    assert L.mdn_nll(logits, mu, sigma, target).item() == pytest.approx(ours.mean().item(), abs=1e-14)
    assert L.mdn_nll(logits, mu, sigma, target, reduction="sum").item() == pytest.approx(ours.sum().item(), abs=1e-11)


def test_mdn_nll_gradients_match_the_oracle_and_gradcheck():
    g = torch.Generator().manual_seed(7)
    args = [torch.randn(5, 3, dtype=F64, generator=g), torch.randn(5, 3, dtype=F64, generator=g),
            torch.rand(5, 3, dtype=F64, generator=g) + 0.3]
    target = torch.randn(5, dtype=F64, generator=g)
    a = [t.clone().requires_grad_(True) for t in args]
    b = [t.clone().requires_grad_(True) for t in args]
    L.mdn_nll(*a, target).backward()
    _mixture_oracle(*b, target).mean().backward()
    for x, y in zip(a, b):
        assert torch.allclose(x.grad, y.grad, atol=1e-12)
    leaves = [t.clone().requires_grad_(True) for t in args]
    assert torch.autograd.gradcheck(lambda lg, m, s: L.mdn_nll(lg, m, s, target), leaves)


def test_mdn_nll_one_component_is_the_gaussian_nll():
    g = torch.Generator().manual_seed(8)
    mu = torch.randn(30, 1, dtype=F64, generator=g)
    sigma = torch.rand(30, 1, dtype=F64, generator=g) + 0.1
    target = torch.randn(30, dtype=F64, generator=g)
    ours = L.mdn_nll(torch.randn(30, 1, dtype=F64, generator=g), mu, sigma, target)   # any logit: weight 1
    ref = L.gaussian_nll(mu[:, 0], sigma[:, 0] ** 2, target, full=True)
    assert ours.item() == pytest.approx(ref.item(), abs=1e-13)


def test_mdn_nll_finite_sixty_sigmas_away_in_float32():
    logits = torch.tensor([[0.3, -0.3]], requires_grad=True)
    mu = torch.tensor([[-60.0, 60.0]], requires_grad=True)
    sigma = torch.ones(1, 2, requires_grad=True)
    loss = L.mdn_nll(logits, mu, sigma, torch.zeros(1))
    loss.backward()
    assert loss.item() == pytest.approx(1800 + 0.5 * math.log(2 * math.pi), rel=1e-6)
    for t in (logits, mu, sigma):
        assert torch.isfinite(t.grad).all()
    # the density itself underflows: exp(-1800) == 0 in float32, so -log(density) is inf
    assert torch.exp(torch.tensor(-1800.0)).item() == 0.0
    # the gradient on the means is the Gaussian one weighted by the responsibilities softmax(logits)
    resp = torch.softmax(logits.detach(), dim=1)
    assert torch.allclose(mu.grad, resp * torch.tensor([[-60.0, 60.0]]), rtol=1e-4)


def test_mdn_nll_bad_inputs():
    z = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        L.mdn_nll(z, z, z, torch.zeros(3))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        L.mdn_nll(z, z, torch.full((3, 2), float("nan")), torch.zeros(3))
    with pytest.raises(ValueError, match="target must have shape"):
        L.mdn_nll(z, z, z + 1, torch.zeros(3, 1))
    with pytest.raises(TypeError, match="floating"):
        L.mdn_nll(z.long(), z, z + 1, torch.zeros(3))
