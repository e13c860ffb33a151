import pytest
import torch
import torch.nn.functional as F

from course_pkg import embeddings as E
from course_pkg import losses as L
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
    with pytest.raises(ValueError, match="int64"):
        E.pair_distances(a, torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="both"):
        E.best_threshold(torch.zeros(3), torch.ones(3, dtype=torch.bool))
    with pytest.raises(TypeError, match="threshold"):
        E.verification_accuracy(torch.zeros(2), torch.tensor([True, False]), "1")


def test_losses_are_reexported_from_losses():
    # The losses live in course_pkg.losses; embeddings re-exports the same objects for older imports.
    assert E.triplet_loss is L.triplet_loss and E.contrastive_loss is L.contrastive_loss
    assert "triplet_loss" not in E.__all__ and "triplet_loss" in L.__all__


# ---------------------------------------------------------------- pair verification

def test_pair_distances_match_brute_force():
    z = rand(7, 3, seed=30)
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 2])
    d, same = E.pair_distances(z, labels)
    expected_d, expected_same = [], []
    for i in range(7):
        for j in range(i + 1, 7):
            expected_d.append(float((z[i] - z[j]).norm()))
            expected_same.append(bool(labels[i] == labels[j]))
    assert d.shape == (21,) and same.dtype == torch.bool
    assert torch.allclose(d, torch.tensor(expected_d, dtype=F64), atol=1e-12)
    assert same.tolist() == expected_same


def brute_force_threshold(d, same):
    values = sorted(set(d.tolist()))
    cuts = [values[0]] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1]
    return max(((t, E.verification_accuracy(d, same, t)) for t in cuts), key=lambda ta: ta[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_threshold_matches_brute_force_scan(seed):
    g = torch.Generator().manual_seed(seed)
    same = torch.rand(60, generator=g) < 0.3
    d = torch.where(same, torch.rand(60, generator=g), torch.rand(60, generator=g) + 0.6).to(F64)
    d[:5] = d[5]                                    # ties: no cut between equal distances
    t, acc = E.best_threshold(d, same)
    t_ref, acc_ref = brute_force_threshold(d, same)
    assert acc == pytest.approx(acc_ref, abs=1e-12)
    assert E.verification_accuracy(d, same, t) == pytest.approx(acc, abs=1e-12)


def test_best_threshold_separable_and_accuracy_scale():
    d = torch.tensor([0.1, 0.2, 0.3, 1.0, 1.4], dtype=F64)
    same = torch.tensor([True, True, True, False, False])
    assert E.best_threshold(d, same) == (pytest.approx(0.65), 1.0)
    # Chance level: a threshold below every distance calls every pair "different".
    assert E.verification_accuracy(d, same, 0.0) == 0.5
    # Scaling every distance and the threshold together changes nothing; scaling only the distances does.
    assert E.verification_accuracy(10 * d, same, 6.5) == 1.0
    assert E.verification_accuracy(10 * d, same, 0.65) < 1.0


def test_plot_distance_histograms():
    from course_pkg.plotting import plot_distance_histograms
    d, same = E.pair_distances(rand(12, 2, seed=31), torch.arange(12) % 3)
    fig = plot_distance_histograms({"a": (d, same), "b": (2 * d, same)}, thresholds={"a": 1.0})
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert "same identity" in fig.describe()
    with pytest.raises(TypeError, match="panels"):
        plot_distance_histograms({})
    with pytest.raises(ValueError, match="bool"):
        plot_distance_histograms({"a": (d, same.long())})


def test_plot_embeddings():
    z = l2_normalize(rand(30, 2, seed=21, dtype=torch.float32))
    fig = plot_embeddings(z, torch.arange(30) % 3, "circle")
    assert fig.axes[0].get_title() == "circle"
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_embeddings(torch.zeros(3, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="labels"):
        plot_embeddings(torch.zeros(3, 2), torch.zeros(4, dtype=torch.int64))
