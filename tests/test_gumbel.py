import pytest
import torch

from course_pkg.gumbel import gumbel_softmax, sample_gumbel, straight_through

F64 = torch.float64


def test_gumbel_noise_moments_and_determinism():
    g = sample_gumbel((200000,), torch.Generator().manual_seed(0), dtype=F64)
    assert abs(g.mean().item() - 0.5772156649) < 0.01  # Euler-Mascheroni constant
    assert abs(g.var().item() - torch.pi ** 2 / 6) < 0.03
    a = sample_gumbel((5,), torch.Generator().manual_seed(1))
    b = sample_gumbel((5,), torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and torch.isfinite(a).all()


def test_hard_sample_frequencies_match_softmax():
    z = torch.tensor([1.0, 0.0, -1.0, 2.0], dtype=F64)
    y = gumbel_softmax(z.expand(50000, 4), tau=0.5, hard=True, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(y.mean(0), torch.softmax(z, 0), atol=0.01)


def test_hard_sample_is_the_argmax_of_perturbed_logits_at_any_temperature():
    """The hard sample is onehot(argmax(z + g)) for every tau: at tau = 1e9 the float32 soft entries are all equal
    (an argmax of the soft sample, as in F.gumbel_softmax, would always return index 0)."""
    z = torch.tensor([1.0, 0.0, -1.0, 2.0]).expand(5000, 4)
    g = sample_gumbel(z.shape, torch.Generator().manual_seed(0))
    expected = torch.nn.functional.one_hot((z + g).argmax(-1), 4).float()
    for tau in (0.1, 1.0, 1e4, 1e9):
        y = gumbel_softmax(z, tau=tau, hard=True, generator=torch.Generator().manual_seed(0))
        assert torch.equal(y, expected), tau
    soft = gumbel_softmax(z, tau=1e9, generator=torch.Generator().manual_seed(0))
    assert bool((soft == 0.25).all())  # the ties the argmax must not be taken from


def test_soft_samples_on_simplex_and_temperature():
    z = torch.tensor([[1.0, 0.0, -1.0]])
    cold = gumbel_softmax(z.expand(1000, 3), tau=0.05, generator=torch.Generator().manual_seed(0))
    hot = gumbel_softmax(z.expand(1000, 3), tau=50.0, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(cold.sum(1), torch.ones(1000))
    assert cold.max(1).values.mean() > 0.95 and hot.max(1).values.mean() < 0.4
    big = gumbel_softmax(torch.tensor([[1000.0, -1000.0]]), tau=0.1, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(big).all()


def test_hard_is_one_hot_with_soft_gradient():
    z = torch.randn(6, 5, generator=torch.Generator().manual_seed(2), requires_grad=True)
    z2 = z.detach().clone().requires_grad_(True)
    hard = gumbel_softmax(z, tau=0.7, hard=True, generator=torch.Generator().manual_seed(3))
    soft = gumbel_softmax(z2, tau=0.7, hard=False, generator=torch.Generator().manual_seed(3))
    assert torch.equal(hard.detach().sum(1), torch.ones(6)) and set(hard.detach().unique().tolist()) == {0.0, 1.0}
    assert torch.equal(hard.detach().argmax(1), soft.detach().argmax(1))
    w = torch.randn(6, 5, generator=torch.Generator().manual_seed(4))
    (hard * w).sum().backward()
    (soft * w).sum().backward()
    assert torch.allclose(z.grad, z2.grad, atol=1e-7) and z.grad.abs().sum() > 0


def test_straight_through_ties_and_gradient():
    s = torch.tensor([[0.4, 0.4, 0.2]], dtype=F64, requires_grad=True)
    y = straight_through(s)
    assert y.tolist() == [[1.0, 0.0, 0.0]]  # first maximal index
    assert y.dtype == F64
    y.backward(torch.tensor([[1.0, 2.0, 3.0]], dtype=F64))
    assert s.grad.tolist() == [[1.0, 2.0, 3.0]]


def test_bad_inputs():
    with pytest.raises(ValueError, match="tau"):
        gumbel_softmax(torch.zeros(2, 3), tau=0.0)
    with pytest.raises(TypeError, match="hard"):
        gumbel_softmax(torch.zeros(2, 3), hard=1)
    with pytest.raises(TypeError, match="generator"):
        sample_gumbel((2,), generator=0)
    with pytest.raises(ValueError, match="NaN"):
        gumbel_softmax(torch.tensor([float("nan"), 0.0]))
    with pytest.raises(TypeError, match="floating"):
        straight_through(torch.tensor([1, 2]))
