import pytest
import torch
import torch.nn.functional as F

from course_pkg import embeddings as E
from course_pkg.data import make_multiclass
from course_pkg.plotting import plot_embeddings
from course_pkg.transforms import l2_normalize

F64 = torch.float64


def rand(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------- distances

def test_distances_match_torch_float64():
    a, b = rand(20, 7, seed=1), rand(20, 7, seed=2)
    assert torch.allclose(E.euclidean_distance(a, b), F.pairwise_distance(a, b, eps=0), atol=1e-12)
    assert torch.allclose(E.euclidean_distance(a, b, squared=True), ((a - b) ** 2).sum(1), atol=1e-12)
    assert torch.allclose(E.pairwise_distances(a, b), torch.cdist(a, b), atol=1e-12)
    assert torch.allclose(E.pairwise_distances(a, b, squared=True), torch.cdist(a, b) ** 2, atol=1e-12)
    assert torch.allclose(E.cosine_similarity(a, b), F.cosine_similarity(a, b, dim=-1), atol=1e-12)
    assert torch.allclose(E.cosine_distance(a, b), 1 - F.cosine_similarity(a, b, dim=-1), atol=1e-12)


def test_pairwise_diagonal_exactly_zero_and_gradient_finite():
    a = rand(6, 3).requires_grad_(True)
    d = E.pairwise_distances(a)
    assert torch.equal(torch.diagonal(d), torch.zeros(6, dtype=F64))
    d.sum().backward()
    assert torch.isfinite(a.grad).all()


def test_zero_distance_gradient_is_zero_not_nan(device):
    a = torch.tensor([[1.0, 2.0]], device=device, requires_grad=True)
    b = torch.tensor([[1.0, 2.0]], device=device)
    E.euclidean_distance(a, b).sum().backward()
    assert torch.equal(a.grad, torch.zeros_like(a))


def test_unit_sphere_identity():
    a, b = l2_normalize(rand(500, 16, seed=3)), l2_normalize(rand(500, 16, seed=4))
    lhs = E.euclidean_distance(a, b, squared=True)
    assert torch.allclose(lhs, 2 - 2 * E.cosine_similarity(a, b), atol=1e-14)
    assert torch.allclose(lhs, 2 * E.cosine_distance(a, b), atol=1e-14)
    assert float(lhs.max()) <= 4.0 and float(lhs.min()) >= 0.0


def test_cosine_of_zero_vector_is_zero():
    a = torch.zeros(2, 3, requires_grad=True)
    b = torch.ones(2, 3)
    out = E.cosine_similarity(a, b)
    assert torch.equal(out.detach(), torch.zeros(2))
    out.sum().backward()
    assert torch.isfinite(a.grad).all()


# ---------------------------------------------------------------- losses

@pytest.mark.parametrize("margin", [0.2, 1.0, 3.0])
def test_triplet_loss_matches_torch(margin):
    a, p, n = rand(30, 5, seed=5), rand(30, 5, seed=6), rand(30, 5, seed=7)
    ours = E.triplet_loss(a, p, n, margin=margin)
    ref = F.triplet_margin_loss(a, p, n, margin=margin, eps=0)
    assert abs(ours.item() - ref.item()) < 1e-12


def test_triplet_loss_gradient_matches_torch():
    a, p, n = rand(12, 4, seed=8), rand(12, 4, seed=9), rand(12, 4, seed=10)
    a1, a2 = a.clone().requires_grad_(True), a.clone().requires_grad_(True)
    E.triplet_loss(a1, p, n, margin=1.0).backward()
    F.triplet_margin_loss(a2, p, n, margin=1.0, eps=0).backward()
    assert torch.allclose(a1.grad, a2.grad, atol=1e-12)


def test_triplet_loss_squared_and_scale_dependence():
    a, p, n = rand(10, 3, seed=11), rand(10, 3, seed=12), rand(10, 3, seed=13)
    expected = (((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 0.5).clamp(min=0).mean()
    assert abs(E.triplet_loss(a, p, n, margin=0.5, squared=True).item() - expected.item()) < 1e-12
    # Collapsing every embedding to one point costs exactly the margin.
    assert E.triplet_loss(0 * a, 0 * p, 0 * n, margin=0.7).item() == pytest.approx(0.7, abs=1e-15)
    # After normalization the loss no longer depends on the scale.
    base = E.triplet_loss(l2_normalize(a), l2_normalize(p), l2_normalize(n), margin=0.5)
    scaled = E.triplet_loss(l2_normalize(9 * a), l2_normalize(9 * p), l2_normalize(9 * n), margin=0.5)
    assert abs(base.item() - scaled.item()) < 1e-12


def test_triplet_loss_coinciding_positive_has_finite_gradient():
    a = rand(4, 2, seed=14).requires_grad_(True)
    E.triplet_loss(a, a.detach().clone(), a.detach() + 0.5, margin=1.0).backward()
    assert torch.isfinite(a.grad).all()


def test_contrastive_loss_oracle():
    z1, z2 = rand(16, 4, seed=15), rand(16, 4, seed=16)
    same = (torch.arange(16) % 2).to(F64)
    d = (z1 - z2).norm(dim=1)
    expected = (same * d ** 2 + (1 - same) * (1.5 - d).clamp(min=0) ** 2).mean()
    assert abs(E.contrastive_loss(z1, z2, same, margin=1.5).item() - expected.item()) < 1e-12
    assert abs(E.contrastive_loss(z1, z2, same.bool(), margin=1.5).item() - expected.item()) < 1e-12


def test_float32_matches_float64_reference():
    a, p, n = rand(20, 6, seed=17), rand(20, 6, seed=18), rand(20, 6, seed=19)
    f32 = E.triplet_loss(a.float(), p.float(), n.float(), margin=1.0)
    assert f32.dtype == torch.float32
    assert abs(f32.item() - E.triplet_loss(a, p, n, margin=1.0).item()) < 1e-5


def test_runs_on_device(device):
    a = torch.randn(5, 3, device=device)
    loss = E.triplet_loss(a, a + 0.1, -a, margin=1.0)
    assert loss.device.type == device.type


# ---------------------------------------------------------------- triplets and accuracy

def test_sample_triplets_valid_and_seeded():
    _, y = make_multiclass(60, num_classes=3, seed=0)
    t = E.sample_triplets(y, 500, seed=3)
    assert t.shape == (500, 3) and t.dtype == torch.int64
    assert bool((y[t[:, 0]] == y[t[:, 1]]).all())
    assert bool((t[:, 0] != t[:, 1]).all())
    assert bool((y[t[:, 0]] != y[t[:, 2]]).all())
    assert torch.equal(t, E.sample_triplets(y, 500, seed=3))
    assert not torch.equal(t, E.sample_triplets(y, 500, seed=4))


def test_triplet_accuracy_is_scale_free():
    _, y = make_multiclass(40, num_classes=4, seed=1)
    t = E.sample_triplets(y, 200, seed=0)
    z = rand(40, 2, seed=20)
    acc = E.triplet_accuracy(z, t)
    assert 0.0 <= acc.item() <= 1.0
    assert acc.item() == E.triplet_accuracy(7.5 * z, t).item()


# ---------------------------------------------------------------- bad inputs

def test_bad_inputs():
    a = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="same shape"):
        E.euclidean_distance(a, torch.zeros(3, 3))
    with pytest.raises(TypeError, match="floating"):
        E.euclidean_distance(a.long(), a.long())
    with pytest.raises(ValueError, match="margin"):
        E.triplet_loss(a, a, a, margin=-1.0)
    with pytest.raises(TypeError, match="margin"):
        E.triplet_loss(a, a, a, margin="1")
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        E.triplet_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="0 and 1"):
        E.contrastive_loss(a, a, torch.tensor([0.0, 0.5, 1.0]))
    with pytest.raises(TypeError, match="same"):
        E.contrastive_loss(a, a, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="two classes"):
        E.sample_triplets(torch.zeros(5, dtype=torch.int64), 3)
    with pytest.raises(ValueError, match="two samples"):
        E.sample_triplets(torch.tensor([0, 0, 1]), 3)
    with pytest.raises(ValueError, match="int64"):
        E.sample_triplets(torch.tensor([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="n_triplets"):
        E.sample_triplets(torch.tensor([0, 0, 1, 1]), 0)
    with pytest.raises(ValueError, match="triplets"):
        E.triplet_accuracy(a, torch.zeros(2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        E.pairwise_distances(torch.zeros(3, 2), torch.zeros(3, 4))


def test_plot_embeddings():
    z = l2_normalize(rand(30, 2, seed=21, dtype=torch.float32))
    fig = plot_embeddings(z, torch.arange(30) % 3, "circle")
    assert fig.axes[0].get_title() == "circle"
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_embeddings(torch.zeros(3, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="labels"):
        plot_embeddings(torch.zeros(3, 2), torch.zeros(4, dtype=torch.int64))
