import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg import losses as L
from course_pkg.transforms import l2_normalize, softmax

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


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_naive_bce_negative_side_fades_like_bceloss(dtype):
    # y = 1: once p(1 - p) < 1e-12 (z < log 1e-12 = -27.63, in any dtype) BCELoss's backward floors the
    # denominator and dL/dz = -(1 - p) p / 1e-12 ~ -e^(z + 27.63); ours must fade the same way as torch's.
    for z0, expected in [(-20.0, -1.0), (-28.0, -0.6914), (-30.0, -0.09358), (-40.0, -4.248e-6)]:
        z = torch.tensor([z0], dtype=dtype, requires_grad=True)
        y = torch.ones(1, dtype=dtype)
        (ours,) = torch.autograd.grad(L.naive_bce_after_sigmoid(z, y), z)
        (theirs,) = torch.autograd.grad(F.binary_cross_entropy(torch.sigmoid(z), y), z)
        assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
        assert ours.item() == pytest.approx(expected, rel=1e-3)


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


# ---------------------------------------------------------------- the double-softmax pairing

def test_double_softmax_matches_torch_composition_in_float64():
    z = (torch.randn(12, 6, dtype=F64, generator=G) * 5).requires_grad_(True)
    y = torch.randint(0, 6, (12,), generator=G)
    ours = L.naive_cross_entropy_after_softmax(z, y)
    ref = F.cross_entropy(F.softmax(z, dim=1), y)
    assert abs(ours.item() - ref.item()) < 1e-12
    g1, = torch.autograd.grad(ours, z)
    g2, = torch.autograd.grad(ref, z)
    assert torch.allclose(g1, g2, rtol=0, atol=1e-12)
    q = softmax(torch.randn(12, 6, dtype=F64, generator=G))
    assert abs(L.naive_cross_entropy_after_softmax(z, q).item() - F.cross_entropy(F.softmax(z, 1), q).item()) < 1e-12


def test_double_softmax_gradcheck():
    z = torch.randn(4, 5, dtype=F64, generator=G, requires_grad=True)
    y = torch.tensor([0, 4, 2, 2])
    assert torch.autograd.gradcheck(lambda t: L.naive_cross_entropy_after_softmax(t, y), (z,))


@pytest.mark.parametrize("C", [2, 3, 10])
def test_double_softmax_equal_logits_gradient_is_C_times_smaller(C):
    z1 = torch.zeros(1, C, dtype=F64, requires_grad=True)
    z2 = torch.zeros(1, C, dtype=F64, requires_grad=True)
    y = torch.tensor([C - 1])
    bug, fix = L.naive_cross_entropy_after_softmax(z1, y), L.cross_entropy(z2, y)
    assert abs(bug.item() - math.log(C)) < 1e-12 and abs(fix.item() - math.log(C)) < 1e-12
    g_bug, = torch.autograd.grad(bug, z1)
    g_fix, = torch.autograd.grad(fix, z2)
    assert torch.allclose(g_bug * C, g_fix, rtol=0, atol=1e-12)


def test_double_softmax_confidently_wrong_gradient_collapses():
    # C = 10, the wrong class 0 has logit 10, the target is class 3: the extra softmax saturates.
    z = torch.zeros(1, 10)
    z[0, 0] = 10.0
    y = torch.tensor([3])
    z_bug, z_fix = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
    g_bug, = torch.autograd.grad(L.naive_cross_entropy_after_softmax(z_bug, y), z_bug)
    g_fix, = torch.autograd.grad(L.cross_entropy(z_fix, y), z_fix)
    assert g_fix.norm().item() == pytest.approx(math.sqrt(2), rel=1e-3)
    assert g_bug.norm().item() < 2e-4


@pytest.mark.parametrize("C", [2, 3, 10])
def test_double_softmax_floor_for_a_perfect_model(C):
    z = torch.full((C, C), -1000.0) + 2000.0 * torch.eye(C)     # every sample confidently right
    floor = L.naive_cross_entropy_after_softmax(z, torch.arange(C)).item()
    assert floor == pytest.approx(math.log(1 + (C - 1) / math.e), rel=1e-6)
    assert L.cross_entropy(z, torch.arange(C)).item() == 0.0


