import pytest
import torch

from course_pkg import data
from course_pkg.losses import bce_with_logits, cross_entropy, mse
from course_pkg.models import MLP
from course_pkg.runtime import generator, get_device, seed_everything
from course_pkg.training import NonFiniteLossError, train

MAKERS = [data.make_regression, data.make_bounded_regression, data.make_positive_regression,
          data.make_lognormal_regression, data.make_binary, data.make_multiclass]


@pytest.mark.parametrize("maker", MAKERS)
def test_data_is_deterministic_and_seed_dependent(maker):
    x1, y1 = maker(n=50, seed=3)
    x2, y2 = maker(n=50, seed=3)
    x3, _ = maker(n=50, seed=4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    assert x1.shape[0] == y1.shape[0] == 50


@pytest.mark.parametrize("maker", MAKERS)
def test_data_rejects_bad_n(maker):
    with pytest.raises(ValueError, match="n must be a positive int"):
        maker(n=0)


def test_data_ranges():
    _, y = data.make_positive_regression(200)
    assert (y > 0).all()
    _, y = data.make_bounded_regression(300, low=10, high=100)
    assert y.min() >= 10 and y.max() <= 100
    _, y = data.make_binary(20)
    assert set(y.unique().tolist()) == {0.0, 1.0} and y.shape == (20, 1)
    _, y = data.make_multiclass(30, num_classes=5)
    assert y.dtype == torch.int64 and set(y.tolist()) == set(range(5))


def test_lognormal_regression_shares_its_rule_across_seeds_and_is_lognormal():
    # noise = 0: log y = 0.5 + x.w exactly, with the same w for every seed and a different w for another task_seed
    x0, y0 = data.make_lognormal_regression(64, noise=0.0, seed=0)
    x1, y1 = data.make_lognormal_regression(64, noise=0.0, seed=1)
    w = torch.linalg.lstsq(x0.double(), y0.double().log() - 0.5).solution
    assert torch.allclose(x1.double() @ w, y1.double().log() - 0.5, atol=1e-5)
    x2, y2 = data.make_lognormal_regression(64, noise=0.0, seed=1, task_seed=1)
    assert torch.equal(x1, x2) and not torch.allclose(y1, y2)
    # w has its own stream: it is not the first draw of generator(task_seed), which sample seed 0 also starts from
    first = torch.randn(8, 1, generator=generator(0))
    assert abs(w.norm().item() - 1) < 1e-5 and not torch.allclose(w.float(), first / first.norm(), atol=1e-3)
    # with noise: log-residuals are N(0, noise^2), so y is log-normal around the noiseless median
    x, y = data.make_lognormal_regression(20000, noise=0.3, seed=2)
    residual = y.double().log() - 0.5 - x.double() @ w
    assert (y > 0).all() and abs(residual.mean().item()) < 0.01 and abs(residual.std().item() - 0.3) < 0.01


@pytest.mark.parametrize("noise", [-0.1, float("nan"), float("inf"), "0.3", True])
def test_lognormal_regression_rejects_bad_noise(noise):
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        data.make_lognormal_regression(8, noise=noise)


def test_lognormal_regression_rejects_bad_seeds():
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        data.make_lognormal_regression(8, task_seed=-1)
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        data.make_lognormal_regression(8, seed=1.5)


def test_mlp_is_seeded_raw_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = MLP(3, 2, seed=7), MLP(3, 2, seed=7)
    assert torch.rand(1).item() == before.item()
    x = torch.randn(4, 3)
    assert torch.equal(a(x), b(x))
    assert isinstance(a.net[-1], torch.nn.Linear) and a.head is a.net[-1]


def test_mlp_errors():
    with pytest.raises(ValueError, match="activation"):
        MLP(2, 1, activation="sigmoid")
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        MLP(2, 1)(torch.zeros(3, 4))
    with pytest.raises(TypeError, match="torch.Tensor"):
        MLP(2, 1)([[0.0, 0.0]])


def test_training_reduces_loss_and_is_deterministic():
    x, y = data.make_regression(100)
    runs = []
    for _ in range(2):
        m = MLP(1, 1, seed=0)
        runs.append((train(m, mse, x, y, steps=100, lr=0.01), m))
    assert runs[0][0].losses == runs[1][0].losses
    assert runs[0][0].final < runs[0][0].losses[0] / 2


def test_minibatch_training_is_seeded():
    x, y = data.make_multiclass(120)
    h1 = train(MLP(2, 3, seed=0), cross_entropy, x, y, steps=20, batch_size=16, seed=5)
    h2 = train(MLP(2, 3, seed=0), cross_entropy, x, y, steps=20, batch_size=16, seed=5)
    h3 = train(MLP(2, 3, seed=0), cross_entropy, x, y, steps=20, batch_size=16, seed=6)
    assert h1.losses == h2.losses != h3.losses


def test_training_stops_with_step_on_non_finite_loss():
    x, y = data.make_binary(20)

    def exploding(o, t):
        return bce_with_logits(o, t) * torch.tensor(float("inf")) if exploding.calls > 2 else bce_with_logits(o, t)
    exploding.calls = 0

    def counting(o, t):
        exploding.calls += 1
        return exploding(o, t)

    with pytest.raises(NonFiniteLossError, match="at step 3 of 10"):
        train(MLP(2, 1), counting, x, y, steps=10)


def test_training_argument_errors():
    x, y = data.make_regression(10)
    m = MLP(1, 1)
    with pytest.raises(ValueError, match="same number of samples"):
        train(m, mse, x, y[:5])
    with pytest.raises(ValueError, match="optimizer"):
        train(m, mse, x, y, optimizer="rmsprop")
    with pytest.raises(ValueError, match="lr must be > 0"):
        train(m, mse, x, y, lr=0)
    with pytest.raises(ValueError, match="batch_size"):
        train(m, mse, x, y, batch_size=11)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train(lambda t: t, mse, x, y)


def test_training_on_device(device):
    x, y = data.make_regression(32, device=device)
    m = MLP(1, 1).to(device)
    assert len(train(m, mse, x, y, steps=3)) == 3


def test_runtime_helpers():
    assert get_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="prefer"):
        get_device("tpu")
    assert seed_everything(3) == 3
    assert torch.equal(torch.randn(3, generator=generator(1)), torch.randn(3, generator=generator(1)))
    with pytest.raises(TypeError, match="seed"):
        seed_everything(-1)


