"""Chapter 7's conclusions, re-run over seeds (data and initial weights)."""
import pytest

from course_pkg.experiments import practices as experiment
from course_pkg.metrics import mcnemar_test

SEEDS = (0, 1, 2)
pytestmark = pytest.mark.claims


@pytest.mark.parametrize("seed", SEEDS)
def test_scale_is_a_shortcut_in_both_directions(seed):
    """Section 2: scaling never changes the order of any triplet; shrinking sends every triplet's loss to m, which
    raises the loss of well separated clusters but lowers the loss of random points; growing sends the loss of the
    clusters towards 0."""
    clusters = experiment.triplet_loss_under_scaling(seed, ordered=True)["rows"]
    points = experiment.triplet_loss_under_scaling(seed, ordered=False)["rows"]
    for rows in (clusters, points):
        assert len({fraction for _, _, fraction in rows}) == 1          # the order never changes
        assert abs(rows[0][1] - 1.0) < 1e-2                             # x 0.01: every triplet costs about m
    loss = {c: value for c, value, _ in clusters}
    assert loss[0.01] > loss[1.0] > loss[3.0] and loss[3.0] < 0.05     # shrinking raises it, growing lowers it
    loss = {c: value for c, value, _ in points}
    assert loss[1.0] > 2.0 and loss[0.01] < loss[1.0]                 # shrinking lowers it
    assert clusters[0][2] > 0.95 and points[0][2] < 0.75


@pytest.fixture(scope="module", params=SEEDS)
def modes(request):
    return experiment.train_mode_experiment(seed=request.param)


def test_train_mode_outputs_are_random_and_single_samples_fail(modes):
    """Section 4.3: in train mode the same inputs give different outputs, and a batch of one raises an error."""
    assert modes["spread"] > 0.1
    assert modes["batch_of_one_error"] is not None and "more than 1 value per channel" in modes["batch_of_one_error"]


def test_sorted_batches_and_overwritten_statistics_hurt(modes):
    """Section 4.3: a test set sorted by class, in batches of 10, is classified far worse than in eval mode; back in
    eval mode after those forward passes the model has lost much of its accuracy (both by McNemar's paired test on
    the same test points)."""
    correct = modes["correct"]
    assert modes["eval"] >= 0.9
    assert modes["sorted_batches"] < 0.5
    assert mcnemar_test(correct["eval"], correct["sorted_batches"])["p_value"] < 0.001
    assert modes["eval_after"] < modes["eval"] - 0.15
    paired = mcnemar_test(correct["eval"], correct["eval_after"])
    assert paired["a_only"] > paired["b_only"] and paired["p_value"] < 0.001


def test_reestimating_statistics_restores_accuracy(modes):
    """Section 4.3: re-estimating the running averages on shuffled training batches, without any gradient, brings
    the eval-mode accuracy back (within two points of the original)."""
    assert abs(modes["restored"] - modes["eval"]) <= 0.02
