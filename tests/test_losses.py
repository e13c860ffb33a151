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