@pytest.mark.parametrize("ours, theirs", [
    (lambda ps: __import__("course_pkg.training", fromlist=["SGD"]).SGD(ps, lr=0.05), lambda ps: torch.optim.SGD(ps, lr=0.05)),
    (lambda ps: __import__("course_pkg.training", fromlist=["Adam"]).Adam(ps, lr=0.05), lambda ps: torch.optim.Adam(ps, lr=0.05)),
])
def test_optimizers_match_torch_optim(ours, theirs):
    x, y = data.make_regression(64)
    trajectories = []
    for make in (ours, theirs):
        model = MLP(1, 1, seed=0).double()
        opt = make(list(model.parameters()))
        for _ in range(25):
            opt.zero_grad()
            mse(model(x.double()), y.double()).backward()
            opt.step()
        trajectories.append(torch.cat([p.detach().ravel() for p in model.parameters()]))
    assert torch.allclose(trajectories[0], trajectories[1], atol=1e-12)


def test_subsample_class_keeps_a_seeded_fraction_of_one_class():
    x, y = data.make_binary(800, seed=2)
    xs, ys = data.subsample_class(x, y, label=1.0, fraction=0.125, seed=0)
    assert int((ys == 1).sum()) == 50 and int((ys == 0).sum()) == 400
    # every kept row is a row of the original, in the original order, with its own label
    idx = torch.cdist(xs, x).argmin(dim=1)
    assert bool((idx[1:] > idx[:-1]).all()) and torch.equal(y[idx], ys)
    # all negatives survive
    assert torch.equal(xs[ys[:, 0] == 0], x[y[:, 0] == 0])
    # deterministic per seed, different across seeds, and not a stride of the interleaved labels
    again = data.subsample_class(x, y, label=1.0, fraction=0.125, seed=0)
    other = data.subsample_class(x, y, label=1.0, fraction=0.125, seed=1)
    assert torch.equal(again[0], xs) and not torch.equal(other[0], xs)
    kept_pos = idx[ys[:, 0] == 1]
    assert len(set((kept_pos % 16).tolist())) > 1
    # fraction 1 keeps everything; a tiny fraction keeps at least one; (N,) labels work too
    assert torch.equal(data.subsample_class(x, y, 1.0, 1.0)[0], x)
    assert int(data.subsample_class(x, y, 1.0, 1e-6)[1].sum()) == 1
    assert data.subsample_class(x, y[:, 0], 0.0, 0.5)[1].shape == (600,)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"fraction": 0.0}, ValueError, r"fraction must lie in \(0, 1\]"),
    ({"fraction": 1.5}, ValueError, r"fraction must lie in \(0, 1\]"),
    ({"label": 2.0}, ValueError, "label=2 does not occur in y"),
    ({"label": "1"}, TypeError, "label must be a real number"),
])
def test_subsample_class_bad_input(kwargs, exc, match):
    x, y = data.make_binary(8)
    args = {"label": 1.0, "fraction": 0.5, **kwargs}
    with pytest.raises(exc, match=match):
        data.subsample_class(x, y, **args)
    with pytest.raises(ValueError, match="same number of examples"):
        data.subsample_class(x[:5], y, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) or \(N, 1\)"):
        data.subsample_class(x, torch.zeros(8, 2), 1.0, 0.5)