def test_double_softmax_bad_input_names_logits():
    with pytest.raises(TypeError, match="logits must be a floating-point tensor"):
        L.naive_cross_entropy_after_softmax(torch.tensor([[1, 2]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="0..1"):
        L.naive_cross_entropy_after_softmax(torch.zeros(1, 2), torch.tensor([2]))

def rand(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------- distance-based losses (chapter 8)

@pytest.mark.parametrize("margin", [0.2, 1.0, 3.0])
def test_triplet_loss_matches_torch(margin):
    a, p, n = rand(30, 5, seed=5), rand(30, 5, seed=6), rand(30, 5, seed=7)
    ours = L.triplet_loss(a, p, n, margin=margin)
    ref = F.triplet_margin_loss(a, p, n, margin=margin, eps=0)
    assert abs(ours.item() - ref.item()) < 1e-12


def test_triplet_loss_gradient_matches_torch():
    a, p, n = rand(12, 4, seed=8), rand(12, 4, seed=9), rand(12, 4, seed=10)
    a1, a2 = a.clone().requires_grad_(True), a.clone().requires_grad_(True)
    L.triplet_loss(a1, p, n, margin=1.0).backward()
    F.triplet_margin_loss(a2, p, n, margin=1.0, eps=0).backward()
    assert torch.allclose(a1.grad, a2.grad, atol=1e-12)


def test_triplet_loss_squared_and_scale_dependence():
    a, p, n = rand(10, 3, seed=11), rand(10, 3, seed=12), rand(10, 3, seed=13)
    expected = (((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 0.5).clamp(min=0).mean()
    assert abs(L.triplet_loss(a, p, n, margin=0.5, squared=True).item() - expected.item()) < 1e-12
    # Collapsing every embedding to one point costs exactly the margin.
    assert L.triplet_loss(0 * a, 0 * p, 0 * n, margin=0.7).item() == pytest.approx(0.7, abs=1e-15)
    # After normalization the loss no longer depends on the scale.
    base = L.triplet_loss(l2_normalize(a), l2_normalize(p), l2_normalize(n), margin=0.5)
    scaled = L.triplet_loss(l2_normalize(9 * a), l2_normalize(9 * p), l2_normalize(9 * n), margin=0.5)
    assert abs(base.item() - scaled.item()) < 1e-12


def test_triplet_loss_coinciding_positive_has_finite_gradient():
    a = rand(4, 2, seed=14).requires_grad_(True)
    L.triplet_loss(a, a.detach().clone(), a.detach() + 0.5, margin=1.0).backward()
    assert torch.isfinite(a.grad).all()


def test_contrastive_loss_oracle():
    z1, z2 = rand(16, 4, seed=15), rand(16, 4, seed=16)
    same = (torch.arange(16) % 2).to(F64)
    d = (z1 - z2).norm(dim=1)
    expected = (same * d ** 2 + (1 - same) * (1.5 - d).clamp(min=0) ** 2).mean()
    assert abs(L.contrastive_loss(z1, z2, same, margin=1.5).item() - expected.item()) < 1e-12
    assert abs(L.contrastive_loss(z1, z2, same.bool(), margin=1.5).item() - expected.item()) < 1e-12


def test_float32_matches_float64_reference():
    a, p, n = rand(20, 6, seed=17), rand(20, 6, seed=18), rand(20, 6, seed=19)
    f32 = L.triplet_loss(a.float(), p.float(), n.float(), margin=1.0)
    assert f32.dtype == torch.float32
    assert abs(f32.item() - L.triplet_loss(a, p, n, margin=1.0).item()) < 1e-5


def test_runs_on_device(device):
    a = torch.randn(5, 3, device=device)
    loss = L.triplet_loss(a, a + 0.1, -a, margin=1.0)
    assert loss.device.type == device.type


def test_contrastive_loss_gradient_finite_at_zero_distance_and_pulls_same_pairs():
    z1 = rand(3, 2, seed=40).requires_grad_(True)
    z2 = z1.detach().clone()
    L.contrastive_loss(z1, z2, torch.tensor([1.0, 0.0, 1.0], dtype=F64), margin=1.0).backward()
    assert torch.isfinite(z1.grad).all()
    # At distance exactly 0 the direction to push a different pair is undefined: vector_norm's backward
    # uses the subgradient 0 there, so even the different-identity pair (row 1) gets gradient 0, not NaN.
    assert torch.equal(z1.grad, torch.zeros_like(z1.grad))


def test_contrastive_loss_scale_dependence():
    # Without normalization the loss depends on the scale: shrinking every embedding to 0 costs m^2 on the
    # different pairs and 0 on the same pairs.
    z1, z2 = rand(10, 3, seed=41), rand(10, 3, seed=42)
    same = (torch.arange(10) % 2).to(F64)
    collapsed = L.contrastive_loss(0 * z1, 0 * z2, same, margin=1.5).item()
    assert collapsed == pytest.approx(1.5 ** 2 * (1 - same).mean().item(), abs=1e-15)


def test_distance_losses_float16_and_device(device):
    a = torch.randn(6, 4, device=device)
    for dtype in (torch.float16, torch.float64):
        x = a.to(dtype)
        assert L.triplet_loss(x, x + 0.1, -x, margin=1.0).dtype == dtype
        assert L.contrastive_loss(x, -x, torch.ones(6, device=device, dtype=dtype)).dtype == dtype


# ---------------------------------------------------------------- cosine softmax (NormFace)

def test_cosine_cross_entropy_matches_builtin_float64():
    z, w = rand(20, 5, seed=50), rand(4, 5, seed=51)
    target = torch.arange(20) % 4
    for s in (1.0, 16.0):
        ref = F.cross_entropy(s * F.normalize(z, dim=1) @ F.normalize(w, dim=1).T, target)
        assert abs(L.cosine_cross_entropy(z, w, target, scale=s).item() - ref.item()) < 1e-12


def test_cosine_cross_entropy_gradcheck():
    z = rand(5, 3, seed=52).requires_grad_(True)
    w = rand(4, 3, seed=53).requires_grad_(True)
    target = torch.tensor([0, 1, 2, 3, 0])
    assert torch.autograd.gradcheck(lambda z, w: L.cosine_cross_entropy(z, w, target, scale=4.0), (z, w))


def test_cosine_cross_entropy_bounded_below_and_scale_invariant():
    # Logits lie in [-s, s]: even a perfect arrangement cannot go below log(1 + (C - 1) e^{-2s}).
    w = torch.eye(4, dtype=F64)
    for s in (1.0, 4.0):
        # every feature on its own class weight: cos 1 to it, 0 to the others
        loss = L.cosine_cross_entropy(w, w, torch.arange(4), scale=s).item()
        assert loss == pytest.approx(math.log(1 + 3 * math.exp(-s)), abs=1e-12)
        assert loss >= math.log(1 + 3 * math.exp(-2 * s))
    # Neither the length of z nor of the weights matters.
    z, target = rand(6, 4, seed=54), torch.arange(6) % 4
    base = L.cosine_cross_entropy(z, w, target, scale=2.0).item()
    assert L.cosine_cross_entropy(7 * z, 0.1 * w, target, scale=2.0).item() == pytest.approx(base, abs=1e-12)


def test_distance_and_cosine_loss_bad_inputs():
    a = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="margin"):
        L.triplet_loss(a, a, a, margin=-1.0)
    with pytest.raises(TypeError, match="margin"):
        L.triplet_loss(a, a, a, margin="1")
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        L.triplet_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="same shape"):
        L.triplet_loss(a, a, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="0 and 1"):
        L.contrastive_loss(a, a, torch.tensor([0.0, 0.5, 1.0]))
    with pytest.raises(TypeError, match="same"):
        L.contrastive_loss(a, a, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"\(C, D\)"):
        L.cosine_cross_entropy(a, torch.zeros(4, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="scale must be > 0"):
        L.cosine_cross_entropy(a, torch.zeros(4, 2), torch.zeros(3, dtype=torch.int64), scale=0.0)
