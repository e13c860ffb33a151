import pytest
import torch

from course_pkg.estimators import soft_threshold, straight_through_threshold
from course_pkg.gradients import gradient_flow
from course_pkg.transforms import threshold


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ste_forward_is_exactly_the_hard_step(dtype):
    o = torch.tensor([-1000.0, -2.0, -0.0, 0.0, 1e-7, 3.0, 1000.0], dtype=dtype)
    out = straight_through_threshold(o)
    assert out.dtype == dtype
    assert torch.equal(out, threshold(o))


@pytest.mark.parametrize("at", [0.0, 1.5, -2.0])
def test_ste_gradient_is_sigmoid_slope_float64(at):
    o = torch.linspace(-8, 8, 41, dtype=torch.float64, requires_grad=True)
    straight_through_threshold(o, at=at).sum().backward()
    s = torch.sigmoid(o.detach() - at)
    torch.testing.assert_close(o.grad, s * (1 - s), rtol=1e-12, atol=1e-15)
    assert torch.equal(straight_through_threshold(o.detach(), at=at), (o.detach() > at).double())


def test_ste_is_finite_at_extremes_and_passes_gradient():
    o = torch.tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    straight_through_threshold(o).sum().backward()
    assert torch.isfinite(o.grad).all()
    assert gradient_flow(straight_through_threshold, torch.tensor([-1.0, 0.5])).passes
    assert gradient_flow(threshold, torch.tensor([-1.0, 0.5])).status == "leaves the graph"


def test_soft_threshold_matches_torch_float64():
    g = torch.Generator().manual_seed(0)
    o = (torch.randn(50, generator=g, dtype=torch.float64) * 10).requires_grad_(True)
    ours = soft_threshold(o, at=1.0, temperature=0.3)
    ref = torch.sigmoid((o - 1.0) / 0.3)
    torch.testing.assert_close(ours, ref, rtol=1e-14, atol=1e-15)
    (g1,) = torch.autograd.grad(ours.sum(), o)
    (g2,) = torch.autograd.grad(ref.sum(), o)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-15)


def test_soft_threshold_extremes_and_small_temperature():
    o = torch.tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    out = soft_threshold(o, temperature=1e-3)
    assert out.tolist() == [0.0, 0.5, 1.0]
    out.sum().backward()
    assert torch.isfinite(o.grad).all()


@pytest.mark.parametrize("fn", [straight_through_threshold, soft_threshold])
def test_bad_inputs(fn):
    with pytest.raises(TypeError, match="o must be"):
        fn([0.0, 1.0])
    with pytest.raises(TypeError, match="floating-point"):
        fn(torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="at must be finite"):
        fn(torch.zeros(2), at=float("nan"))


def test_soft_threshold_rejects_bad_temperature():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        soft_threshold(torch.zeros(2), temperature=0.0)
    with pytest.raises(TypeError, match="temperature must be a real number"):
        soft_threshold(torch.zeros(2), temperature="1")
