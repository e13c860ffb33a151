"""The package functions of the chapter "Probabilities you can trust", against independent oracles.

Per-class recall and balanced accuracy against a confusion matrix counted in NumPy; logit adjustment against
``F.cross_entropy`` in float64, with gradients (gradcheck) and logits of +-1000; the long-tailed data maker's exact
counts; the ECE null distribution against ``expected_calibration_error`` on the same coin flips; the bisection
``fit_temperature`` against a dense grid; the ``GumbelSoftmax`` layer in both modes.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from course_pkg.calibration import ece_null_distribution, expected_calibration_error, fit_temperature
from course_pkg.data import make_long_tailed
from course_pkg.gumbel import GumbelSoftmax
from course_pkg.losses import cross_entropy, logit_adjusted_cross_entropy
from course_pkg.metrics import accuracy, balanced_accuracy, per_class_recall
from course_pkg.plotting import plot_reliability_diagram
from course_pkg.transforms import adjust_logits

F64 = torch.float64
settings.register_profile("trustworthy", max_examples=40, deadline=None, derandomize=True, database=None)


# ---------------------------------------------------------------- metrics

def _confusion_oracle(pred, target, c):
    m = np.zeros((c, c), dtype=np.int64)
    for p, t in zip(pred.tolist(), target.tolist()):
        m[t, p] += 1
    rows = m.sum(axis=1)
    return [m[j, j] / rows[j] if rows[j] else math.nan for j in range(c)]


@settings(settings.get_profile("trustworthy"))
@given(st.integers(1, 60), st.integers(1, 6), st.integers(0, 2 ** 31 - 1))
def test_per_class_recall_and_balanced_accuracy_match_a_confusion_matrix(n, c, seed):
    g = torch.Generator().manual_seed(seed)
    pred, target = torch.randint(0, c, (n,), generator=g), torch.randint(0, c, (n,), generator=g)
    oracle = _confusion_oracle(pred, target, c)
    got = per_class_recall(pred, target, c)
    assert len(got) == c
    for a, b in zip(got, oracle):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-15)
    present = [r for r in oracle if not math.isnan(r)]
    assert balanced_accuracy(pred, target, c) == pytest.approx(sum(present) / len(present), abs=1e-15)


def test_balanced_accuracy_equals_accuracy_on_a_balanced_set_and_not_otherwise():
    target = torch.arange(12) % 3                       # four of each class
    pred = torch.tensor([0, 1, 2, 0, 0, 0, 1, 2, 2, 1, 1, 0])
    assert balanced_accuracy(pred, target, 3) == pytest.approx(accuracy(pred, target), abs=1e-15)
    skewed = torch.tensor([0] * 9 + [1])
    assert accuracy(torch.zeros(10, dtype=torch.int64), skewed) == 0.9
    assert balanced_accuracy(torch.zeros(10, dtype=torch.int64), skewed, 2) == 0.5


def test_recall_labels_of_other_dtypes_and_absent_classes():
    assert per_class_recall(torch.tensor([0.0, 1.0]), torch.tensor([0, 1], dtype=torch.int32), 3)[:2] == [1.0, 1.0]
    assert math.isnan(per_class_recall(torch.tensor([0, 1]), torch.tensor([0, 1]), 3)[2])
    assert math.isnan(balanced_accuracy(torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64), 2))
    with pytest.raises(ValueError, match=r"target must hold class indices in 0..1"):
        per_class_recall(torch.tensor([0, 1]), torch.tensor([0, 2]), 2)
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        balanced_accuracy(torch.tensor([0]), torch.tensor([0]), 0)
    with pytest.raises(ValueError, match="pred must hold labels"):
        per_class_recall(torch.tensor([0.5]), torch.tensor([0]), 2)


# ---------------------------------------------------------------- logit adjustment

def _log_prior(counts, dtype=F64):
    c = torch.tensor(counts, dtype=F64)
    return (c / c.sum()).log().to(dtype)


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_logit_adjusted_loss_matches_cross_entropy_on_shifted_logits(tau):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(40, 5, generator=g, dtype=F64) * 4
    y = torch.randint(0, 5, (40,), generator=g)
    lp = _log_prior([500, 200, 60, 20, 5])
    expected = F.cross_entropy(z + tau * lp, y)
    assert abs(logit_adjusted_cross_entropy(z, y, lp, tau) - expected).item() < 1e-12
    # probability targets work too (as for cross_entropy)
    q = torch.softmax(torch.randn(40, 5, generator=g, dtype=F64), dim=1)
    assert abs(logit_adjusted_cross_entropy(z, q, lp, tau) - F.cross_entropy(z + tau * lp, q)).item() < 1e-12
    # post hoc adjustment is the opposite shift, on every logit
    assert torch.equal(adjust_logits(z, lp, tau), z - tau * lp)


def test_logit_adjusted_loss_gradcheck_extremes_and_dtype():
    lp = _log_prior([90, 9, 1])
    z = (torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=F64) * 3).requires_grad_(True)
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    assert torch.autograd.gradcheck(lambda t: logit_adjusted_cross_entropy(t, y, lp, 1.5), (z,))
    big = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]], requires_grad=True)
    loss = logit_adjusted_cross_entropy(big, torch.tensor([1, 0]), lp.float())
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss) and torch.isfinite(big.grad).all()
    reference = F.cross_entropy(big.detach().double() + lp, torch.tensor([1, 0]))
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)
    # float64 log prior with float32 logits: the result keeps the logits' dtype
    assert adjust_logits(torch.zeros(2, 3), lp).dtype == torch.float32


def test_where_the_prior_goes_matters():
    """The misreadings of logit adjustment are different functions (or none at all)."""
    g = torch.Generator().manual_seed(2)
    z, y = torch.randn(30, 4, generator=g, dtype=F64), torch.randint(0, 4, (30,), generator=g)
    lp = _log_prior([100, 30, 10, 3])
    right = logit_adjusted_cross_entropy(z, y, lp)
    same_per_row = cross_entropy(z + lp[y].unsqueeze(1), y)            # one number per row: cancels
    true_only = cross_entropy(z + F.one_hot(y, 4) * lp[y].unsqueeze(1), y)
    assert abs(same_per_row - cross_entropy(z, y)).item() < 1e-12
    assert abs(true_only - right).item() > 0.1 and abs(right - cross_entropy(z, y)).item() > 0.1
    # an unnormalised log prior (log counts) gives the same loss: a common shift changes nothing
    counts = torch.tensor([100.0, 30.0, 10.0, 3.0], dtype=F64)
    assert abs(logit_adjusted_cross_entropy(z, y, counts.log()) - right).item() < 1e-12


def test_adjusted_softmax_divides_out_the_prior():
    p_train = torch.tensor([[0.6, 0.3, 0.1]], dtype=F64)
    prior = torch.tensor([0.7, 0.2, 0.1], dtype=F64)
    balanced = torch.softmax(adjust_logits(p_train.log(), prior.log()), dim=1)
    expected = (p_train / prior) / (p_train / prior).sum()
    assert torch.allclose(balanced, expected, atol=1e-15)


def test_adjustment_bad_inputs():
    z = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"log_prior must have shape \(C,\) = \(3,\)"):
        adjust_logits(z, torch.zeros(2))
    with pytest.raises(ValueError, match="log_prior must be finite"):
        adjust_logits(z, torch.tensor([0.0, -math.inf, 0.0]))
    with pytest.raises(ValueError, match="looks like probabilities"):
        adjust_logits(z, torch.tensor([0.5, 0.3, 0.2]))
    with pytest.raises(ValueError, match="tau must be >= 0"):
        logit_adjusted_cross_entropy(z, torch.tensor([0, 1]), torch.zeros(3), tau=-1.0)
    with pytest.raises(ValueError, match="0..2"):
        logit_adjusted_cross_entropy(z, torch.tensor([0, 3]), torch.zeros(3))


# ---------------------------------------------------------------- data

def test_make_long_tailed_counts_priors_and_determinism():
    x, y = make_long_tailed(1200)
    counts = torch.bincount(y).tolist()
    assert counts == [754, 284, 107, 40, 15] and x.shape == (1200, 2) and y.dtype == torch.int64
    prior = 50.0 ** (-torch.arange(5, dtype=F64) / 4)
    assert counts == torch.round(1200 * prior / prior.sum()).long().tolist()
    assert counts[0] / counts[-1] == pytest.approx(50, rel=0.02)
    assert bool((y[1:] >= y[:-1]).all())                                    # sorted by class
    xb, yb = make_long_tailed(1000, balanced=True, seed=1)
    assert torch.bincount(yb).tolist() == [200] * 5
    # class means on the unit circle, noise as asked
    xa, ya = make_long_tailed(20000, imbalance=1.0, noise=0.3, seed=2)
    means = torch.stack([xa[ya == j].mean(0) for j in range(5)])
    angle = 2 * math.pi * torch.arange(5) / 5
    assert torch.allclose(means, torch.stack([torch.cos(angle), torch.sin(angle)], 1), atol=0.02)
    assert (xa - means[ya]).std().item() == pytest.approx(0.3, rel=0.02)
    x1, y1 = make_long_tailed(300, seed=4)
    x2, y2 = make_long_tailed(300, seed=4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    # a tiny set keeps at least one example of every class
    assert torch.bincount(make_long_tailed(20, imbalance=100.0)[1]).min().item() >= 1
    with pytest.raises(ValueError, match="imbalance must be a finite number >= 1"):
        make_long_tailed(100, imbalance=0.5)
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        make_long_tailed(100, num_classes=1)


# ---------------------------------------------------------------- calibration

def test_ece_null_distribution_matches_ece_on_the_same_coins():
    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(torch.randn(250, 4, generator=g, dtype=F64) * 2, dim=1)
    null = ece_null_distribution(probs, n_bins=10, draws=20, generator=torch.Generator().manual_seed(9))
    coins = torch.rand((20, 250), generator=torch.Generator().manual_seed(9), dtype=F64)
    conf, pred = probs.max(dim=1)
    for d in range(20):
        correct = coins[d] < conf
        labels = torch.where(correct, pred, (pred + 1) % 4)               # a wrong label where the coin says so
        assert null[d].item() == pytest.approx(expected_calibration_error(probs, labels, 10).item(), abs=1e-12)


def test_ece_null_distribution_shrinks_with_n_and_is_exact_for_one_bin():
    p = torch.tensor([[0.8, 0.2]], dtype=F64)
    means = [ece_null_distribution(p.expand(n, 2), n_bins=5, draws=4000,
                                   generator=torch.Generator().manual_seed(0)).mean().item() for n in (25, 400)]
    # one bin: ECE = |k/n - 0.8| with k ~ Binomial(n, 0.8); E|k/n - 0.8| ~ sqrt(2 p (1 - p) / (pi n))
    for n, mean in zip((25, 400), means):
        assert mean == pytest.approx(math.sqrt(2 * 0.8 * 0.2 / (math.pi * n)), rel=0.12)
    assert means[1] < means[0] / 3
    a = ece_null_distribution(p.expand(10, 2), draws=5, generator=torch.Generator().manual_seed(1))
    b = ece_null_distribution(p.expand(10, 2), draws=5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.dtype == F64 and a.shape == (5,)
    with pytest.raises(ValueError, match="draws must be a positive int"):
        ece_null_distribution(p, draws=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        ece_null_distribution(p, generator=0)


def test_fit_temperature_matches_a_dense_grid_and_refuses_impossible_fits():
    g = torch.Generator().manual_seed(5)
    z = torch.randn(500, 4, generator=g, dtype=F64) * 5
    y = torch.multinomial(torch.softmax(z / 2.5, dim=1), 1, generator=g).squeeze(1)
    T = fit_temperature(z, y)
    grid = torch.linspace(1.5, 4.0, 5001, dtype=F64)                      # steps of 5e-4
    log_p = torch.log_softmax(z / grid.view(-1, 1, 1), dim=2)
    nll = -log_p.gather(2, y.view(1, -1, 1).expand(len(grid), -1, 1)).mean(dim=(1, 2))
    assert T == pytest.approx(grid[nll.argmin()].item(), abs=5e-4)
    assert F.cross_entropy(z / T, y) <= nll.min() + 1e-12
    # float32 logits: the same T as their float64 copy
    assert fit_temperature(z.float(), y) == pytest.approx(fit_temperature(z.float().double(), y), rel=1e-12)
    with pytest.raises(ValueError, match="every label has the largest logit"):
        fit_temperature(torch.eye(3) * 5, torch.arange(3))
    with pytest.raises(ValueError, match="no better than chance"):
        fit_temperature(torch.zeros(4, 3), torch.tensor([0, 1, 2, 0]))


def test_reliability_diagram_writes_bin_counts():
    p = torch.tensor([[0.92, 0.08], [0.95, 0.05], [0.6, 0.4]], dtype=F64)
    y = torch.tensor([0, 1, 1])
    fig = plot_reliability_diagram({"a": (p, y), "b": (p, y)}, n_bins=10)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "2"]   # the legend says what the numbers are
    assert len(fig.legends) == 1 and fig.axes[0].get_legend() is None   # one shared legend below the panels
    assert len(plot_reliability_diagram({"a": (p, y)}, n_bins=10, show_counts=False).axes[0].texts) == 0
    with pytest.raises(TypeError, match="show_counts must be a bool"):
        plot_reliability_diagram({"a": (p, y)}, show_counts="yes")


# ---------------------------------------------------------------- the Gumbel-softmax layer

def test_gumbel_softmax_layer_samples_in_training_and_takes_the_argmax_in_evaluation():
    z = torch.tensor([1.0, 0.0, -1.0, 2.0], dtype=F64)
    layer = GumbelSoftmax(tau=0.7, seed=0)
    samples = layer(z.expand(20000, 4))                                   # training mode by default
    assert torch.equal(samples.sum(1), torch.ones(20000, dtype=F64))
    assert bool(((samples == 0) | (samples == 1)).all())
    counts = samples.sum(0).numpy()
    expected = 20000 * torch.softmax(z, 0).numpy()
    assert chi2.sf(((counts - expected) ** 2 / expected).sum(), df=3) > 0.001
    # fresh noise at every call, repeatable from the seed
    assert not torch.equal(layer(z.expand(50, 4)), layer(z.expand(50, 4)))
    assert torch.equal(GumbelSoftmax(seed=3)(z.expand(50, 4)), GumbelSoftmax(seed=3)(z.expand(50, 4)))
    # the gradient of the relaxed sample reaches the logits in training mode
    leaf = z.expand(8, 4).clone().requires_grad_(True)
    (layer(leaf) * torch.arange(4.0, dtype=F64)).sum().backward()
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0
    # evaluation: deterministic one-hot argmax, first index on ties, same dtype
    layer.eval()
    ties = torch.tensor([[0.0, 2.0, 2.0], [5.0, 1.0, 0.0]], dtype=torch.float32)
    assert layer(ties).tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]] and layer(ties).dtype == torch.float32
    soft = GumbelSoftmax(tau=1.0, hard=False, seed=0)(z.expand(5, 4))
    assert bool(((soft > 0) & (soft < 1)).all())
    assert "tau=0.7" in repr(layer)
    with pytest.raises(ValueError, match="tau must be > 0"):
        GumbelSoftmax(tau=0.0)
    with pytest.raises(TypeError, match="hard must be a bool"):
        GumbelSoftmax(hard=1)


def test_bar_legend_below_the_axes():
    from course_pkg.plotting import plot_bars
    fig = plot_bars({"a": {"x": 0.5, "y": 0.7}, "b": {"x": 0.2, "y": 0.1}}, annotate=False, legend_loc="below")
    assert len(fig.legends) == 1 and fig.axes[0].get_legend() is None
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["x", "y"] and len(fig.axes[0].texts) == 0
    assert plot_bars({"a": {"x": 0.5, "y": 0.7}}).axes[0].get_legend() is not None   # the default is unchanged


def test_mcnemar_test_handles_more_than_1023_discordant_pairs():
    """Chapter 11 compares models on 3000 test samples; 2.0 ** n overflowed past n = 1023 discordant pairs."""
    from course_pkg.metrics import mcnemar_test
    a = torch.zeros(3000, dtype=torch.bool)
    b = a.clone()
    a[:700], b[700:1400] = True, True
    assert mcnemar_test(a, b) == {"a_only": 700, "b_only": 700, "p_value": 1.0}
    a[:40] = False
    r = mcnemar_test(a, b)
    assert (r["a_only"], r["b_only"]) == (660, 700) and 0.2 < r["p_value"] < 0.4
    a[:600] = False
    assert 0 < mcnemar_test(a, b)["p_value"] < 1e-100
