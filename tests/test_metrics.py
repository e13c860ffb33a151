"""course_pkg.metrics against hand counts and SciPy's Wilson interval."""
import math

import pytest
import torch
from scipy.stats import binomtest

from course_pkg import metrics as M


def test_binary_counts():
    c = M.binary_counts(torch.tensor([1, 1, 0, 0, 1]), torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0]))
    assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (2, 1, 1, 1)
    assert c["precision"] == pytest.approx(2 / 3) and c["recall"] == pytest.approx(2 / 3)
    assert c["accuracy"] == pytest.approx(3 / 5)
    assert math.isnan(M.binary_counts(torch.zeros(3), torch.tensor([0.0, 1.0, 0.0]))["precision"])
    with pytest.raises(ValueError):
        M.binary_counts(torch.tensor([0.5]), torch.tensor([1.0]))
    with pytest.raises(ValueError):
        M.binary_counts(torch.zeros(3), torch.zeros(2))


def test_accuracy_on_labels_of_any_dtype():
    assert M.accuracy(torch.tensor([0, 2, 1, 1]), torch.tensor([0, 1, 1, 1])) == 0.75
    assert M.accuracy(torch.tensor([1.0, 0.0]), torch.tensor([1, 0])) == 1.0
    assert math.isnan(M.accuracy(torch.zeros(0), torch.zeros(0)))
    with pytest.raises(ValueError, match="decide labels first"):
        M.accuracy(torch.tensor([0.3, 0.9]), torch.tensor([0.0, 1.0]))   # probabilities are not labels


@pytest.mark.parametrize("k, n", [(0, 10), (10, 10), (24, 30), (3, 1000), (500, 1000), (1, 1)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_interval_matches_scipy(k, n, confidence):
    ref = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = M.wilson_interval(k, n, confidence)
    assert low == pytest.approx(ref.low, abs=1e-12) and high == pytest.approx(ref.high, abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_interval_coverage_counts_closed_intervals():
    lower = torch.tensor([0.0, 0.0, 0.0, 1.0, float("nan")])
    upper = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0])
    target = torch.tensor([0.0, 1.0, 1.5, 0.5, 0.5])
    # both ends count as inside; a crossed interval (lower > upper) and a NaN bound contain nothing
    assert M.interval_coverage(lower, upper, target) == (2, 5)
    inside, n = M.interval_coverage(torch.zeros(2, 3), torch.ones(2, 3), torch.full((2, 3), 0.5))
    assert (inside, n) == (6, 6)
    assert M.wilson_interval(inside, n)[1] == 1.0
    # gradients are irrelevant: tensors that require grad are fine
    assert M.interval_coverage(torch.zeros(3, requires_grad=True), torch.ones(3), torch.ones(3)) == (3, 3)


# --- paired comparisons -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("b_only, c_only", [(0, 0), (6, 0), (3, 9), (20, 11), (40, 41)])
def test_mcnemar_matches_scipy_binomtest(b_only, c_only):
    a = torch.tensor([1] * b_only + [0] * c_only + [1] * 5 + [0] * 3, dtype=torch.bool)
    b = torch.tensor([0] * b_only + [1] * c_only + [1] * 5 + [0] * 3, dtype=torch.bool)
    r = M.mcnemar_test(a, b)
    assert (r["a_only"], r["b_only"]) == (b_only, c_only)
    expected = 1.0 if b_only + c_only == 0 else binomtest(b_only, b_only + c_only, 0.5).pvalue
    assert r["p_value"] == pytest.approx(expected, rel=1e-12)


def test_mcnemar_handles_many_discordant_examples():
    """Tens of thousands of discordant pairs (chapter 8 compares ~80,000 triplets): no overflow, right p-value."""
    a = torch.tensor([1] * 30000 + [0] * 29000, dtype=torch.bool)
    r = M.mcnemar_test(a, ~a)
    assert r["p_value"] == pytest.approx(binomtest(29000, 59000, 0.5).pvalue, rel=1e-9)
    assert M.mcnemar_test(a[:2000], ~a[:2000])["p_value"] < 1e-300


def test_mcnemar_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="correct_a and correct_b"):
        M.mcnemar_test(torch.ones(3, dtype=torch.bool), torch.ones(4, dtype=torch.bool))


def test_paired_bootstrap_is_narrower_than_unpaired_on_correlated_scores():
    g = torch.Generator().manual_seed(1)
    base = torch.rand(500, generator=g, dtype=torch.float64)
    a, b = base + 0.01 * torch.randn(500, generator=g, dtype=torch.float64), base
    r = M.paired_bootstrap(a, b, seed=3)
    unpaired_se = math.sqrt(a.var() / 500 + b.var() / 500)
    assert r["low"] <= r["difference"] <= r["high"]
    assert r["se"] < unpaired_se / 5
    assert M.paired_bootstrap(a, b, seed=3) == r  # its own generator: repeatable


def test_paired_bootstrap_refuses_bad_input():
    with pytest.raises(ValueError, match="score_a and score_b"):
        M.paired_bootstrap(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="resamples"):
        M.paired_bootstrap(torch.ones(3), torch.ones(3), resamples=1)
